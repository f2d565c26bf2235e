"""Metric backbone weights: official file names, sources, checksums, a cache folder, offline errors.

Files live in `--weights-dir`, else `$CCL_BENCH_HOME/weights`, else `<user cache>/ccl-bench/weights`.
Nothing is downloaded unless asked (`ccl-bench weights fetch NAME`). Pickles and TorchScript files
are code, so a file's SHA-256 is checked before it is loaded:
- where the source publishes a checksum (or, as torch.hub files do, its first hex digits in the file
  name) the file must match it;
- where none is published, the checksum is recorded on the first verified use (in
  `checksums.json` beside the files) and every later use must match that record; `weights list`
  says which kind each file has.
- files shipped with ccl-bench (the suite-native encoders, `ccl_bench/features/weights/`) have their
  checksum pinned here; a copy in the weights folder is preferred where present, and checked alike.
A mismatch is refused; state dicts are read with `weights_only=True`, safetensors files run no code."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import CCLBenchError
from .paths import atomic_write

RECORD = "checksums.json"
SHIPPED_DIR = Path(__file__).resolve().parent / "features" / "weights"


@dataclass(frozen=True)
class WeightsFile:
    name: str  # registry name
    filename: str  # the official file name
    url: str
    source: str  # where the file is published
    used_by: str
    fmt: str  # "state-dict" (torch pickle) | "torchscript" | "safetensors" | "text" (UTF-8, e.g. a tokenizer's vocabulary)
    sha256: str | None = None  # published full checksum
    sha256_prefix: str | None = None  # published leading hex digits (torch.hub file-name convention)
    shipped: bool = False  # in SHIPPED_DIR (sha256 pinned here)
    md5: str | None = None  # published MD5 (Zenodo and GitHub releases publish MD5 only)

    @property
    def verified(self) -> str:
        """What a result says about the file: checked against a published checksum, or not."""
        if self.sha256 or self.sha256_prefix:
            return f"verified ({self.checksum_kind})"
        return "unverified (no published checksum; its sha256 was recorded on first use and is checked since)"

    @property
    def checksum_kind(self) -> str:
        if self.shipped:
            return "pinned sha256 (shipped with ccl-bench)"
        if self.sha256:
            return "published sha256"
        if self.sha256_prefix:
            return f"published sha256 prefix {self.sha256_prefix}"
        if self.md5:
            return f"published md5 {self.md5}"
        return "none published: recorded on first verified use"


REGISTRY: dict[str, WeightsFile] = {w.name: w for w in (
    WeightsFile("i3d-kinetics400", "i3d_pretrained_400.pt",
                "https://drive.google.com/uc?id=1mQK8KD8G6UWRa5t87SRMm5PVXtlpneJT",
                "VideoGPT (wilson1yan/VideoGPT, `_I3D_PRETRAINED_ID`), also used by MM-Diffusion and JavisBench",
                "FVD/KVD presets videogpt, javisbench, cd-fvd", "state-dict",
                # 50,939,526 bytes; from the Git LFS pointer of a public mirror of the Open-Sora-Plan v1.0.0 space.
                sha256="55095f049e706479d48e221adcdb145b2b9dc930ba28b081ed72367ffaa32343"),
    WeightsFile("i3d-torchscript", "i3d_torchscript.pt", "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",
                "StyleGAN-V (universome/stylegan-v), a TorchScript port of the tf-hub I3D",
                "FVD/KVD preset stylegan-v", "torchscript"),
    WeightsFile("vggish", "vggish-10086976.pth",
                "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
                "harritaylor/torchvggish release v0.1 (fadtk loads it through torch.hub)",
                "FAD preset vggish", "state-dict", sha256_prefix="10086976"),
    # md5 as Zenodo lists it for record 3987831 (read from a public project that quotes it; confirm on Zenodo).
    WeightsFile("panns-cnn14-16k", "Cnn14_16k_mAP=0.438.pth",
                "https://zenodo.org/records/3987831/files/Cnn14_16k_mAP%3D0.438.pth?download=1",
                "PANNs (qiuqiangkong/audioset_tagging_cnn), Zenodo record 3987831; av-benchmark's FD-PANN",
                "fd-panns", "state-dict", md5="362fc5ff18f1d6ad2f6d464b45893f2c"),
    # OpenAI's loader checks the file against the SHA-256 that names its folder in the URL.
    WeightsFile("clip-vit-b-32", "ViT-B-32.pt",
                "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/"
                "ViT-B-32.pt", "OpenAI CLIP (openai/CLIP `clip.load('ViT-B/32')` as JavisBench loads it; open_clip tag `openai`)",
                "clip-score", "torchscript", sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"),
    # md5 as the metric-protocol brief records it for MMAudio's release asset.
    WeightsFile("synchformer", "synchformer_state_dict.pth",
                "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth",
                "MMAudio release v0.1 (Synchformer AudioSet checkpoint 24-01-04T16-39-21 as a state dict); av-benchmark, "
                "JavisBench", "desync (presets av-benchmark, javisbench, versebench)", "state-dict",
                md5="5b2f5594b0730f70e41e549b7c94390c"),
    # LAION-CLAP (the `lukewys/laion_clap` hub repository; no checksum published beside the files).
    WeightsFile("clap-630k-audioset", "630k-audioset-best.pt",
                "https://huggingface.co/lukewys/laion_clap/resolve/main/630k-audioset-best.pt",
                "LAION-CLAP HTSAT-tiny, 630k + AudioSet, no fusion (lukewys/laion_clap); fadtk's clap-laion-audio",
                "fad-clap", "state-dict"),
    WeightsFile("clap-music-audioset", "music_audioset_epoch_15_esc_90.14.pt",
                "https://huggingface.co/lukewys/laion_clap/resolve/main/music_audioset_epoch_15_esc_90.14.pt",
                "LAION-CLAP HTSAT-base, music + AudioSet (lukewys/laion_clap); fadtk's clap-laion-music",
                "fad-clap@fadtk-music", "state-dict"),
    WeightsFile("clap-music-speech-audioset", "music_speech_audioset_epoch_15_esc_89.98.pt",
                "https://huggingface.co/lukewys/laion_clap/resolve/main/music_speech_audioset_epoch_15_esc_89.98.pt",
                "LAION-CLAP HTSAT-base, music + speech + AudioSet (lukewys/laion_clap); av-benchmark's LAION-CLAP score",
                "clap-score", "state-dict"),
    WeightsFile("passt-s-ap476", "passt-s-f128-p16-s10-ap.476-swa.pt",
                "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt",
                "PaSST-S AudioSet, SWA (kkoutini/PaSST release v0.0.1-audioset; hear21passt's default, as av-benchmark loads it)",
                "fd-passt", "state-dict"),
    # RoBERTa-base's byte-level BPE files, which LAION-CLAP's tokenizer reads (in a folder of their own:
    # other tokenizers ship files of the same names).
    WeightsFile("roberta-vocab", "roberta-base/vocab.json", "https://huggingface.co/FacebookAI/roberta-base/resolve/main/vocab.json",
                "FacebookAI/roberta-base (the tokenizer LAION-CLAP loads as `roberta-base`)", "clap-score", "text"),
    WeightsFile("roberta-merges", "roberta-base/merges.txt", "https://huggingface.co/FacebookAI/roberta-base/resolve/main/merges.txt",
                "FacebookAI/roberta-base (the tokenizer LAION-CLAP loads as `roberta-base`)", "clap-score", "text"),
    # syncnet_python's download_model.sh fetches it; no checksum is published (recorded on first use).
    WeightsFile("syncnet-v2", "syncnet_v2.model", "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
                "joonson/syncnet_python (download_model.sh; Oxford VGG), as Wav2Lip's LSE-C/D and LatentSync use it",
                "sync-c, sync-d (protocol syncnet-python)", "state-dict"),
    WeightsFile("s3fd", "sfd_face.pth", "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
                "joonson/syncnet_python (download_model.sh): the S3FD face detector of its pipeline",
                "sync-c, sync-d (face tracks)", "state-dict"),
    # openai-whisper's model table: the SHA-256 of each file is the folder name in its URL (its loader checks it).
    *(WeightsFile(f"whisper-{size}", f"{size}.pt", f"https://openaipublic.azureedge.net/main/whisper/models/{sha}/{size}.pt",
                  f"OpenAI Whisper (openai/whisper `_MODELS['{size}']`)", use, "state-dict", sha256=sha)
      for size, sha, use in (
          ("large-v3", "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb", "wer, wer@clip-mean"),
          ("tiny.en", "d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03", "wer@whisper-tiny.en"))),
    # No checksum is published for it; its sha256 is recorded on first verified use.
    WeightsFile("imagebind-huge", "imagebind_huge.pth", "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
                "ImageBind (facebookresearch/ImageBind `imagebind_huge(pretrained=True)`); av-benchmark, JavisBench",
                "ib-av, ib-av@javisbench, ib-tv, ib-ta, javisscore", "state-dict"),
    # Trained by benchmarks/train_avsync_features.py (results/features/avsync-encoders.json); retraining
    # changes these files, so their checksums here change with them.
    WeightsFile("avsync-video-encoder", "avsync_video_encoder.safetensors", "", "shipped in ccl_bench/features/weights",
                "avsync-fvd, prompt-accuracy-video (protocol ccl-avsync-features-v1)", "safetensors",
                sha256="cfcbd1ac4ef88c49375db0b87bd6f359735275cda20d3aa585286c6b99700fad", shipped=True),
    WeightsFile("avsync-audio-encoder", "avsync_audio_encoder.safetensors", "", "shipped in ccl_bench/features/weights",
                "avsync-fad, prompt-accuracy-audio (protocol ccl-avsync-features-v1)", "safetensors",
                sha256="1cda20b03ac65be9bef1d33dbbcef3ef8d57ff2a1ea68ba442c8d1222322e417", shipped=True),
)}


class WeightsError(CCLBenchError):
    """missing: for an absent file, (path to place it at, where it comes from)."""

    def __init__(self, message: str, missing: tuple[str, str] | None = None):
        super().__init__(message)
        self.missing = missing


def weights_dir(override: str | Path | None = None) -> Path:
    from .paths import weights_dir as resolve

    return resolve(override)


def lookup(name: str) -> WeightsFile:
    if name not in REGISTRY:
        from .errors import UnknownNameError

        raise UnknownNameError("weights file", name, list(REGISTRY))
    return REGISTRY[name]


def path_of(name: str, folder: str | Path | None = None) -> Path:
    """Where the file is looked for: the weights folder, or for a shipped file that folder's copy if
    present, else the shipped one."""
    w = lookup(name)
    path = weights_dir(folder) / w.filename
    if w.shipped and not path.is_file():
        return SHIPPED_DIR / w.filename
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _records(folder: Path) -> dict:
    p = folder / RECORD
    return json.loads(p.read_text()) if p.is_file() else {}


def _record(folder: Path, filename: str, digest: str) -> None:
    recs = _records(folder)
    recs[filename] = digest
    atomic_write(folder / RECORD, json.dumps(recs, indent=1, sort_keys=True))


def missing_message(w: WeightsFile, path: Path) -> str:
    return (f"weights file {w.filename} not found: place it at {path} (it comes from {w.url}; {w.source}), "
            f"or point --weights-dir / CCL_BENCH_HOME at a folder holding it, or run `ccl-bench weights fetch {w.name}` "
            "where the internet is reachable")


def verify(name: str, folder: str | Path | None = None) -> tuple[Path, str, str]:
    """-> (path, sha256, how it was checked). Raises `WeightsError` for a missing or mismatched file."""
    w, d = lookup(name), weights_dir(folder)
    path = path_of(name, folder)
    if not path.is_file():
        if w.shipped:
            raise WeightsError(f"{path}: shipped weights file missing (reinstall ccl-bench, or retrain it with "
                               "benchmarks/train_avsync_features.py)")
        raise WeightsError(missing_message(w, path), missing=(str(path), w.url))
    digest = sha256_of(path)
    if w.sha256 and digest != w.sha256:
        raise WeightsError(f"{path}: sha256 {digest} differs from the {'pinned' if w.shipped else 'published'} "
                           f"{w.sha256}; refusing to load it")
    if w.sha256_prefix and not digest.startswith(w.sha256_prefix):
        raise WeightsError(f"{path}: sha256 {digest[:16]}... does not start with the published {w.sha256_prefix}; "
                           "refusing to load it")
    if w.md5 and md5_of(path) != w.md5:
        raise WeightsError(f"{path}: md5 {md5_of(path)} differs from the published {w.md5}; refusing to load it")
    if w.sha256 or w.sha256_prefix or w.md5:
        return path, digest, w.checksum_kind
    recorded = _records(d).get(w.filename)
    if recorded is None:
        _check_format(path, w.fmt)  # never record the checksum of an error page or a truncated download
        _record(d, w.filename, digest)
        return path, digest, "recorded now (first use; the source publishes no checksum)"
    if recorded != digest:
        raise WeightsError(f"{path}: sha256 {digest} differs from the one recorded on first use ({recorded}, in "
                           f"{d / RECORD}); refusing to load it (delete that record if you replaced the file on purpose)")
    return path, digest, "matches the checksum recorded on first use"


def _numpy_scalars():
    """Let `torch.load(weights_only=True)` rebuild numpy scalars and dtypes (data, no code): training
    checkpoints hold them (LAION-CLAP's learning rates are numpy floats), pickled under numpy 1's
    `numpy.core` or numpy 2's `numpy._core` module."""
    import numpy as np
    import torch

    core = getattr(np, "_core", None) or np.core
    return torch.serialization.safe_globals([core.multiarray.scalar, (core.multiarray.scalar, "numpy.core.multiarray.scalar"),
                                             np.dtype, *{type(np.dtype(t)) for t in "?bBhHiIlLqQefdgFDG"}])


def _load_failure(exc: Exception) -> str:
    """The one informative line of a failed `torch.load(weights_only=True)` (the class it would have to run)."""
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(exc).splitlines() if ln.strip()]
    hit = next((ln for ln in lines if "Unsupported global" in ln or "Unpickler error" in ln), lines[0] if lines else "")
    return hit.split(" Please use")[0] or type(exc).__name__


