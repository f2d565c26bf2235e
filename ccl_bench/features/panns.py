"""PANNs Cnn14 at 16 kHz for FD-PANN (av-benchmark, MMAudio), in the layout of `Cnn14_16k_mAP=0.438.pth`
(Zenodo record 3987831, the checkpoint's weights under its `model` key):
`spectrogram_extractor.stft.conv_{real,imag}.weight` (the windowed DFT as a Conv1d), `logmel_extractor.melW`,
`bn0`, `conv_block{1..6}.{conv1,conv2,bn1,bn2}` (3x3 convolutions without bias), `fc1` (2048 -> 2048) and
`fc_audioset` (2048 -> 527).

Protocol `panns` (av-benchmark's `Cnn14(sample_rate=16000, window_size=512, hop_size=160, mel_bins=64,
fmin=50, fmax=8000)`):
- mono, resampled to 16 kHz; the whole clip is one input (one embedding per clip);
- power STFT: 512-sample periodic Hann window and FFT, hop 160, centred with reflection padding;
- 64 Slaney-normalised mel bands 50-8000 Hz (librosa's filters), `10 log10(max(x, 1e-10))`;
- BatchNorm over the mel bands, six conv blocks (2x2 average pooling after the first five), the mean
  over frequency, max + mean over time, `relu(fc1(.))`: the 2048-d embedding (av-benchmark's "2048").
The five poolings need at least 32 STFT frames: clips shorter than `MIN_SECONDS` get no embedding."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import BackboneAnalysis, mono_at  # the package imports this module lazily, so no cycle
from .logmel import LogMel, LogMelFrontEnd, LogMelSpec, Spectrogram

RATE = 16000
WINDOW = 512  # samples; also the FFT size
HOP = 160
MELS = 64
F_MIN, F_MAX = 50.0, 8000.0
FRONT_END = LogMelSpec(RATE, WINDOW, HOP, MELS, F_MIN, F_MAX)
CLASSES = 527
EMBEDDING = 2048
MIN_FRAMES = 32  # 2 ** 5 average poolings in time
MIN_SECONDS = (MIN_FRAMES - 1) * HOP / RATE  # centred STFT: 1 + N // HOP frames


class ConvBlock(nn.Module):
    """Two (3x3 conv without bias, BatchNorm, ReLU), then average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x, pool: int):
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn14(LogMelFrontEnd, nn.Module):
    """`[B, N]` mono 16 kHz audio -> `{"embedding": [B, 2048], "logits": [B, 527]}` (eval mode).
    `widths` may be narrowed for fast tests of the same code (the checkpoint's are 64 ... 2048)."""

    def __init__(self, widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048), classes: int = CLASSES):
        super().__init__()
        self.spectrogram_extractor = Spectrogram(FRONT_END)
        self.logmel_extractor = LogMel(FRONT_END)
        self.bn0 = nn.BatchNorm2d(MELS)
        cins = (1, *widths[:-1])
        for i, (cin, cout) in enumerate(zip(cins, widths, strict=True), start=1):
            setattr(self, f"conv_block{i}", ConvBlock(cin, cout))
        self.fc1 = nn.Linear(widths[-1], widths[-1])
        self.fc_audioset = nn.Linear(widths[-1], classes)

    def forward(self, audio):
        x = self.log_mel(audio)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel band
        blocks = [getattr(self, f"conv_block{i}") for i in range(1, 7)]
        for i, block in enumerate(blocks):
            x = block(x, pool=2 if i < 5 else 1)
        x = x.mean(dim=3)  # over frequency -> [B, C, frames]
        x = x.max(dim=2).values + x.mean(dim=2)
        emb = F.relu(self.fc1(x))
        return {"embedding": emb, "logits": self.fc_audioset(emb)}


def embed_clip(model: Cnn14, audio16k: np.ndarray, device: str = "cpu") -> np.ndarray | None:
    """One clip's mono 16 kHz audio `[N]` -> its 2048-d embedding `[1, 2048]` (float64), or None when
    it is shorter than `MIN_SECONDS`."""
    if len(audio16k) < MIN_SECONDS * RATE:
        return None
    x = torch.as_tensor(np.asarray(audio16k, np.float32))[None].to(device)
    with torch.no_grad():
        return model(x)["embedding"].double().cpu().numpy()


class PANNsFeatures(BackboneAnalysis):
    """One 2048-d Cnn14 embedding per clip (`[1, 2048]`; `[0, 2048]` for a clip under `MIN_SECONDS`)."""

    weights_names = ("panns-cnn14-16k",)

    def __init__(self, weights_dir=None, device: str = "cpu", widths: tuple[int, ...] | None = None):
        self.widths = widths or (64, 128, 256, 512, 1024, 2048)  # narrower only in tests of the same code
        protocol = {"name": "panns-cnn14-16k (av-benchmark FD-PANN)", "rate": RATE, "window": WINDOW, "hop": HOP,
                    "mels": MELS, "f_min": F_MIN, "f_max": F_MAX, "pooling": "one embedding per whole clip",
                    "embedding": "relu(fc1), 2048-d", "min_seconds": MIN_SECONDS}
        super().__init__("panns", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        return load_into(Cnn14(self.widths), states["panns-cnn14-16k"], "panns-cnn14-16k").eval().to(self.device)

    def compute(self, clip):
        conv: list[str] = []
        emb = embed_clip(self.model, mono_at(clip, RATE, conv), self.device)
        if emb is None:
            conv.append(f"shorter than {MIN_SECONDS:.2f} s: no PANNs embedding")
            return {"features": np.zeros((0, EMBEDDING))}, conv
        return {"features": emb}, conv
