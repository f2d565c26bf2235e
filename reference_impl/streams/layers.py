"""Small building blocks shared by the streams and the interactions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """RMS norm over the last dim with a learned scale (Wan's q/k norm), computed in float32."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), self.weight.shape, self.weight.float(), self.eps).type_as(x)


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 (under bf16 autocast too), result in the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).type_as(x)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of `t * 1000` (t in [0, 1]): `[B] -> [B, dim]`, cos half first, then sin."""
    half = dim // 2
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angles = (t.double() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).float()


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention on `[..., N, heads, d]` tensors -> `[..., Nq, heads, d]`.

    mask: bool, broadcastable to `[..., heads, Nq, Nk]`, True = may attend. It is passed on as given
    (a key mask `[..., 1, 1, Nk]` stays that size: no `[heads, Nq, Nk]` tensor is ever made, and the
    fused kernels take it); None runs the flash kernel where there is one. A query whose keys are all
    masked gets an exact zero output (never NaN): it has nothing to read."""
    lead = q.shape[:-3]
    # The fused kernels (flash, memory-efficient) take 4-D [batch, heads, N, d] only; more leading dims
    # (TARP's per-partition blocks) would fall back to the unfused math kernel, so fold them into one.
    q, k, v = (x.reshape(-1, *x.shape[-3:]).transpose(1, 2) for x in (q, k, v))  # -> [B', heads, N, d]
    if mask is None:
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        mask = mask.expand(*lead, *mask.shape[-3:]).reshape(-1, *mask.shape[-3:])  # fold the lead dims only
        any_key = mask.any(-1, keepdim=True)  # [B', 1 | heads, 1 | Nq, 1]
        safe = mask | ~any_key  # rows with no key attend everything, then are zeroed below
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe)
        out = torch.where(any_key, out, torch.zeros((), dtype=out.dtype, device=out.device))
    out = out.transpose(1, 2)  # [B', N, heads, d]
    return out.reshape(*lead, *out.shape[1:])


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax weights `[..., heads, Nq, Nk]` that `attention` uses (for tests and inspection)."""
    q, k = q.transpose(-3, -2).float(), k.transpose(-3, -2).float()
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    w = torch.softmax(logits, dim=-1)
    return torch.nan_to_num(w, nan=0.0)


class FeedForward(nn.Sequential):
    """Linear, GELU(tanh), Linear: Wan's FFN (`ffn.0`, `ffn.2`)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
