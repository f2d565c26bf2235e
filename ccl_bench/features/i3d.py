"""I3D (Inception-v1, Kinetics-400) for FVD and KVD, with the reference toolkits' presets.

`InceptionI3d` has the module layout of the piergiaj PyTorch port that `i3d_pretrained_400.pt`
(VideoGPT's file, used by MM-Diffusion and JavisBench) was saved from: `Conv3d_1a_7x7.conv3d.weight`,
`Mixed_3b.b1b.bn.running_mean`, ..., `logits.conv3d.bias`. Convolutions and max-pools pad like
TensorFlow's 'SAME'. The StyleGAN-V preset instead runs the TorchScript file `i3d_torchscript.pt`,
which rescales and resizes inside: `detector(x_uint8, rescale=True, resize=True, return_features=True)`.

Presets (what each reference toolkit feeds the network; frames `[T, H, W, 3]` uint8):
| preset       | frames                              | spatial                                  | values      |
| `videogpt`   | the first 16                        | short side to 224 (bilinear), centre crop | 2 x/255 - 1 |
| `javisbench` | 16 evenly spaced over the clip      | long side to 224 (bilinear), zero padding | 2 x/255 - 1 |
| `cd-fvd`     | the first 16                        | 224 x 224 (bilinear, aspect not kept)     | 2 x/255 - 1 |
| `stylegan-v` | the first 16                        | inside the TorchScript model              | uint8       |
A clip shorter than 16 frames repeats its last frame (reported as a conversion).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SIZE = 224
FRAMES = 16


@dataclass(frozen=True)
class I3DPreset:
    name: str
    weights: str  # weights registry name
    frames: str  # "first" | "even"
    spatial: str  # "short-side-crop" | "letterbox" | "stretch" | "inside-model"
    bn_eps: float = 1e-5  # VideoGPT's port (the original TF I3D: 1e-3)
    features: str = "logits"  # 400-d pre-softmax
    covariance_ddof: int = 1  # Frechet statistics: N - 1 (TF-GAN line) or N (StyleGAN-V)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "videogpt": I3DPreset("videogpt", "i3d-kinetics400", "first", "short-side-crop"),
    "javisbench": I3DPreset("javisbench", "i3d-kinetics400", "even", "letterbox"),
    "cd-fvd": I3DPreset("cd-fvd", "i3d-kinetics400", "first", "stretch"),
    "stylegan-v": I3DPreset("stylegan-v", "i3d-torchscript", "first", "inside-model", covariance_ddof=0),
}


def frame_indices(num_frames: int, how: str, count: int = FRAMES) -> np.ndarray:
    """Which source frames a preset reads: the first `count` (the last repeated if short), or `count`
    evenly spaced over the clip (`round(linspace(0, T - 1, count))`)."""
    if how == "first":
        return np.minimum(np.arange(count), num_frames - 1)
    if how == "even":
        return np.round(np.linspace(0, num_frames - 1, count)).astype(int)
    raise ValueError(f"unknown frame sampling '{how}'")


def spatial_size(h: int, w: int, how: str) -> tuple[int, int]:
    """Resized (height, width) before cropping or padding."""
    if how == "short-side-crop":
        s = SIZE / min(h, w)
        return (SIZE, math.ceil(w * s)) if h < w else (math.ceil(h * s), SIZE)
    if how == "letterbox":
        s = SIZE / max(h, w)
        return max(1, round(h * s)), max(1, round(w * s))
    if how == "stretch":
        return SIZE, SIZE
    raise ValueError(f"unknown spatial rule '{how}'")


def preprocess(video: np.ndarray | torch.Tensor, preset: I3DPreset) -> torch.Tensor:
    """uint8 `[T, H, W, 3]` -> the network input `[3, 16, 224, 224]` (float in [-1, 1], or uint8 for the
    TorchScript preset, which resizes itself)."""
    v = torch.as_tensor(np.asarray(video))
    v = v[torch.as_tensor(frame_indices(len(v), preset.frames))]
    if preset.spatial == "inside-model":
        return v.permute(3, 0, 1, 2).contiguous()
    x = v.permute(0, 3, 1, 2).float() / 255.0  # [T, 3, H, W] in [0, 1]
    h, w = x.shape[-2:]
    th, tw = spatial_size(h, w, preset.spatial)
    x = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False)
    if preset.spatial == "short-side-crop":
        top, left = (th - SIZE) // 2, (tw - SIZE) // 2
        x = x[..., top : top + SIZE, left : left + SIZE]
    x = 2 * x - 1
    if preset.spatial == "letterbox":
        pt, pl = (SIZE - th) // 2, (SIZE - tw) // 2
        x = F.pad(x, (pl, SIZE - tw - pl, pt, SIZE - th - pt), value=-1.0)  # black bars
    return x.permute(1, 0, 2, 3).contiguous()


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: list[int], stride: list[int], value: float = 0.0) -> torch.Tensor:
    pads: list[int] = []
    for dim in (2, 1, 0):  # F.pad takes the last dimension first: w, h, t
        front, back = _same_padding(x.shape[2 + dim], kernel[dim], stride[dim])
        pads += [front, back]
    return F.pad(x, pads, value=value)


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = list(kernel), list(stride)

    def forward(self, x):
        # Zero padding, as the reference port pads (inputs after ReLU are >= 0, so it equals -inf padding).
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d ('SAME' padded, no bias) + BatchNorm + ReLU; the logits unit has a bias and neither."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), bn_eps: float = 1e-5, logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = list(kernel), list(stride), logits
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=0, bias=logits)
        self.bn = nn.Identity() if logits else nn.BatchNorm3d(cout, eps=bn_eps, momentum=0.001)

    def forward(self, x):
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        return x if self.logits else F.relu(self.bn(x))


class InceptionModule(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; max-pool -> 1x1, concatenated."""

    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int], bn_eps: float):
        super().__init__()
        self.b0 = Unit3D(cin, c[0], bn_eps=bn_eps)
        self.b1a = Unit3D(cin, c[1], bn_eps=bn_eps)
        self.b1b = Unit3D(c[1], c[2], (3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(cin, c[3], bn_eps=bn_eps)
        self.b2b = Unit3D(c[3], c[4], (3, 3, 3), bn_eps=bn_eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(cin, c[5], bn_eps=bn_eps)

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


# (name, module factory) in forward order; channel widths of Inception-v1.
def _layers(bn_eps: float):
    u = lambda *a, **k: Unit3D(*a, bn_eps=bn_eps, **k)  # noqa: E731
    m = lambda cin, c: InceptionModule(cin, c, bn_eps)  # noqa: E731
    return [
        ("Conv3d_1a_7x7", u(3, 64, (7, 7, 7), (2, 2, 2))),
        ("MaxPool3d_2a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2))),
        ("Conv3d_2b_1x1", u(64, 64)),
        ("Conv3d_2c_3x3", u(64, 192, (3, 3, 3))),
        ("MaxPool3d_3a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2))),
        ("Mixed_3b", m(192, (64, 96, 128, 16, 32, 32))),
        ("Mixed_3c", m(256, (128, 128, 192, 32, 96, 64))),
        ("MaxPool3d_4a_3x3", MaxPool3dSame((3, 3, 3), (2, 2, 2))),
        ("Mixed_4b", m(480, (192, 96, 208, 16, 48, 64))),
        ("Mixed_4c", m(512, (160, 112, 224, 24, 64, 64))),
        ("Mixed_4d", m(512, (128, 128, 256, 24, 64, 64))),
        ("Mixed_4e", m(512, (112, 144, 288, 32, 64, 64))),
        ("Mixed_4f", m(528, (256, 160, 320, 32, 128, 128))),
        ("MaxPool3d_5a_2x2", MaxPool3dSame((2, 2, 2), (2, 2, 2))),
        ("Mixed_5b", m(832, (256, 160, 320, 32, 128, 128))),
        ("Mixed_5c", m(832, (384, 192, 384, 48, 128, 128))),
    ]


class InceptionI3d(nn.Module):
    """`[B, 3, T, 224, 224]` in [-1, 1] -> logits `[B, num_classes]` (averaged over time)."""

    def __init__(self, num_classes: int = 400, bn_eps: float = 1e-5):
        super().__init__()
        for name, module in _layers(bn_eps):
            self.add_module(name, module)  # attribute names are the checkpoint's key prefixes
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=1)
        self.logits = Unit3D(1024, num_classes, logits=True)

    def forward(self, x):
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        x = self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))
        x = self.MaxPool3d_4a_3x3(self.Mixed_3c(self.Mixed_3b(x)))
        x = self.Mixed_4f(self.Mixed_4e(self.Mixed_4d(self.Mixed_4c(self.Mixed_4b(x)))))
        x = self.Mixed_5c(self.Mixed_5b(self.MaxPool3d_5a_2x2(x)))
        x = self.logits(self.avg_pool(x))  # [B, classes, t, 1, 1]
        return x.flatten(2).mean(2)


class TorchScriptI3D(nn.Module):
    """The calling convention of StyleGAN-V's `i3d_torchscript.pt`: uint8 or float `[B, 3, T, H, W]`;
    rescale maps [0, 255] to [-1, 1], resize makes the frames 224 x 224 (trilinear over the same T).
    This class exists to build a random-weight stand-in with that interface (tests, offline runs);
    a user's real file is loaded with `torch.jit.load`."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.net = InceptionI3d(num_classes, bn_eps=1e-3)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False):
        x = x.float()
        if rescale:
            x = x / 127.5 - 1.0
        if resize:
            x = F.interpolate(x, size=(x.shape[2], 224, 224), mode="trilinear", align_corners=False)
        logits = self.net(x)
        return logits if return_features else torch.softmax(logits, -1)