def _check_format(path: Path, fmt: str) -> None:
    """A state dict must load with weights_only=True (which runs no code); TorchScript is a zip archive;
    a text file is UTF-8 and no HTML page."""
    import zipfile

    import torch

    why = ""
    if fmt == "torchscript":
        ok = zipfile.is_zipfile(path) and any(n.endswith("constants.pkl") for n in zipfile.ZipFile(path).namelist())
    elif fmt == "text":
        try:
            text = path.read_text(encoding="utf-8")
            ok = bool(text.strip()) and not text.lstrip().lower().startswith(("<!doctype", "<html"))
        except UnicodeDecodeError:
            ok = False
    else:
        try:
            with _numpy_scalars():
                ok = isinstance(torch.load(str(path), map_location="cpu", weights_only=True), dict)
        except Exception as exc:  # noqa: BLE001 - any failure means: not a state dict
            ok, why = False, ": " + _load_failure(exc)
    if not ok:
        kind = {"torchscript": "TorchScript archive", "text": "UTF-8 text file"}.get(fmt, "torch state dict readable "
                                                                                         "without running its code")
        raise WeightsError(f"{path}: not a {kind} (an error page or a truncated download?){why}; refusing to record "
                           "its checksum")


def load_state_dict(name: str, folder: str | Path | None = None) -> tuple[dict, str]:
    """A verified state-dict file -> (state dict, sha256)."""
    import torch

    path, digest, _ = verify(name, folder)
    if lookup(name).fmt == "safetensors":
        from safetensors.torch import load_file

        return load_file(str(path)), digest
    try:
        with _numpy_scalars():
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - e.g. a training checkpoint that pickles more than tensors
        raise WeightsError(f"{path}: cannot be read as a state dict without running its code: {_load_failure(exc)}") from None
    for wrapper in ("state_dict", "model"):  # training checkpoints keep the weights under one of these keys
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    return state, digest


