"""PaSST-S (Koutini et al. 2022, "Efficient Training of Audio Transformers with Patchout") for FD-PaSST
of av-benchmark, written from the published definition in the layout of the AudioSet checkpoint
`passt-s-f128-p16-s10-ap.476-swa.pt` (kkoutini/PaSST release v0.0.1-audioset; hear21passt's default
`passt_s_swa_p16_128_ap476`, which av-benchmark loads through `get_basic_model(mode="all")`):
`patch_embed.proj` (16 x 16 patches, stride 10 x 10), `cls_token`, `dist_token`, `new_pos_embed` (their two
positions), `freq_new_pos_embed` `[1, 768, 12, 1]` and `time_new_pos_embed` `[1, 768, 1, 99]` (separate
frequency and time positions, added to the patch grid), 12 ViT-B blocks (`blocks.{i}`), `norm`, and the
heads `head` (LayerNorm + Linear to 527) and `head_dist`.

Mel front end (hear21passt's `AugmentMelSTFT`, eval mode; no weights): pre-emphasis `x[n] - 0.97 x[n-1]`
(one sample shorter), STFT with an 800-sample symmetric Hann window centred in 1024-point frames every 320
samples (centred, reflection), power, 128 Kaldi-style triangular mel bands 0-15000 Hz (mel = 1127 ln(1 +
f / 700), the Nyquist bin weighted 0), `log(x + 1e-5)`, then `(x + 4.5) / 5`. 10 s at 32 kHz -> 1000
frames -> a 12 x 99 patch grid.

Embedding: the mean of the final-normed `cls` and `dist` tokens (768-d; av-benchmark's `features[:, 527:]`).

Protocol `av-benchmark`: mono, DC removed, 32 kHz, the first `max_seconds` (av-benchmark's `--audio_length`,
8 s for MMAudio's VGGSound runs), then zero-padded (or cut) to 10 s: one embedding per clip. Any clip with
at least one sample has one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import BackboneAnalysis, mono_at
from .layers import Mlp

RATE = 32000
INPUT_SAMPLES = 320000  # 10 s
N_FFT, WIN, HOP = 1024, 800, 320
MELS = 128
F_MIN, F_MAX = 0.0, 15000.0  # hear21passt: fmax = sr / 2 - fmax_aug_range / 2 (2000)
PREEMPHASIS = 0.97
LOG_OFFSET = 1e-5
CLASSES = 527
EMBEDDING = 768
MAX_SECONDS = 8.0


def kaldi_mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


@lru_cache(1)
def mel_banks() -> np.ndarray:
    """`[128, 513]` triangular filters, evenly spaced on the Kaldi mel scale between F_MIN and F_MAX,
    over the FFT bins `k * RATE / N_FFT`, k < 512 (the Nyquist bin gets weight 0)."""
    lo, hi = kaldi_mel(F_MIN), kaldi_mel(F_MAX)
    delta = (hi - lo) / (MELS + 1)
    left = lo + delta * np.arange(MELS)[:, None]
    centre, right = left + delta, left + 2 * delta
    m = kaldi_mel(RATE / N_FFT * np.arange(N_FFT // 2))[None]
    tri = np.maximum(0.0, np.minimum((m - left) / (centre - left), (right - m) / (right - centre)))
    return np.pad(tri, ((0, 0), (0, 1))).astype(np.float32)


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """`[B, N]` 32 kHz -> normalised log-mel `[B, 128, 1 + (N - 1) // 320]`."""
    x = audio[:, 1:] - PREEMPHASIS * audio[:, :-1]
    window = torch.hann_window(WIN, periodic=False, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, N_FFT, hop_length=HOP, win_length=WIN, window=window, center=True, pad_mode="reflect",
                      normalized=False, return_complex=True)
    power = spec.real**2 + spec.imag**2  # [B, 513, frames]
    mel = torch.from_numpy(mel_banks()).to(x) @ power
    return (torch.log(mel + LOG_OFFSET) + 4.5) / 5.0


@dataclass(frozen=True)
class PaSSTConfig:
    """PaSST-S: ViT-B (width 768, 12 blocks of 12 heads) on 128 x 998 inputs with 16 x 16 patches at stride 10."""

    width: int = 768
    depth: int = 12
    heads: int = 12
    patch: int = 16
    stride: int = 10
    mels: int = MELS
    frames: int = 998  # the positional grid is built for this; longer inputs cut to its 99 time positions

    @property
    def grid(self) -> tuple[int, int]:
        return self.mels // self.stride, self.frames // self.stride


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, c: PaSSTConfig):
        super().__init__()
        self.proj = nn.Conv2d(1, c.width, c.patch, stride=c.stride)


class PaSST(nn.Module):
    """`[B, 1, 128, T]` normalised log-mel -> (logits `[B, 527]`, embedding `[B, 768]`) (eval mode: no patchout)."""

    def __init__(self, c: PaSSTConfig = PaSSTConfig()):
        super().__init__()
        f, t = c.grid
        self.patch_embed = PatchEmbed(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.width))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, c.width))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, c.width))  # positions of the cls and dist tokens
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, c.width, f, 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, c.width, 1, t))
        self.blocks = nn.Sequential(*(Block(c.width, c.heads) for _ in range(c.depth)))
        self.norm = nn.LayerNorm(c.width, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, CLASSES))
        self.head_dist = nn.Linear(c.width, CLASSES)

    def forward(self, mel):
        x = self.patch_embed.proj(mel)  # [B, C, F, T]
        # frequency and time positions are separate: a shorter input uses the first time positions
        x = x + self.time_new_pos_embed[..., : x.shape[-1]] + self.freq_new_pos_embed
        x = x.flatten(2).transpose(1, 2)
        b = x.shape[0]
        tokens = torch.cat([self.cls_token, self.dist_token], 1) + self.new_pos_embed
        x = self.norm(self.blocks(torch.cat([tokens.expand(b, -1, -1), x], 1)))
        emb = (x[:, 0] + x[:, 1]) / 2
        return self.head(emb), emb


def preprocess(audio32k: np.ndarray, max_seconds: float | None = MAX_SECONDS) -> np.ndarray:
    """Mono 32 kHz `[N]` -> `[320000]`: DC removed, the first `max_seconds`, zero-padded or cut to 10 s."""
    x = np.asarray(audio32k, np.float32)
    x = x - x.mean()
    if max_seconds is not None:
        x = x[: int(RATE * max_seconds)]
    x = x[:INPUT_SAMPLES]
    return np.pad(x, (0, INPUT_SAMPLES - len(x))).astype(np.float32)


class PaSSTFeatures(BackboneAnalysis):
    """One 768-d PaSST embedding per clip (`[1, 768]`; `[0, 768]` for a clip without samples)."""

    weights_names = ("passt-s-ap476",)

    def __init__(self, weights_dir=None, device: str = "cpu", cfg: PaSSTConfig | None = None,
                 max_seconds: float | None = MAX_SECONDS):
        self.cfg, self.max_seconds = cfg or PaSSTConfig(), max_seconds
        protocol = {"name": "passt-s-ap476 (av-benchmark FD-PaSST)", "rate": RATE, "n_fft": N_FFT, "win": WIN, "hop": HOP,
                    "mels": MELS, "f_min": F_MIN, "f_max": F_MAX, "preemphasis": PREEMPHASIS,
                    "normalise": "(log(mel + 1e-5) + 4.5) / 5", "dc_removed": True, "max_seconds": max_seconds,
                    "input_s": INPUT_SAMPLES / RATE, "pooling": "one embedding per clip (zero-padded or cut to 10 s)",
                    "embedding": "mean of the normed cls and dist tokens, 768-d", "min_samples": 1}
        super().__init__("passt", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        return load_into(PaSST(self.cfg), states["passt-s-ap476"], "passt-s-ap476").eval().to(self.device)

    def compute(self, clip):
        conv: list[str] = []
        audio = mono_at(clip, RATE, conv)
        if len(audio) == 0:
            conv.append("no audio samples: no PaSST embedding")
            return {"features": np.zeros((0, EMBEDDING))}, conv
        if self.max_seconds is not None and len(audio) > self.max_seconds * RATE:
            conv.append(f"cut to the first {self.max_seconds:g} s")
        x = torch.from_numpy(preprocess(audio, self.max_seconds))[None].to(self.device)
        with torch.no_grad():
            _, emb = self.model(log_mel(x)[:, None])
        return {"features": emb.double().cpu().numpy()}, conv
