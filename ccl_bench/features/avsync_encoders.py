"""Suite-native learned features (protocol `ccl-avsync-features-v1`): a small video encoder and a small
audio encoder trained on the av-sync `train` split of the `tiny` rendering
(`benchmarks/train_avsync_features.py`), shipped in `ccl_bench/features/weights/` with pinned SHA-256.

Like a LeNet FID on MNIST: their features are meaningful on this suite's scenes, not comparable with
any other FD. They give `avsync-fvd` / `avsync-fad` (Frechet distance of the 128-d embeddings, one per
clip) and `prompt-accuracy-video` / `-audio` (the heads' predictions against the caption's labels).

Preprocessing (any clip the harness reads maps to the input the encoders were trained on):
- a clip is read as its whole 2 s windows from the start (the tiny rendering: one; the native 8 s: four;
  a clip under 2 s: one, padded); its embedding is the mean of its windows' embeddings and each
  head's prediction the arg-max of the windows' mean logits;
- video: resampled to 16 fps by sample-and-hold (32 frames a window; a shorter clip repeats its last
  frame), each frame resized to 32 x 32 (bilinear, anti-aliased), RGB scaled to [-1, 1]
  -> `[3, 32, 32, 32]` (C, T, H, W) a window;
- audio: mono at 16 kHz (zero-padded to 2 s), power mel spectrogram (FFT 512, hop 250 = 64
  frames/s, 64 Slaney mel bands 40-8000 Hz, centred frames), `(ln(mel + 1e-5) + 4.5) / 5`
  -> `[1, 64, 128]` (channel, mel, frame) a window.

Labels: `avsync_labels`."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .avsync_labels import CLASSES, HEADS, PROMPT_LABELS, PROTOCOL, clip_labels

__all__ = ["CLASSES", "HEADS", "PROMPT_LABELS", "PROTOCOL", "clip_labels"]  # the label vocabulary, re-exported

FPS = 16.0
FRAMES = 32
SIZE = 32
DURATION_S = 2.0
RATE = 16000
SAMPLES = 32000
N_FFT = 512
HOP = 250
MELS = 64
F_MIN, F_MAX = 40.0, 8000.0
LOG_OFFSET = 1e-5
NORM_MEAN, NORM_SCALE = -4.5, 5.0
MEL_FRAMES = SAMPLES // HOP  # 128
EMBED = 128

# ---- preprocessing -------------------------------------------------------------------------------


def windows(duration_s: float) -> int:
    """How many 2 s windows a clip of `duration_s` seconds is read as (at least one)."""
    return max(1, int(math.floor(duration_s / DURATION_S + 1e-9)))


def video_input(video: np.ndarray, fps: float) -> tuple[torch.Tensor, list[str]]:
    """uint8 `[T, H, W, 3]` at `fps` -> float `[W, 3, 32, 32, 32]` in [-1, 1]: one input per whole 2 s
    window (`windows`), with the conversions made."""
    import torch.nn.functional as F

    conv: list[str] = []
    t, h, w = video.shape[:3]
    n = windows(t / fps)
    idx = np.floor(np.arange(n * FRAMES) * fps / FPS + 1e-9).astype(np.int64)
    if idx[-1] >= t:
        conv.append(f"repeated the last frame ({t / fps:.2f} s < {DURATION_S} s)")
    if abs(fps - FPS) > 1e-6:
        conv.append(f"resampled video {fps:g} -> {FPS:g} fps")
    frames = torch.from_numpy(np.ascontiguousarray(video[np.clip(idx, 0, t - 1)])).permute(0, 3, 1, 2).float()
    if (h, w) != (SIZE, SIZE):
        conv.append(f"resized {w}x{h} -> {SIZE}x{SIZE}")
        frames = F.interpolate(frames, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    x = (frames / 127.5 - 1.0).clamp(-1, 1).reshape(n, FRAMES, 3, SIZE, SIZE)
    return x.permute(0, 2, 1, 3, 4).contiguous(), conv


def video_batch(videos: torch.Tensor) -> torch.Tensor:
    """uint8 `[B, 32, 32, 32, 3]` of the tiny rendering -> `[B, 3, 32, 32, 32]` (what `video_input` gives)."""
    return videos.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


class LogMel(nn.Module):
    """Mono 16 kHz audio `[B, N]` -> `[B, 1, 64, N // 250]` normalised log-mel (see the module docstring)."""

    def __init__(self):
        super().__init__()
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=MELS,
                                                        f_min=F_MIN, f_max=F_MAX, power=2.0, center=True, norm="slaney",
                                                        mel_scale="slaney")

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        m = self.mel(audio.float())[..., : audio.shape[-1] // HOP]
        return ((torch.log(m + LOG_OFFSET) - NORM_MEAN) / NORM_SCALE)[:, None]


def audio_input(mono: np.ndarray) -> tuple[torch.Tensor, list[str]]:
    """Mono 16 kHz `[N]` -> `[W, 32000]`: one row per whole 2 s window (`windows`; a shorter clip is
    zero-padded)."""
    conv = []
    if len(mono) < SAMPLES:
        conv.append(f"zero-padded audio ({len(mono) / RATE:.2f} s < {DURATION_S} s)")
    n = windows(len(mono) / RATE)
    x = np.zeros(n * SAMPLES, np.float32)
    k = min(len(mono), len(x))
    x[:k] = mono[:k]
    return torch.from_numpy(x).reshape(n, SAMPLES), conv


# ---- models --------------------------------------------------------------------------------------


def _block3d(cin: int, cout: int, stride) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


def _block2d(cin: int, cout: int, stride) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class VideoEncoder(nn.Module):
    """`[B, 3, 32, 32, 32]` -> embedding `[B, 128]` (the penultimate layer) and one logit vector per head.

    3-D convolutions 16-32-64 (3x3x3, strides 1x2x2, 2x2x2, 2x2x2), then a temporal 3x1x1 one to 128
    channels: `[B, 128, 8, 4, 4]`; mean and max over time and space (256), a linear layer to the 128-d
    embedding; ReLU; linear heads."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(_block3d(3, 16, (1, 2, 2)), _block3d(16, 32, 2), _block3d(32, 64, 2),
                                   nn.Conv3d(64, 128, (3, 1, 1), 1, (1, 0, 0), bias=False), nn.BatchNorm3d(128),
                                   nn.ReLU(inplace=True))
        self.embed = nn.Linear(256, EMBED)
        self.heads = nn.ModuleDict({k: nn.Linear(EMBED, len(CLASSES[k])) for k in HEADS["video"]})

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.trunk(x).flatten(2)
        e = self.embed(torch.cat([h.mean(-1), h.amax(-1)], 1))
        r = torch.relu(e)
        return e, {k: head(r) for k, head in self.heads.items()}


