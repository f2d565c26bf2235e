"""`ltx2`: LTX-2-style separate a2v and v2a cross-attention after the text cross-attention.

Both sides are RMS-normed and adaLN-modulated by their own stream's timestep (scale, shift), the
output is scaled by a linear adaLN gate `g(t)` (not tanh), and q/k carry a 1-D RoPE over absolute
seconds. Inner width = the audio width. As in LTX-2, the adaLN linears are global, one set per role
shared by every layer (`SharedAdaLN`, computed once per forward), plus a small per-layer table; both
start at zero, so the branch starts closed."""

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


class SharedAdaLN(nn.Module):
    """LTX-2's global adaLN of the cross-modal attention, one per role (video, audio), shared by every
    layer: `Linear(SiLU(e))` -> 5 chunks `[B, 1, dim]` per stream (as the query side of its own reading:
    shift, scale, gate; as the key side of the other's: shift, scale), computed once per forward.
    Zero at init, so each layer's branch starts at its table (zero too): closed."""

    CHUNKS = 5

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.video = nn.Linear(cfg.video_dim, self.CHUNKS * cfg.video_dim)
        self.audio = nn.Linear(cfg.audio_dim, self.CHUNKS * cfg.audio_dim)
        for lin in (self.video, self.audio):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, sv: StreamState, sa: StreamState) -> None:
        for state, lin in ((sv, self.video), (sa, self.audio)):
            state.cache["ltx2_adaln"] = lin(F.silu(state.e.to(lin.weight.dtype))).float().unflatten(1, (self.CHUNKS, -1))


class LayerTable(nn.Module):
    """The small per-layer table LTX-2 adds to the shared adaLN: `[1, 5, dim]`, zero at init."""

    def __init__(self, dim: int):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, SharedAdaLN.CHUNKS, dim))

    def forward(self, state: StreamState) -> tuple[torch.Tensor, ...]:
        """-> shift_q, scale_q, gate (this stream reading), shift_kv, scale_kv (this stream read), `[B, 1, dim]`."""
        return (self.table.float() + state.cache["ltx2_adaln"]).chunk(SharedAdaLN.CHUNKS, dim=1)


class LTX2CrossAttention(nn.Module):
    def __init__(self, dim_q: int, dim_kv: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = CrossModalProjections(dim_q, dim_kv, cfg.audio_dim, cfg.cross_head_dim, cfg.eps, zero_out=False,
                                          pre_norm=False)

    def forward(self, xq, xkv, sq: StreamState, skv: StreamState, mod_q, mod_kv):
        """xq `[B, Nq, Dq]`, xkv `[B, Nk, Dkv]`; mod_q, mod_kv: the two streams' 5 modulation chunks."""
        shift_q, scale_q, gate = mod_q[:3]
        shift_k, scale_k = mod_kv[3:]
        hq = (_rms(xq, self.cfg.eps) * (1 + scale_q) + shift_q).to(xq.dtype)  # [B, Nq, Dq]
        hkv = (_rms(xkv, self.cfg.eps) * (1 + scale_k) + shift_k).to(xkv.dtype)  # [B, Nk, Dkv]
        q, (k, v) = self.proj.queries(hq), self.proj.keys_values(hkv)  # [B, N, H, d]
        rate, d, theta = self.cfg.tarp_rope_rate or self.cfg.audio_token_rate, self.proj.head_dim, self.cfg.rope_theta
        q = apply_rope(q, sq.cached("seconds_rope", lambda: Rotary(aligned_rope_angles(sq.times, d, rate, theta))))
        k = apply_rope(k, skv.cached("seconds_rope", lambda: Rotary(aligned_rope_angles(skv.times, d, rate, theta))))
        return only_where(sq.reads_partner, gate * self.proj.output(partner_attention(q, k, v)))  # [B, Nq, Dq]


class LTX2Interaction(Interaction):
    """Per layer: the two attentions and the two small tables; the adaLN linears are `SharedAdaLN`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.audio_to_video = LTX2CrossAttention(cfg.video_dim, cfg.audio_dim, cfg)
        self.video_to_audio = LTX2CrossAttention(cfg.audio_dim, cfg.video_dim, cfg)
        self.video_table, self.audio_table = LayerTable(cfg.video_dim), LayerTable(cfg.audio_dim)

    @classmethod
    def make_shared(cls, cfg: ModelConfig) -> nn.Module:
        return SharedAdaLN(cfg)

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        mv, ma = self.video_table(sv), self.audio_table(sa)
        return self.audio_to_video(xv, xa, sv, sa, mv, ma), self.video_to_audio(xa, xv, sa, sv, ma, mv)
