"""LAION-CLAP (Wu, Chen et al. 2023) without fusion: the HTS-AT audio encoder (a Swin transformer over a
log-mel image), RoBERTa-base for text (`roberta.py`), and two-layer projections into a shared 512-d space,
written from the published definition so that the official checkpoints load under their own keys
(`module.` prefix of the training wrapper dropped; `text_branch.embeddings.position_ids`, a constant
`arange` some copies hold and fadtk sets to 0, ignored).

Checkpoints (the `lukewys/laion_clap` hub repository):
- `630k-audioset-best.pt`: HTSAT-tiny (width 96, depths 2-2-6-2), fadtk's `clap-laion-audio`;
- `music_audioset_epoch_15_esc_90.14.pt`: HTSAT-base (width 128, depths 2-2-12-2), fadtk's `clap-laion-music`;
- `music_speech_audioset_epoch_15_esc_89.98.pt`: HTSAT-base, av-benchmark's LAION-CLAP score.

HTS-AT front end (torchlibrosa, stored in the checkpoint): 48 kHz, 1024-sample periodic Hann frames every
480 samples, centred with reflection, power, 64 Slaney mels 50-14000 Hz, `10 log10(max(x, 1e-10))`, then
BatchNorm per mel band. A 10 s input has 1001 frames; they are stretched to 1024 (bicubic, corners
aligned) and folded into a 256 x 256 image (four 256-frame strips stacked along frequency). Patches 4 x 4
-> 64 x 64 tokens, four Swin stages (window 8, shifted by 4 in every second block; patch merging between
stages) -> 8 x 8 tokens; LayerNorm; their mean is the audio embedding (768-d tiny, 1024-d base), then
`Linear-ReLU-Linear` to 512 and L2 normalisation. The classification head (`tscam_conv`, `head`) and the
training-only `*_transform` MLPs are loaded but unused.

Presets (`PRESETS`):
- `fadtk-audio` / `fadtk-music` (fadtk `clap-laion-audio` / `-music`, FAD): mono 48 kHz; the int16 round
  trip fadtk applies (`trunc(clip(x, -1, 1) * 32767) / 32767`); 10 s windows starting every 1 s up to
  the end, each zero-padded to 10 s: a clip of N samples has `ceil(N / 48000)` windows; the embeddings are
  rounded to float16, as fadtk stores them before its Frechet distance.
- `av-benchmark` (LAION-CLAP score): mono, DC removed, 48 kHz, the first 8 s; under 10 s it is repeated
  `floor(480000 / N)` times and zero-padded to 10 s (LAION-CLAP's `repeatpad`); one embedding per clip;
  the caption through the tokenizer; score = cosine(text, audio), raw in [-1, 1].
fadtk converts files to 48 kHz 16-bit with SoX first; ccl-bench resamples with torchaudio (as av-benchmark)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import BackboneAnalysis, mono_at
from .layers import Mlp
from .logmel import LogMel, LogMelFrontEnd, LogMelSpec, Spectrogram
from .roberta import CONTEXT, ByteLevelBPE, RobertaConfig, RobertaModel

RATE = 48000
WINDOW = 1024  # samples; also the FFT size
HOP = 480
MELS = 64
F_MIN, F_MAX = 50.0, 14000.0
FRONT_END = LogMelSpec(RATE, WINDOW, HOP, MELS, F_MIN, F_MAX)  # torchlibrosa's, stored in the checkpoint
CLIP_SAMPLES = 480000  # 10 s: the encoder's input
SPEC = 256  # the Swin image side
FREQ_RATIO = SPEC // MELS  # 4 time strips stacked along frequency
CLASSES = 527
JOINT = 512  # the shared text-audio space


@dataclass(frozen=True)
class HTSATConfig:
    width: int = 96  # tokens' width in the first stage; doubles at each of the three merges
    depths: tuple[int, ...] = (2, 2, 6, 2)
    heads: tuple[int, ...] = (4, 8, 16, 32)
    window: int = 8
    patch: int = 4
    mlp_ratio: float = 4.0

    @property
    def features(self) -> int:
        return self.width * 2 ** (len(self.depths) - 1)


AUDIO_MODELS = {"HTSAT-tiny": HTSATConfig(), "HTSAT-base": HTSATConfig(width=128, depths=(2, 2, 12, 2))}


def fold_to_image(mel: torch.Tensor) -> torch.Tensor:
    """`[B, 1, T, 64]` log-mel (T <= 1024) -> `[B, 1, 256, 256]`: time stretched to 1024 frames (bicubic,
    corners aligned), then cut into four 256-frame strips stacked along frequency (strip 0 on top)."""
    if mel.shape[2] < SPEC * FREQ_RATIO:
        mel = F.interpolate(mel, (SPEC * FREQ_RATIO, mel.shape[3]), mode="bicubic", align_corners=True)
    b = mel.shape[0]
    x = mel.transpose(2, 3).reshape(b, 1, MELS, FREQ_RATIO, SPEC)  # [B, 1, F, strip, t]
    return x.permute(0, 1, 3, 2, 4).reshape(b, 1, FREQ_RATIO * MELS, SPEC)


# ---- the Swin transformer ---------------------------------------------------------------------------

def windows_of(x: torch.Tensor, w: int) -> torch.Tensor:
    """`[B, H, W, C]` -> `[B * H/w * W/w, w * w, C]` (row-major windows)."""
    b, h, wd, c = x.shape
    return x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def merge_windows(x: torch.Tensor, w: int, h: int, wd: int) -> torch.Tensor:
    c = x.shape[-1]
    return x.view(-1, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, h, wd, c)


def relative_position_index(w: int) -> torch.Tensor:
    """`[w*w, w*w]`: for tokens i, j of a window, the row of the bias table for their offset
    `(dy + w - 1) * (2w - 1) + (dx + w - 1)`."""
    yy, xx = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    y, x = yy.flatten(), xx.flatten()
    return (y[:, None] - y[None] + w - 1) * (2 * w - 1) + (x[:, None] - x[None] + w - 1)


def shift_mask(res: int, w: int, shift: int) -> torch.Tensor:
    """`[windows, w*w, w*w]`: 0 between tokens of the same region of the rolled image, -100 across
    regions (so a shifted window never attends across the wrap-around)."""
    region = torch.zeros(1, res, res, 1)
    cuts = (slice(0, -w), slice(-w, -shift), slice(-shift, None))
    for k, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
        region[:, hs, ws, :] = k
    r = windows_of(region, w).squeeze(-1)
    diff = r[:, None, :] - r[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class WindowAttention(nn.Module):
    """Multi-head attention inside each window, with a learned bias per relative offset and head."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.heads = heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        bias = bias[None]
        if mask is not None:  # [windows, n, n]: the same for every clip of the batch
            bias = (bias + mask[:, None]).repeat(bw // mask.shape[0], 1, 1, 1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(y.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """Pre-norm window attention and MLP, each residual; every second block rolls the token grid by
    half a window first (and back after), so windows of consecutive blocks overlap."""

    def __init__(self, dim: int, res: int, heads: int, window: int, shifted: bool, mlp_ratio: float):
        super().__init__()
        self.res = res
        self.window = min(window, res)
        self.shift = window // 2 if shifted and res > window else 0  # a grid of one window is never shifted
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, self.window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", shift_mask(res, self.window, self.shift) if self.shift else None)

    def forward(self, x):
        b, n, c = x.shape
        h = self.norm1(x).view(b, self.res, self.res, c)
        if self.shift:
            h = torch.roll(h, (-self.shift, -self.shift), (1, 2))
        h = self.attn(windows_of(h, self.window), self.attn_mask)
        h = merge_windows(h, self.window, self.res, self.res)
        if self.shift:
            h = torch.roll(h, (self.shift, self.shift), (1, 2))
        x = x + h.reshape(b, n, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2 x 2 neighbouring tokens -> one of twice the width (concatenated in the order (0,0), (1,0),
    (0,1), (1,1), normalised, linearly reduced)."""

    def __init__(self, dim: int, res: int):
        super().__init__()
        self.res = res
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):
        b, _, c = x.shape
        x = x.view(b, self.res, self.res, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinStage(nn.Module):
    def __init__(self, dim: int, res: int, depth: int, heads: int, cfg: HTSATConfig, merge: bool):
        super().__init__()
        self.blocks = nn.ModuleList(SwinBlock(dim, res, heads, cfg.window, i % 2 == 1, cfg.mlp_ratio) for i in range(depth))
        self.downsample = PatchMerging(dim, res) if merge else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    def __init__(self, cfg: HTSATConfig):
        super().__init__()
        self.proj = nn.Conv2d(1, cfg.width, cfg.patch, stride=cfg.patch)
        self.norm = nn.LayerNorm(cfg.width)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class HTSAT(LogMelFrontEnd, nn.Module):
    """`[B, 480000]` 48 kHz audio -> the mean of the last stage's normalised tokens `[B, cfg.features]`."""

    def __init__(self, cfg: HTSATConfig = HTSATConfig()):
        super().__init__()
        self.spectrogram_extractor = Spectrogram(FRONT_END)
        self.logmel_extractor = LogMel(FRONT_END)
        self.bn0 = nn.BatchNorm2d(MELS)
        self.patch_embed = PatchEmbed(cfg)
        grid = SPEC // cfg.patch
        self.layers = nn.ModuleList(
            SwinStage(cfg.width * 2**i, grid // 2**i, d, h, cfg, merge=i < len(cfg.depths) - 1)
            for i, (d, h) in enumerate(zip(cfg.depths, cfg.heads, strict=True)))
        self.norm = nn.LayerNorm(cfg.features)
        # The AudioSet tagging head (token-semantic module): part of the checkpoint, not of the embedding.
        sf = SPEC // 2 ** (len(cfg.depths) - 1) // cfg.patch // FREQ_RATIO
        self.tscam_conv = nn.Conv2d(cfg.features, CLASSES, (sf, 3), padding=(0, 1))
        self.head = nn.Linear(CLASSES, CLASSES)

    def forward(self, audio):
        x = self.log_mel(audio)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        x = self.patch_embed(fold_to_image(x))
        for stage in self.layers:
            x = stage(x)
        return self.norm(x).mean(dim=1)  # the mean over all tokens is the reference's `embedding`


def projection(cin: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, JOINT), nn.ReLU(), nn.Linear(JOINT, JOINT))


class TrainingMLP(nn.Module):
    """The `audio_transform` / `text_transform` MLPs of training (Linear, ReLU, Dropout, Linear): loaded, unused."""

    def __init__(self):
        super().__init__()
        self.sequential = nn.Sequential(nn.Linear(JOINT, JOINT), nn.ReLU(), nn.Dropout(0.1), nn.Linear(JOINT, JOINT))


class CLAP(nn.Module):
    """The contrastive pair of encoders. `audio_embedding([B, 480000])` and `text_embedding(ids, mask)`
    -> unit vectors `[B, 512]`."""

    def __init__(self, audio: HTSATConfig = HTSATConfig(), text: RobertaConfig | None = None):
        super().__init__()
        text = text or RobertaConfig()
        self.audio_branch = HTSAT(audio)
        self.text_branch = RobertaModel(text)
        self.audio_projection = projection(audio.features)
        self.text_projection = projection(text.width)
        self.audio_transform, self.text_transform = TrainingMLP(), TrainingMLP()
        self.logit_scale_a = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        self.logit_scale_t = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def audio_embedding(self, audio: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio_projection(self.audio_branch(audio)), dim=-1)

    def text_embedding(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_projection(self.text_branch(ids, mask)), dim=-1)


IGNORED_KEYS = ("text_branch.embeddings.position_ids",)


def official_state(state: dict) -> dict:
    """A LAION-CLAP checkpoint's state dict (inside `state_dict`) -> this module's keys: the DDP `module.`
    prefix dropped, the constant `position_ids` left out."""
    out = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in out.items() if k not in IGNORED_KEYS}


