"""Per-clip computations the metrics read, each owning its preprocessing and protocol:
`I3DFeatures` (FVD, KVD), `VGGishFeatures` (FAD), `SyncAnalysis` (event-sync), `AVAlignAnalysis`,
`AVSyncEncoderFeatures` (the suite-native encoders: avsync-fvd, avsync-fad, prompt accuracy).

Each has a `cache_id` that changes with everything its output depends on (protocol constants,
weights checksum), and `compute(clip) -> (dict of arrays, conversions)`. Results are cached on disk
by clip content + `cache_id` (`FeatureCache`), so an interrupted evaluation resumes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io import AVClip, resample_audio, to_channels
from .cache import FeatureCache, content_hash


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def mono_at(clip: AVClip, rate: int, conversions: list[str]) -> np.ndarray:
    """The clip's audio as mono at `rate` Hz `[N]`, noting what was converted."""
    audio = clip.audio
    if audio.shape[0] != 1:
        conversions.append(f"down-mixed {audio.shape[0]} channels to mono")
        audio = to_channels(audio, 1)
    if clip.sample_rate != rate:
        conversions.append(f"resampled audio {clip.sample_rate} -> {rate} Hz")
        audio = resample_audio(audio, clip.sample_rate, rate)
    return audio[0]


@dataclass
class Analysis:
    """Base: a named per-clip computation with a protocol."""

    name: str = ""
    protocol: dict = field(default_factory=dict)
    batchable: bool = False
    cache: FeatureCache | None = None  # set by the evaluation: where `video_part` keeps its results

    @property
    def cache_id(self) -> str:
        return f"{self.name}-{_digest(self.protocol)}"

    def video_part(self, clip: AVClip, compute) -> dict[str, np.ndarray]:
        """`compute(clip)` for a result that depends on the frames alone, cached by the decoded frames'
        hash: clips that share a picture (the audio variants of one video, every V2A model's output
        for one conditioning clip) pay for it once."""
        if self.cache is None:
            return compute(clip)
        key = hashlib.sha256(clip.video.tobytes() + np.float64(clip.fps).tobytes()).hexdigest()
        part = f"{self.cache_id}-video"
        hit = self.cache.get(part, key)
        if hit is None:
            hit = compute(clip)
            self.cache.put(part, key, hit)
        return hit

    def clip_key(self, media_key: str, text: dict[str, str]) -> str:
        """The cache key of one clip's result: its media's hash, and for an analysis that reads the
        clip's caption or transcript (`reads_text`), that text too."""
        reads = getattr(self, "reads_text", ())
        return media_key if not reads else f"{media_key}-{_digest({k: text.get(k) for k in reads})}"

    def compute(self, clip: AVClip) -> tuple[dict[str, np.ndarray], list[str]]:
        raise NotImplementedError