class AudioEncoder(nn.Module):
    """Log-mel `[B, 1, 64, 128]` -> embedding `[B, 128]` and one logit vector per head.

    2-D convolutions 16-32-64-64 (strides 2, 2, 2, 1) to `[B, 64, 8, 16]`; mean and max over time per
    mel band (pitch lives on the mel axis, so it is not pooled): 1,024 -> linear to 128; ReLU; heads."""

    def __init__(self):
        super().__init__()
        self.logmel = LogMel()
        self.trunk = nn.Sequential(_block2d(1, 16, 2), _block2d(16, 32, 2), _block2d(32, 64, 2), _block2d(64, 64, 1))
        self.embed = nn.Linear(2 * 64 * (MELS // 8), EMBED)
        self.heads = nn.ModuleDict({k: nn.Linear(EMBED, len(CLASSES[k])) for k in HEADS["audio"]})

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """wave: mono 16 kHz `[B, 32000]`."""
        h = self.trunk(self.logmel(wave))  # [B, 64, 8, 16]
        e = self.embed(torch.cat([h.mean(-1), h.amax(-1)], 1).flatten(1))
        r = torch.relu(e)
        return e, {k: head(r) for k, head in self.heads.items()}


ENCODERS = {"video": VideoEncoder, "audio": AudioEncoder}
WEIGHTS = {"video": "avsync-video-encoder", "audio": "avsync-audio-encoder"}  # names in `ccl_bench.weights`


def encoder_from_state(modality: str, state: dict) -> nn.Module:
    """A state dict (as the weights manager loads it, checksum verified) -> the encoder in eval mode."""
    from ..weights import WeightsError

    model = ENCODERS[modality]()
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as exc:
        raise WeightsError(f"{WEIGHTS[modality]}: not the {modality} encoder's layout ({str(exc).splitlines()[0]})") from None
    return model.eval()


def load_encoder(modality: str, weights_dir=None) -> tuple[nn.Module, str]:
    """The shipped (or `weights_dir`'s) encoder, checksum verified -> (model in eval mode, sha256)."""
    from .. import weights

    state, sha = weights.load_state_dict(WEIGHTS[modality], weights_dir)
    return encoder_from_state(modality, state), sha


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