# ---- presets and preprocessing ---------------------------------------------------------------------

@dataclass(frozen=True)
class ClapPreset:
    name: str
    weights: str  # registry name of the checkpoint
    audio_model: str  # key of AUDIO_MODELS
    windows: str  # "fadtk": 10 s windows every 1 s | "clip": one repeat-padded input per clip
    quantize: bool  # fadtk's int16 round trip
    remove_dc: bool  # av-benchmark subtracts the mean
    max_seconds: float | None = None  # the clip is cut to this first
    toolkit: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "fadtk-audio": ClapPreset("fadtk-audio", "clap-630k-audioset", "HTSAT-tiny", "fadtk", True, False,
                              toolkit="fadtk clap-laion-audio"),
    "fadtk-music": ClapPreset("fadtk-music", "clap-music-audioset", "HTSAT-base", "fadtk", True, False,
                              toolkit="fadtk clap-laion-music"),
    "av-benchmark": ClapPreset("av-benchmark", "clap-music-speech-audioset", "HTSAT-base", "clip", False, True,
                               max_seconds=8.0, toolkit="av-benchmark LAION-CLAP score"),
}


def quantize_int16(x: np.ndarray) -> np.ndarray:
    """fadtk's round trip: `trunc(clip(x, -1, 1) * 32767) / 32767` in float32."""
    q = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
    return (q / 32767.0).astype(np.float32)


