"""The torchlibrosa log-mel front end that PANNs and LAION-CLAP's HTS-AT store in their checkpoints
(`Spectrogram` + `LogmelFilterBank`), one definition for both, parameterised by `LogMelSpec`:
- power STFT: `window`-sample periodic Hann frames, FFT of the same size, every `hop` samples, centred
  with reflection padding; the windowed DFT is a fixed Conv1d (`spectrogram_extractor.stft.conv_{real,imag}`);
- `mels` Slaney-normalised mel bands `f_min`-`f_max` Hz (librosa's filters; `logmel_extractor.melW`);
- `10 log10(max(x, amin))` (dB re 1.0, no top_db).
A model holds the two modules under the attribute names `spectrogram_extractor` and `logmel_extractor`
(the checkpoints' keys) and gets `init_front_end` / `log_mel` from `LogMelFrontEnd`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LogMelSpec:
    rate: int  # Hz
    window: int  # samples; also the FFT size
    hop: int  # samples
    mels: int
    f_min: float  # Hz
    f_max: float  # Hz
    amin: float = 1e-10  # power floor before the log

    @property
    def bins(self) -> int:
        """FFT bins kept: `window / 2 + 1`."""
        return self.window // 2 + 1


@lru_cache(4)
def dft_kernels(window: int) -> tuple[np.ndarray, np.ndarray]:
    """The windowed DFT as Conv1d weights `[window/2 + 1, 1, window]` (real, imaginary): row k holds
    `w[n] cos(2 pi k n / N)` and `-w[n] sin(2 pi k n / N)`, w the periodic Hann window."""
    n = np.arange(window)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / window)
    phase = 2 * np.pi * np.outer(np.arange(window // 2 + 1), n) / window
    return (w * np.cos(phase))[:, None], (-w * np.sin(phase))[:, None]


@lru_cache(4)
def mel_weights(spec: LogMelSpec) -> np.ndarray:
    """`[window/2 + 1, mels]` Slaney mel filters (librosa.filters.mel's defaults), as `melW` holds them."""
    import librosa

    return librosa.filters.mel(sr=spec.rate, n_fft=spec.window, n_mels=spec.mels, fmin=spec.f_min, fmax=spec.f_max).T


class STFT(nn.Module):
    def __init__(self, spec: LogMelSpec):
        super().__init__()
        self.conv_real = nn.Conv1d(1, spec.bins, spec.window, stride=spec.hop, bias=False)
        self.conv_imag = nn.Conv1d(1, spec.bins, spec.window, stride=spec.hop, bias=False)
        self.requires_grad_(False)  # a fixed transform, stored with the weights


class Spectrogram(nn.Module):
    """`[B, N]` audio -> power spectrogram `[B, 1, 1 + N // hop, window/2 + 1]` through the stored DFT kernels."""

    def __init__(self, spec: LogMelSpec):
        super().__init__()
        self.spec = spec
        self.stft = STFT(spec)

    def forward(self, x):
        half = self.spec.window // 2
        x = F.pad(x[:, None], (half, half), mode="reflect")  # centred frames
        re, im = self.stft.conv_real(x), self.stft.conv_imag(x)  # [B, F, frames]
        return (re**2 + im**2).transpose(1, 2)[:, None]


class LogMel(nn.Module):
    """Power `[B, 1, frames, window/2 + 1]` -> log-mel `[B, 1, frames, mels]` (dB)."""

    def __init__(self, spec: LogMelSpec):
        super().__init__()
        self.spec = spec
        self.melW = nn.Parameter(torch.zeros(spec.bins, spec.mels), requires_grad=False)

    def forward(self, power):
        return 10.0 * torch.log10(torch.clamp(power @ self.melW, min=self.spec.amin))


class LogMelFrontEnd:
    """Mixin for an `nn.Module` holding `spectrogram_extractor: Spectrogram` and `logmel_extractor: LogMel`."""

    spectrogram_extractor: Spectrogram
    logmel_extractor: LogMel

    def init_front_end(self) -> Self:
        """Fill the fixed front end from its definition (a fresh model; a checkpoint brings its own)."""
        real, imag = dft_kernels(self.spectrogram_extractor.spec.window)
        with torch.no_grad():
            self.spectrogram_extractor.stft.conv_real.weight.copy_(torch.from_numpy(real))
            self.spectrogram_extractor.stft.conv_imag.weight.copy_(torch.from_numpy(imag))
            self.logmel_extractor.melW.copy_(torch.from_numpy(mel_weights(self.logmel_extractor.spec)))
        return self

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """`[B, N]` -> log-mel `[B, 1, 1 + N // hop, mels]` (dB)."""
        return self.logmel_extractor(self.spectrogram_extractor(audio))
