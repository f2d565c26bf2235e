"""Rate and length conversions, with their conventions stated (pure functions on arrays).

Conventions
- Audio resampling: band-limited sinc interpolation (torchaudio `resample`, Hann window, 6 zero
  crossings, rolloff 0.99); sample 0 stays at t = 0, so an event keeps its time; output length
  `ceil(N * sr_out / sr_in)`.
- Frame-rate conversion: sample-and-hold, as a player shows it: output frame `j` (time `j / fps_out`)
  is the source frame on screen at that instant, index `floor(j * fps_in / fps_out)`. An event
  moves by less than one source frame.
"""

from __future__ import annotations

import math

import numpy as np


def resample_audio(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """audio: float32 `[C, N]` at `sr_in` Hz -> float32 `[C, ceil(N * sr_out / sr_in)]` at `sr_out` Hz."""
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as AF

    n_out = math.ceil(audio.shape[1] * sr_out / sr_in)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), sr_in, sr_out)
    out = out.numpy()
    if out.shape[1] < n_out:
        out = np.pad(out, ((0, 0), (0, n_out - out.shape[1])))
    return np.ascontiguousarray(out[:, :n_out], dtype=np.float32)


def convert_fps(video: np.ndarray, fps_in: float, fps_out: float, duration: float | None = None) -> np.ndarray:
    """video: `[T, ...]` at `fps_in` -> `[round(duration * fps_out), ...]` at `fps_out` (sample-and-hold).

    duration: seconds to cover (default: the input's `T / fps_in`)."""
    if duration is None:
        duration = video.shape[0] / fps_in
    n_out = max(1, round(duration * fps_out))
    # 1e-9 keeps an exact frame boundary (j * fps_in / fps_out integral) on its own frame.
    idx = np.floor(np.arange(n_out) * fps_in / fps_out + 1e-9).astype(np.int64)
    return video[np.clip(idx, 0, video.shape[0] - 1)]


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """`[C, N]` -> `[channels, N]`: down-mix by averaging, up-mix by repeating a mono track."""
    c = audio.shape[0]
    if c == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True).astype(np.float32)
    if c == 1:
        return np.repeat(audio, channels, axis=0)
    raise ValueError(f"cannot convert {c} audio channels to {channels}")


def fit_length(x: np.ndarray, n: int, axis: int = -1) -> np.ndarray:
    """Trim or zero-pad `x` along `axis` to length `n` (padding at the end)."""
    cur = x.shape[axis]
    if cur == n:
        return x
    if cur > n:
        return np.take(x, np.arange(n), axis=axis)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, n - cur)
    return np.pad(x, pad)


def shift_audio(audio: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """Delay `[C, N]` audio by `seconds` (negative: advance), zero-filled, length kept."""
    k = round(seconds * sample_rate)
    out = np.zeros_like(audio)
    if k >= 0:
        out[:, k:] = audio[:, : audio.shape[1] - k] if k < audio.shape[1] else 0
    else:
        out[:, : audio.shape[1] + k] = audio[:, -k:]
    return out