def fadtk_windows(audio: np.ndarray) -> np.ndarray:
    """`[N]` 48 kHz -> `[ceil(N / 48000), 480000]`: the 10 s windows starting at every whole second up to
    the end, each zero-padded to 10 s (fadtk's `clap-laion-*` chunks)."""
    starts = range(0, len(audio), RATE)
    out = np.zeros((len(starts), CLIP_SAMPLES), np.float32)
    for i, s in enumerate(starts):
        piece = audio[s : s + CLIP_SAMPLES]
        out[i, : len(piece)] = piece
    return out


def repeat_pad(audio: np.ndarray) -> np.ndarray:
    """`[N]`, 0 < N <= 480000 -> `[480000]`: LAION-CLAP's `repeatpad` (the clip repeated
    `floor(480000 / N)` times, then zeros)."""
    reps = np.tile(audio, CLIP_SAMPLES // len(audio))
    return np.pad(reps, (0, CLIP_SAMPLES - len(reps))).astype(np.float32)


def preprocess(audio48k: np.ndarray, preset: ClapPreset) -> np.ndarray:
    """Mono 48 kHz `[N]` (N > 0) -> the encoder's inputs `[W, 480000]` under the preset."""
    x = np.asarray(audio48k, np.float32)
    if preset.remove_dc:
        x = x - x.mean()
    if preset.max_seconds is not None:
        x = x[: int(RATE * preset.max_seconds)]
    if preset.quantize:
        x = quantize_int16(x)
    if preset.windows == "fadtk":
        return fadtk_windows(x)
    return repeat_pad(x)[None]


def build_clap(preset: ClapPreset, text: RobertaConfig | None = None, audio: HTSATConfig | None = None) -> CLAP:
    """Random weights in the preset's layout (`text`/`audio` override the sizes, for tests of the same code)."""
    return CLAP(audio or AUDIO_MODELS[preset.audio_model], text)


class ClapFeatures(BackboneAnalysis):
    """Per clip under a preset: windows presets -> `{"features": [W, 512]}` (fad-clap); the clip preset ->
    `{"score": [s]}`, the caption-audio cosine (empty without a caption; clap-score)."""

    def __init__(self, preset: str = "fadtk-audio", weights_dir=None, device: str = "cpu",
                 text: RobertaConfig | None = None, audio: HTSATConfig | None = None):
        self.preset, self.text_cfg, self.audio_cfg = PRESETS[preset], text, audio
        self.scores = self.preset.windows == "clip"
        self.weights_names = (self.preset.weights, "roberta-vocab", "roberta-merges") if self.scores else (self.preset.weights,)
        self.reads_text = ("caption",) if self.scores else ()
        self.tokenizer: ByteLevelBPE | None = None  # read from the weights folder with the checkpoint (clap-score)
        cfg = AUDIO_MODELS[self.preset.audio_model]
        protocol = {**self.preset.to_dict(), "name": f"laion-clap-{preset}", "rate": RATE, "window": WINDOW, "hop": HOP,
                    "mels": MELS, "f_min": F_MIN, "f_max": F_MAX, "encoder_input_s": CLIP_SAMPLES / RATE,
                    "audio_encoder": f"HTS-AT width {cfg.width}, depths {list(cfg.depths)}",
                    "embedding": "mean of the last stage's tokens, Linear-ReLU-Linear to 512, L2-normalised",
                    "min_samples": 1, **({} if self.preset.windows == "clip" else {"stored_as": "float16 (fadtk)"})}
        if self.scores:
            protocol.update(text="RoBERTa-base pooled <s>, Linear-ReLU-Linear to 512; byte-level BPE, 77 tokens",
                            value="cosine(caption, audio), raw (not x100)")
        super().__init__(f"clap-{preset}", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        model = load_into(build_clap(self.preset, self.text_cfg, self.audio_cfg), official_state(states[self.preset.weights]),
                          self.preset.weights)
        if self.scores:
            self.tokenizer = ByteLevelBPE.from_texts(states["roberta-vocab"], states["roberta-merges"])
        return model.eval().to(self.device)

    def embed_audio(self, inputs: np.ndarray, batch: int = 8) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(inputs), batch):
                x = torch.from_numpy(inputs[i : i + batch]).to(self.device)
                out.append(self.model.audio_embedding(x).double().cpu().numpy())
        return np.concatenate(out)

    def compute(self, clip):
        conv: list[str] = []
        caption = clip.metadata.get("caption") if self.scores else None
        if self.scores and not caption:
            return {"score": np.zeros(0)}, ["no caption (clap-score reads `caption` from the suite manifest)"]
        audio = mono_at(clip, RATE, conv)
        if len(audio) == 0:
            conv.append("no audio samples: no CLAP embedding")
            return ({"score": np.zeros(0)} if self.scores else {"features": np.zeros((0, JOINT))}), conv
        emb = self.embed_audio(preprocess(audio, self.preset))
        if not self.scores:  # fadtk stores (and so compares) its embeddings in float16
            return {"features": emb.astype(np.float16).astype(np.float64)}, conv
        if self.preset.max_seconds is not None and len(audio) > self.preset.max_seconds * RATE:
            conv.append(f"cut to the first {self.preset.max_seconds:g} s")
        ids, mask = self.tokenizer([caption], CONTEXT)
        with torch.no_grad():
            txt = self.model.text_embedding(ids.to(self.device), mask.to(self.device)).double().cpu().numpy()
        return {"score": np.array([float(emb[0] @ txt[0])])}, conv
