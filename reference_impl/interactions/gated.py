"""`gated`: bidirectional cross-attention behind a zero-initialised gate (the design CCL criticises).

`x += tanh(a) * xattn(x, other)` with a scalar `a = 0` at init, or (gate='gamma', as JavisDiT) a
zero-initialised per-channel `gamma`. The gate opening moves the pretrained stream off its manifold
(the paper's fault 1). Time alignment: none, or plain token-index RoPE (gated_rope='index')."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..streams.rope import Rotary, apply_rope, rope_angles_1d
from .base import CrossModalProjections, Interaction, StreamState, only_where, partner_attention


class GatedCrossAttention(nn.Module):
    def __init__(self, dim_q: int, dim_kv: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = CrossModalProjections(dim_q, dim_kv, cfg.audio_dim, cfg.cross_head_dim, cfg.eps, zero_out=False)
        self.gate = nn.Parameter(torch.zeros(1 if cfg.gate == "tanh" else dim_q))

    def forward(self, xq, xkv, sq: StreamState, skv: StreamState):
        q, k, v = self.proj.project(xq, xkv)
        if self.cfg.gated_rope == "index":  # token indices of two different rates: not aligned in time
            d = self.proj.head_dim
            q = apply_rope(q, sq.cached("index_rope", lambda: Rotary(rope_angles_1d(sq.positions, d))))
            k = apply_rope(k, skv.cached("index_rope", lambda: Rotary(rope_angles_1d(skv.positions, d))))
        reads_partner = sq.reads_partner
        out = self.proj.output(partner_attention(q, k, v))
        g = torch.tanh(self.gate) if self.cfg.gate == "tanh" else self.gate
        return only_where(reads_partner, g.float() * out)


class GatedInteraction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.video_from_audio = GatedCrossAttention(cfg.video_dim, cfg.audio_dim, cfg)
        self.audio_from_video = GatedCrossAttention(cfg.audio_dim, cfg.video_dim, cfg)

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        return self.video_from_audio(xv, xa, sv, sa), self.audio_from_video(xa, xv, sa, sv)
