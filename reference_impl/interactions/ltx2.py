"""`ltx2`: LTX-2-style separate a2v and v2a cross-attention after the text cross-attention.

Both sides are RMS-normed and adaLN-modulated by their own stream's timestep (scale, shift), the
output is scaled by a linear adaLN gate `g(t)` (not tanh), and q/k carry a 1-D RoPE over absolute
seconds. Inner width = the audio width. The adaLN projections and tables start at zero, so the
branch starts closed."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..streams.rope import Rotary, apply_rope
from .base import CrossModalProjections, Interaction, StreamState, only_where, partner_attention
from .tarp import aligned_rope_angles


def _rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class AdaLNModulation(nn.Module):
    """`table + Linear(SiLU(e))` -> `n` chunks `[B, 1, dim]`, all zero at init."""

    def __init__(self, dim: int, n: int):
        super().__init__()
        self.n = n
        self.table = nn.Parameter(torch.zeros(1, n, dim))
        self.linear = nn.Linear(dim, n * dim)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, e):
        return (self.table.float() + self.linear(F.silu(e)).float().unflatten(1, (self.n, -1))).chunk(self.n, dim=1)


class LTX2CrossAttention(nn.Module):
    def __init__(self, dim_q: int, dim_kv: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = CrossModalProjections(dim_q, dim_kv, cfg.audio_dim, cfg.cross_head_dim, cfg.eps, zero_out=False,
                                          pre_norm=False)
        self.mod_q = AdaLNModulation(dim_q, 3)  # shift, scale, gate
        self.mod_kv = AdaLNModulation(dim_kv, 2)  # shift, scale

    def forward(self, xq, xkv, sq: StreamState, skv: StreamState):
        shift_q, scale_q, gate = self.mod_q(sq.e)
        shift_k, scale_k = self.mod_kv(skv.e)
        hq = (_rms(xq, self.cfg.eps) * (1 + scale_q) + shift_q).to(xq.dtype)
        hkv = (_rms(xkv, self.cfg.eps) * (1 + scale_k) + shift_k).to(xkv.dtype)
        q, (k, v) = self.proj.queries(hq), self.proj.keys_values(hkv)
        rate, d, theta = self.cfg.tarp_rope_rate or self.cfg.audio_token_rate, self.proj.head_dim, self.cfg.rope_theta
        q = apply_rope(q, sq.cached("seconds_rope", lambda: Rotary(aligned_rope_angles(sq.times, d, rate, theta))))
        k = apply_rope(k, skv.cached("seconds_rope", lambda: Rotary(aligned_rope_angles(skv.times, d, rate, theta))))
        return only_where(sq.reads_partner, gate * self.proj.output(partner_attention(q, k, v, sq.reads_partner)))


class LTX2Interaction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.audio_to_video = LTX2CrossAttention(cfg.video_dim, cfg.audio_dim, cfg)
        self.video_to_audio = LTX2CrossAttention(cfg.audio_dim, cfg.video_dim, cfg)

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        return self.audio_to_video(xv, xa, sv, sa), self.video_to_audio(xa, xv, sa, sv)
