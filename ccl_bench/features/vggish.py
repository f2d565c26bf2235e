"""VGGish for FAD (Google FAD, fadtk, av-benchmark FD-VGG), in the layout of `vggish-10086976.pth`
(harritaylor/torchvggish v0.1): `features.{0,3,6,8,11,13}` (Conv2d 3x3) and `embeddings.{0,2,4}`
(Linear 12288 -> 4096 -> 4096 -> 128).

Protocol `vggish` (the AudioSet VGGish front end):
- mono, resampled to 16 kHz (band-limited sinc);
- STFT magnitude: 25 ms periodic-Hann windows (400 samples), 10 ms hop (160), FFT 512, no padding;
- 64 mel bands, HTK mel scale, triangles from 125 to 7500 Hz (the DC bin weighted 0);
- `log(mel + 0.01)`; non-overlapping examples of 96 frames (0.96 s) -> `[N, 1, 96, 64]`;
- the 128-d embedding before the final ReLU, no PCA, no quantisation (fadtk's choice); one
  embedding per example, and the examples of all clips form the set the statistics are taken over."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

RATE = 16000
WINDOW = 400
HOP = 160
FFT = 512
MELS = 64
F_LOW, F_HIGH = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE = 96  # frames per example (0.96 s), also the hop between examples


def hz_to_mel(f):
    """HTK mel scale."""
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_matrix() -> np.ndarray:
    """`[FFT / 2 + 1, MELS]` triangular weights on the HTK mel scale, the DC bin weighted 0."""
    bins_mel = hz_to_mel(np.linspace(0, RATE / 2, FFT // 2 + 1))
    edges = np.linspace(hz_to_mel(F_LOW), hz_to_mel(F_HIGH), MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (bins_mel[:, None] - lower) / (centre - lower)
    down = (upper - bins_mel[:, None]) / (upper - centre)
    w = np.maximum(0.0, np.minimum(up, down))
    w[0] = 0.0
    return w


def log_mel_examples(audio: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Mono 16 kHz audio `[N]` -> examples `[E, 1, 96, 64]` (float32); E = 0 for less than ~0.975 s."""
    x = torch.as_tensor(np.asarray(audio, np.float64))
    if len(x) < WINDOW:
        return torch.zeros(0, 1, EXAMPLE, MELS)
    frames = x.unfold(0, WINDOW, HOP)  # [F, 400], no padding
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(WINDOW, dtype=torch.float64) / WINDOW)  # periodic Hann
    mag = torch.fft.rfft(frames * window, n=FFT).abs()
    logmel = torch.log(mag @ torch.as_tensor(mel_matrix()) + LOG_OFFSET)
    n = 1 + (len(logmel) - EXAMPLE) // EXAMPLE if len(logmel) >= EXAMPLE else 0
    return logmel[: n * EXAMPLE].reshape(n, 1, EXAMPLE, MELS).float()


class VGGish(nn.Module):
    """`[E, 1, 96, 64]` log-mel examples -> `[E, 128]` embeddings (before the final ReLU unless `final_relu`)."""

    def __init__(self, final_relu: bool = False):
        super().__init__()
        layers, cin = [], 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
                                        nn.Linear(4096, 128))
        self.final_relu = final_relu

    def forward(self, x):
        x = self.features(x)  # [E, 512, 6, 4]
        # Flatten in TensorFlow's (height, width, channels) order, which the ported Linear expects.
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = self.embeddings(x)
        return torch.relu(x) if self.final_relu else x

