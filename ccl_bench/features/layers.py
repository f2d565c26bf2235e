"""Layers shared by the transformer backbones of `features/` (CLAP's HTS-AT, ImageBind, Synchformer, PaSST)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    """A transformer block's feed-forward part: `[..., dim]` -> fc1 -> GELU (exact) -> fc2 -> `[..., dim]`
    (the attribute names are the checkpoints' keys)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))