def load_text(name: str, folder: str | Path | None = None) -> tuple[str, str]:
    """A verified text file (a tokenizer's vocabulary) -> (its text, sha256)."""
    path, digest, _ = verify(name, folder)
    return path.read_text(encoding="utf-8"), digest


def load_into(model, state: dict, name: str, skip: tuple[str, ...] = ("num_batches_tracked",)):
    """Copy a state dict into `model`, refusing one of another layout with the first differing keys or
    shapes named (keys ending in `skip` may be absent: old files lack BatchNorm counters). -> model."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(skip)]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise WeightsError(f"{lookup(name).filename}: not the expected layout (missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]}, shapes {shapes[:2]})")
    model.load_state_dict(state, strict=False)
    return model


def load_torchscript(name: str, folder: str | Path | None = None):
    """A verified TorchScript file -> (module in eval mode, sha256)."""
    import warnings

    import torch

    path, digest, _ = verify(name, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        return torch.jit.load(str(path), map_location="cpu").eval(), digest


def fetch(name: str, folder: str | Path | None = None, timeout: float = 30.0) -> Path:
    """Download a file into the weights folder (to a temporary name, verified, then renamed)."""
    w, d = lookup(name), weights_dir(folder)
    if w.shipped:  # nothing to download: it comes with ccl-bench
        return verify(name, folder)[0]
    path = d / w.filename
    path.parent.mkdir(parents=True, exist_ok=True)  # a file may sit in a folder of its own
    if path.is_file():
        verify(name, folder)
        return path

    def download(tmp: Path) -> None:
        with urllib.request.urlopen(w.url, timeout=timeout) as r, tmp.open("wb") as f:
            while block := r.read(1 << 20):
                f.write(block)

    try:
        atomic_write(path, download)
    except OSError as exc:
        raise WeightsError(f"cannot download {w.filename} from {w.url} ({exc}); {missing_message(w, path)}") from None
    try:
        verify(name, folder)
    except WeightsError:
        path.unlink(missing_ok=True)
        raise
    return path
