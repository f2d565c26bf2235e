"""S3FD face detector (Zhang et al. 2017) as syncnet_python's pipeline runs it, in the layout of its
`sfd_face.pth` (a plain state dict):
- `vgg.{0..34}`: VGG16's 13 convolutions (3x3, with bias; max-pooling after blocks 1-5, the third with
  ceil mode), then `vgg.31` (3x3, 1024, dilation 6) and `vgg.33` (1x1, 1024) as fc6/fc7;
- `L2Norm3_3`, `L2Norm4_3`, `L2Norm5_3`: per-channel scales after channel-wise L2 normalisation of
  conv3_3, conv4_3, conv5_3 (initial scales 10, 8, 5);
- `extras.{0..3}`: 1x1 / 3x3 stride-2 pairs giving the fifth and sixth sources;
- `loc.{0..5}`, `conf.{0..5}`: 3x3 heads on the six sources (strides 4 ... 128, anchors 16 ... 512 px,
  one square anchor per cell); the first `conf` head has 4 channels: the maximum of the first three is
  the background score ("max-out"), the fourth the face score.

Detection (`detect_faces(rgb, conf_th=0.9, scales=[0.25])` of run_pipeline.py): the frame resized by 0.25
(OpenCV bilinear), RGB minus (123, 117, 104); softmax face score; boxes decoded from the anchors with
variances (0.1, 0.2); per frame the scores above 0.05, greedy non-maximum suppression at IoU 0.3 over the
5000 best, at most 750 kept; those above 0.9 scaled to the full frame and suppressed again at IoU 0.1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN_RGB = (123.0, 117.0, 104.0)
SCALE = 0.25  # run_pipeline's facedet_scale
CONF_TH = 0.9
STEPS = (4, 8, 16, 32, 64, 128)
ANCHORS = (16, 32, 64, 128, 256, 512)
VARIANCE = (0.1, 0.2)
PRE_THRESH, PRE_NMS, PRE_TOP_K, KEEP = 0.05, 0.3, 5000, 750
FINAL_NMS = 0.1
MIN_SIDE = 112  # px of the full frame: at scale 0.25, five poolings and two stride-2 layers need 28


class L2Norm(nn.Module):
    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x):
        return self.weight[None, :, None, None] * x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)


def _vgg() -> nn.ModuleList:
    """VGG16 to conv5_3 and pool5, then fc6 (dilated) and fc7, with ReLUs and pools in their published places."""
    layers: list[nn.Module] = []
    cin = 3
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        for _ in range(convs):
            layers += [nn.Conv2d(cin, width, 3, 1, padding=1), nn.ReLU(inplace=True)]
            cin = width
        layers.append(nn.MaxPool2d(2, 2, ceil_mode=block == 2))
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(inplace=True), nn.Conv2d(1024, 1024, 1, 1),
               nn.ReLU(inplace=True)]
    return nn.ModuleList(layers)


class S3FD(nn.Module):
    """`[B, 3, H, W]` mean-subtracted RGB -> (box offsets `[B, P, 4]`, face probability `[B, P]`) over the
    anchors of `anchors(H, W)` (P of them)."""

    def __init__(self):
        super().__init__()
        self.vgg = _vgg()
        self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3 = L2Norm(256, 10), L2Norm(512, 8), L2Norm(512, 5)
        self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1, 1), nn.Conv2d(256, 512, 3, 2, padding=1),
                                     nn.Conv2d(512, 128, 1, 1), nn.Conv2d(128, 256, 3, 2, padding=1)])
        chans = (256, 512, 512, 1024, 512, 256)
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in chans])
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if i == 0 else 2, 3, 1, padding=1) for i, c in enumerate(chans)])

    def sources(self, x) -> list[torch.Tensor]:
        out = []
        norms = {16: self.L2Norm3_3, 23: self.L2Norm4_3, 30: self.L2Norm5_3}  # after conv3_3, conv4_3, conv5_3 (+ReLU)
        for k, layer in enumerate(self.vgg):
            if k in norms:
                out.append(norms[k](x))
            x = layer(x)
        out.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x))
            if k % 2 == 1:
                out.append(x)
        return out

    def forward(self, x):
        locs, confs, shapes = [], [], []
        for i, s in enumerate(self.sources(x)):
            c = self.conf[i](s)
            if i == 0:  # max-out background
                c = torch.cat([c[:, :3].max(1, keepdim=True).values, c[:, 3:]], 1)
            locs.append(self.loc[i](s).permute(0, 2, 3, 1).reshape(len(x), -1, 4))
            confs.append(c.permute(0, 2, 3, 1).reshape(len(x), -1, 2))
            shapes.append(tuple(s.shape[-2:]))
        self.feature_shapes = shapes
        return torch.cat(locs, 1), torch.cat(confs, 1).softmax(-1)[..., 1]


def anchors(height: int, width: int, shapes: list[tuple[int, int]]) -> torch.Tensor:
    """`[P, 4]` (cx, cy, w, h) as fractions of the input: per level k, cell (i, j) of its `shapes[k]` map
    is centred at ((j + 0.5) step / W, (i + 0.5) step / H) with side ANCHORS[k] px."""
    rows = []
    for (fh, fw), step, size in zip(shapes, STEPS, ANCHORS, strict=True):
        i, j = torch.meshgrid(torch.arange(fh, dtype=torch.float64), torch.arange(fw, dtype=torch.float64), indexing="ij")
        cx, cy = (j.flatten() + 0.5) * step / width, (i.flatten() + 0.5) * step / height
        rows.append(torch.stack([cx, cy, torch.full_like(cx, size / width), torch.full_like(cx, size / height)], 1))
    return torch.cat(rows).float()


def decode(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Offsets `[P, 4]` on anchors `[P, 4]` (cx, cy, w, h) -> corners (x1, y1, x2, y2), fractions of the input."""
    centre = priors[:, :2] + loc[:, :2] * VARIANCE[0] * priors[:, 2:]
    size = priors[:, 2:] * torch.exp(loc[:, 2:] * VARIANCE[1])
    return torch.cat([centre - size / 2, centre + size / 2], 1)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, thresh: float, top_k: int | None = None) -> np.ndarray:
    """Indices kept, best first: repeatedly take the best remaining box and drop those overlapping it with
    IoU > thresh (areas without the +1 pixel); only the `top_k` best are considered."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]))
        h = np.maximum(0.0, np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]))
        inter = w * h
        order = rest[inter / (area[i] + area[rest] - inter) <= thresh]
    return np.array(keep, int)


def preprocess(frame_rgb: np.ndarray, scale: float = SCALE) -> torch.Tensor:
    """uint8 RGB `[H, W, 3]` -> `[1, 3, h, w]` float, resized by `scale` (OpenCV bilinear), minus the mean."""
    import cv2

    small = cv2.resize(np.ascontiguousarray(frame_rgb), (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    x = small.astype(np.float32) - np.array(MEAN_RGB, np.float32)
    return torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()


def detect(model: S3FD, frame_rgb: np.ndarray, device: str = "cpu", conf_th: float = CONF_TH) -> np.ndarray:
    """One frame -> face boxes `[k, 4]` (x1, y1, x2, y2) in the frame's pixels."""
    x = preprocess(frame_rgb).to(device)
    with torch.no_grad():
        loc, face = model(x)
    boxes = decode(loc[0].cpu(), anchors(x.shape[2], x.shape[3], model.feature_shapes)).numpy().astype(np.float64)
    scores = face[0].cpu().numpy().astype(np.float64)
    cand = np.nonzero(scores > PRE_THRESH)[0]
    kept = cand[greedy_nms(boxes[cand], scores[cand], PRE_NMS, PRE_TOP_K)][:KEEP]
    kept = kept[scores[kept] > conf_th]
    h, w = frame_rgb.shape[:2]
    full = boxes[kept] * np.array([w, h, w, h], np.float64)
    return full[greedy_nms(full, scores[kept], FINAL_NMS)] if len(kept) else np.zeros((0, 4))