class I3DFeatures(Analysis):
    """One 400-d I3D logit vector per clip, preset as `ccl_bench.features.i3d.PRESETS`."""

    def __init__(self, preset: str = "videogpt", weights_dir=None, device: str = "cpu"):
        from .i3d import PRESETS

        if preset not in PRESETS:
            from ..errors import UnknownNameError

            raise UnknownNameError("FVD protocol", preset, list(PRESETS))
        self.preset = PRESETS[preset]
        self.weights_dir, self.device = weights_dir, device
        self._model, self._sha = None, None
        super().__init__(name=f"i3d-{preset}", protocol=self.preset.to_dict(), batchable=True)

    def load(self) -> None:
        """Verify and load the weights (raises `WeightsError` offline with what to place where)."""
        if self._model is not None:
            return
        from .. import weights
        from .i3d import InceptionI3d

        if self.preset.spatial == "inside-model":
            self._model, self._sha = weights.load_torchscript(self.preset.weights, self.weights_dir)
        else:
            state, self._sha = weights.load_state_dict(self.preset.weights, self.weights_dir)
            model = InceptionI3d(bn_eps=self.preset.bn_eps)
            own = model.state_dict()
            # Files saved before PyTorch 0.4.1 carry no BatchNorm `num_batches_tracked`; nothing reads it.
            missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
            unexpected = [k for k in state if k not in own]
            if missing or unexpected:
                from ..weights import WeightsError

                raise WeightsError(f"{self.preset.weights}: not the InceptionI3d layout (missing {missing[:3]}, "
                                   f"unexpected {unexpected[:3]})")
            model.load_state_dict(state, strict=False)
            self._model = model.eval()
        self._model.to(self.device)
        self.protocol = {**self.preset.to_dict(), "weights_sha256": self._sha,
                         "weights_check": weights.lookup(self.preset.weights).verified}

    @property
    def cache_id(self) -> str:
        self.load()
        return super().cache_id

    def prepare(self, clip: AVClip) -> tuple[Any, list[str]]:
        from .i3d import FRAMES, preprocess

        conv = []
        if clip.num_frames < FRAMES:
            conv.append(f"repeated the last frame ({clip.num_frames} < {FRAMES} frames)")
        return preprocess(clip.video, self.preset), conv

    def compute_batch(self, inputs: list) -> np.ndarray:
        import torch

        self.load()
        x = torch.stack(inputs).to(self.device)
        with torch.no_grad():
            if self.preset.spatial == "inside-model":
                y = self._model(x, rescale=True, resize=True, return_features=True)
            else:
                y = self._model(x)
        return y.float().cpu().numpy().astype(np.float64)

    def compute(self, clip):
        x, conv = self.prepare(clip)
        return {"features": self.compute_batch([x])}, conv


class VGGishFeatures(Analysis):
    """VGGish embeddings `[E, 128]`, one per 0.96 s example of the clip."""

    def __init__(self, weights_dir=None, device: str = "cpu"):
        from . import vggish as V

        self.weights_dir, self.device = weights_dir, device
        self._model, self._sha = None, None
        protocol = {"rate": V.RATE, "window": V.WINDOW, "hop": V.HOP, "fft": V.FFT, "mels": V.MELS,
                    "f_low": V.F_LOW, "f_high": V.F_HIGH, "log_offset": V.LOG_OFFSET, "example": V.EXAMPLE,
                    "embedding": "before the final ReLU, no PCA"}
        super().__init__(name="vggish", protocol=protocol)

    def load(self) -> None:
        if self._model is not None:
            return
        from .. import weights
        from .vggish import VGGish

        state, self._sha = weights.load_state_dict("vggish", self.weights_dir)
        model = VGGish()
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise weights.WeightsError(f"vggish: not the torchvggish layout ({str(exc).splitlines()[0]})") from None
        self._model = model.eval().to(self.device)
        self.protocol = {**self.protocol, "weights_sha256": self._sha, "weights_check": weights.lookup("vggish").verified}

    @property
    def cache_id(self) -> str:
        self.load()
        return super().cache_id

    def compute(self, clip):
        import torch

        from .vggish import RATE, log_mel_examples

        self.load()
        conv: list[str] = []
        ex = log_mel_examples(mono_at(clip, RATE, conv))
        if len(ex) == 0:
            conv.append("shorter than one 0.96 s example: no embedding")
            return {"features": np.zeros((0, 128))}, conv
        with torch.no_grad():
            emb = self._model(ex.to(self.device)).float().cpu().numpy().astype(np.float64)
        return {"features": emb}, conv


class SyncAnalysis(Analysis):
    """Audio onsets, visual events and both strength curves (`ccl_bench.features.onsets`)."""

    def __init__(self):
        from .onsets import HOP_S, RATE, RISE_FRAMES, SyncParams

        self.params = SyncParams()
        super().__init__(name="sync", protocol={"name": "ccl-event-sync-v1", "rate": RATE, "hop_s": HOP_S,
                                                "rise_frames": RISE_FRAMES, **self.params.to_dict()})

    def compute(self, clip):
        from . import onsets as S

        conv: list[str] = []
        audio = mono_at(clip, S.RATE, conv)

        def picture(c):
            vs = S.visual_strength(c.video, self.params)
            return {"events": S.events_from_strength(vs, c.fps, self.params), "photometric": vs.photometric,
                    "kinematic": vs.kinematic}

        return {"onsets": S.audio_onsets(audio, self.params), "onset_strength": S.onset_strength(audio),
                **self.video_part(clip, picture), "fps": np.array([clip.fps])}, conv


