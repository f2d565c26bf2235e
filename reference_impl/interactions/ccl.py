"""CCL's Cross-Modal Context Attention (CCA): Learnable Context Tokens (LCT), TARP, routed by DCR.

Per direction, the queries of one stream read `[K learnable context tokens; the partner's tokens]`:
- LCT are a stable unconditional anchor: a query with no acoustic/visual counterpart can put its
  mass on them, and a stream whose partner is absent (T2V, T2A, guidance's unconditional branch)
  reads only them. They pass the same pre-norm and k/v projections as partner tokens, no RoPE.
- TARP: q and k rotate by physical time (aligned RoPE); each query reads a window of the partner.
- No gate: a plain residual, with a zero-initialised output projection."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..streams.rope import Rotary, apply_rope, cached_rotary
from ..timing import time_key
from .base import CrossModalProjections, Interaction, StreamState, only_where, stream_projections
from .tarp import PartitionPlan, aligned_rope_angles, tarp_attention, tarp_plans


class LearnableContextTokens(nn.Module):
    """K learnable tokens `[K, dim]` in the partner's token space (dim = the partner stream's width)."""

    def __init__(self, count: int, dim: int):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(count, dim))


class CrossModalContextAttention(nn.Module):
    """One direction of CCA: queries of width `dim_q` read LCT + partner tokens of width `dim_kv`."""

    def __init__(self, dim_q: int, dim_kv: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = CrossModalProjections(dim_q, dim_kv, cfg.audio_dim, cfg.cross_head_dim, cfg.eps, zero_out=True)
        self.context_tokens = LearnableContextTokens(cfg.lct_tokens, dim_kv) if cfg.lct else None

    def rope_rate(self) -> float:
        return self.cfg.tarp_rope_rate or self.cfg.audio_token_rate

    def angles(self, times: torch.Tensor) -> torch.Tensor:
        return aligned_rope_angles(times, self.proj.head_dim, self.rope_rate(), self.cfg.rope_theta)

    def rotary(self, times: torch.Tensor) -> Rotary:
        return Rotary(self.angles(times))

    def qkv(self, xq, xkv, times_q, times_kv, rot_q: Rotary | None = None, rot_kv: Rotary | None = None,
            projected: tuple | None = None):
        """Projected q `[B, Nq, H, d]`, k, v `[B, Nk, H, d]`, with aligned RoPE if on (tables made from
        the times unless given), and the context tokens' k, v `[K, H, d]` (or None). projected: (q, k, v)
        before RoPE, already computed from xq and xkv (`stream_projections`), else projected here."""
        q, k, v = projected if projected is not None else self.proj.project(xq, xkv)
        if self.cfg.tarp_rope:
            q = apply_rope(q, rot_q if rot_q is not None else self.rotary(times_q))
            k = apply_rope(k, rot_kv if rot_kv is not None else self.rotary(times_kv))
        ck = cv = None
        if self.context_tokens is not None:
            tokens = self.proj.norm_in_kv(self.context_tokens.tokens.to(xkv.dtype))
            ck, cv = self.proj.keys_values(tokens)
        return q, k, v, ck, cv

    def forward(self, xq, xkv, times_q, times_kv, lo, hi, reads_partner, lct_on=None, rot_q=None, rot_kv=None,
                plan: PartitionPlan | None = None, lct_may_be_off: bool = True, partner_always: bool = False,
                projected: tuple | None = None):
        """xq `[B, Nq, Dq]`, xkv `[B, Nk, Dkv]`; times (s) `[Nq]`, `[Nk]`; key interval `[lo, hi)` of
        each query `[Nq]` (or its `plan`); reads_partner, lct_on `[B]` -> update `[B, Nq, Dq]`, exactly
        zero for an example with nothing to read (no partner, and no LCT or LCT switched off).
        One attention call whatever the route: where LCT are off, a key mask hides them.
        lct_may_be_off=False and partner_always=True (Python facts of the route: LCT on, partner read, for
        every example) drop those parts of the mask and the final zeroing. projected: see `qkv`."""
        q, k, v, ck, cv = self.qkv(xq, xkv, times_q, times_kv, rot_q, rot_kv, projected)  # [B, Nq, H, d], [B, Nk, H, d] x 2
        n_ctx = 0 if ck is None else ck.shape[0]
        plan = plan or PartitionPlan.make(lo, hi, xkv.shape[1], n_ctx, xq.device)
        if lct_on is None:
            lct_on, lct_may_be_off = torch.ones_like(reads_partner), False
        ctx_allowed = lct_on if lct_may_be_off else None
        out = self.proj.output(tarp_attention(q, k, v, plan, reads_partner, ck, cv, ctx_allowed, partner_always))  # [B, Nq, Dq]
        if partner_always:
            return out
        has_context = lct_on if ck is not None else torch.zeros_like(lct_on)
        return only_where(reads_partner | has_context, out)


class CCLInteraction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.video_from_audio = CrossModalContextAttention(cfg.video_dim, cfg.audio_dim, cfg)
        self.audio_from_video = CrossModalContextAttention(cfg.audio_dim, cfg.video_dim, cfg)

    def prepare(self, sv: StreamState, sa: StreamState) -> None:
        """Once per forward, outside the layers: partition plans and the aligned-RoPE tables."""
        sv.cache["tarp_plans"] = tarp_plans(self.cfg, sv.grid, len(sa.times), sv.times.device)
        vfa = self.video_from_audio  # both directions rotate with one head size, rate and theta
        key = ("tarp", time_key(self.cfg), vfa.rope_rate(), self.cfg.rope_theta, vfa.proj.head_dim, tuple(sv.grid),
               len(sa.times), str(sv.times.device))
        sv.cache["tarp_rope"] = cached_rotary((*key, "video"), lambda: vfa.angles(sv.times))
        sa.cache["tarp_rope"] = cached_rotary((*key, "audio"), lambda: vfa.angles(sa.times))

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        if "tarp_plans" not in sv.cache:
            self.prepare(sv, sa)
        plan_v, plan_a = sv.cache["tarp_plans"]
        rv, ra = sv.cache["tarp_rope"], sa.cache["tarp_rope"]
        vfa, afv = self.video_from_audio, self.audio_from_video
        # Each stream is normalised and projected once for both directions (its queries, its keys and values).
        qv, kv, vv = stream_projections(xv, vfa.proj, afv.proj)  # [B, Nv, H, d] x 3
        qa, ka, va = stream_projections(xa, afv.proj, vfa.proj)  # [B, Na, H, d] x 3
        dv = vfa(xv, xa, sv.times, sa.times, None, None, sv.reads_partner, sv.lct_on, rv, ra, plan_v,
                 sv.lct_may_be_off, sv.always_reads_partner, projected=(qv, ka, va))  # [B, Nv, Dv]
        da = afv(xa, xv, sa.times, sv.times, None, None, sa.reads_partner, sa.lct_on, ra, rv, plan_a,
                 sa.lct_may_be_off, sa.always_reads_partner, projected=(qa, kv, vv))  # [B, Na, Da]
        return dv, da