class AVAlignAnalysis(Analysis):
    """Audio peaks and the optical-flow trajectory of the AV-Align protocol (`ccl_bench.features.flow`);
    the video peaks are picked by each preset from the trajectory."""

    def __init__(self):
        from . import flow as A

        super().__init__(name="av-align", protocol={"name": "av-align-tempotokens", "audio_rate": A.AUDIO_RATE,
                                                    "farneback": list(A.FARNEBACK), "flow": "unrounded"})

    def compute(self, clip):
        from . import flow as A

        conv: list[str] = []
        if clip.audio.shape[0] != 1:
            conv.append(f"down-mixed {clip.audio.shape[0]} channels to mono")
        if clip.sample_rate != A.AUDIO_RATE:
            conv.append(f"resampled audio {clip.sample_rate} -> {A.AUDIO_RATE} Hz (soxr_hq, as librosa.load)")
        flow = self.video_part(clip, lambda c: {"flow": A.flow_trajectory(c.video)})
        return {"audio_peaks": A.audio_peaks(to_channels(clip.audio, 1)[0], clip.sample_rate), **flow,
                "fps": np.array([clip.fps])}, conv


class BackboneAnalysis(Analysis):
    """Base of the learned backbones (one loader file each): verifies and loads its weights file(s) once,
    and puts their checksums in the protocol (so the cache key changes with the weights).
    Subclasses set `weights_names` and implement `build(states) -> model`."""

    weights_names: tuple[str, ...] = ()

    def __init__(self, name: str, protocol: dict, weights_dir=None, device: str = "cpu"):
        self.weights_dir, self.device = weights_dir, device
        self._model = None
        super().__init__(name=name, protocol=protocol)

    def build(self, states: dict[str, dict]):
        raise NotImplementedError

    def load(self) -> None:
        """Verify and load (raises `WeightsError` with the file to place and where when one is missing)."""
        if self._model is not None:
            return
        from .. import weights

        states, shas = {}, {}
        for n in self.weights_names:
            if weights.lookup(n).fmt == "torchscript":  # e.g. OpenAI's CLIP archives: their weights are the state dict
                module, shas[n] = weights.load_torchscript(n, self.weights_dir)
                states[n] = module.state_dict()
            elif weights.lookup(n).fmt == "text":  # a tokenizer's files: their text
                states[n], shas[n] = weights.load_text(n, self.weights_dir)
            else:
                states[n], shas[n] = weights.load_state_dict(n, self.weights_dir)
        self._model = self.build(states)
        self.protocol = {**self.protocol, "weights_sha256": shas[self.weights_names[0]] if len(shas) == 1 else shas}

    @property
    def model(self):
        self.load()
        return self._model

    @property
    def cache_id(self) -> str:
        self.load()
        return super().cache_id


class AVSyncEncoderFeatures(BackboneAnalysis):
    """A suite-native encoder (`avsync_encoders`, protocol `ccl-avsync-features-v1`) over one clip:
    `features` `[1, 128]` (the mean embedding of its 2 s windows) and `pred_<head>` `[1]` (the class
    with the highest mean logit over the windows), for the heads of `avsync_labels.HEADS[modality]`."""

    def __init__(self, modality: str, weights_dir=None, device: str = "cpu"):
        from . import avsync_encoders as E

        if modality not in E.ENCODERS:
            raise ValueError(modality)
        self.modality = modality
        self.weights_names = (E.WEIGHTS[modality],)
        protocol = {"name": E.PROTOCOL, "modality": modality, "heads": list(E.HEADS[modality]), "window_s": E.DURATION_S,
                    "embedding": f"{E.EMBED}-d, before the ReLU that feeds the heads; mean over whole 2 s windows"}
        protocol.update({"fps": E.FPS, "size": E.SIZE, "frames": E.FRAMES} if modality == "video" else
                        {"rate": E.RATE, "fft": E.N_FFT, "hop": E.HOP, "mels": E.MELS, "f_min": E.F_MIN, "f_max": E.F_MAX,
                         "log_offset": E.LOG_OFFSET})
        super().__init__(f"avsync-{modality}", protocol, weights_dir, device)

    def build(self, states):
        from .avsync_encoders import encoder_from_state

        return encoder_from_state(self.modality, states[self.weights_names[0]]).to(self.device)

    def compute(self, clip):
        import torch

        from . import avsync_encoders as E

        self.load()
        if self.modality == "video":
            x, conv = E.video_input(clip.video, clip.fps)
        else:
            conv = []
            x, more = E.audio_input(mono_at(clip, E.RATE, conv))
            conv += more
        with torch.no_grad():
            emb, logits = self._model(x.to(self.device))
        out = {"features": emb.float().mean(0, keepdim=True).cpu().numpy().astype(np.float64)}
        for head, lg in logits.items():
            out[f"pred_{head}"] = np.array([int(lg.float().mean(0).argmax())])
        return out, conv


def _panns(weights_dir, device):
    from .panns import PANNsFeatures

    return PANNsFeatures(weights_dir, device)


def _passt(weights_dir, device):
    from .passt import PaSSTFeatures

    return PaSSTFeatures(weights_dir, device)


def _clip(preset):
    def make(weights_dir, device):
        from .clip_score import ClipScoreFeatures

        return ClipScoreFeatures(preset, weights_dir, device)

    return make


def _desync(preset):
    def make(weights_dir, device):
        from .synchformer import DeSyncFeatures

        return DeSyncFeatures(preset, weights_dir, device)

    return make


def _clap(preset):
    def make(weights_dir, device):
        from .clap import ClapFeatures

        return ClapFeatures(preset, weights_dir, device)

    return make


def _syncnet(weights_dir, device):
    from .syncnet import SyncNetFeatures

    return SyncNetFeatures(weights_dir, device)


def _whisper(size):
    def make(weights_dir, device):
        from .whisper_wer import WhisperWER

        return WhisperWER(size, weights_dir, device)

    return make


def _imagebind(preset):
    def make(weights_dir, device):
        from . import imagebind as IB

        if preset == "javisscore":
            return IB.JavisScoreFeatures(weights_dir, device)
        return IB.ImageBindFeatures(preset, weights_dir, device)

    return make


# Learned backbones by analysis name: (weights dir, device) -> Analysis. The metric registry names these.
BACKBONES = {"avsync-video": lambda wd, dev: AVSyncEncoderFeatures("video", wd, dev),
             "avsync-audio": lambda wd, dev: AVSyncEncoderFeatures("audio", wd, dev),
             "panns": _panns, "clip-javisbench": _clip("javisbench"), "clip-javisbench-cv2": _clip("javisbench-cv2"),
             **{f"synchformer-{p}": _desync(p) for p in ("av-benchmark", "javisbench", "versebench")},
             "syncnet": _syncnet, **{f"whisper-{s}": _whisper(s) for s in ("large-v3", "tiny.en")},
             **{f"imagebind-{p}": _imagebind(p) for p in ("av-benchmark", "javisbench", "javisscore")},
             **{f"clap-{p}": _clap(p) for p in ("fadtk-audio", "fadtk-music", "av-benchmark")}, "passt": _passt}


__all__ = ["BACKBONES", "AVAlignAnalysis", "AVSyncEncoderFeatures", "Analysis", "BackboneAnalysis", "FeatureCache",
           "I3DFeatures", "SyncAnalysis", "VGGishFeatures", "content_hash", "mono_at"]
