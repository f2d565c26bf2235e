"""CCL's Cross-Modal Context Attention (CCA): Learnable Context Tokens (LCT), TARP, routed by DCR.

Per direction, the queries of one stream read `[K learnable context tokens; the partner's tokens]`:
- LCT are a stable unconditional anchor: a query with no acoustic/visual counterpart can put its
  mass on them, and a stream whose partner is absent (T2V, T2A, guidance's unconditional branch)
  reads only them. They pass the same pre-norm and k/v projections as partner tokens, no RoPE.
- TARP: q and k rotate by physical time (aligned RoPE); each query reads a window of the partner.
- No gate: a plain residual, with a zero-initialised output projection."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from ..config import ModelConfig
from ..streams.rope import Rotary, apply_rope
from .base import CrossModalProjections, Interaction, StreamState, only_where
from .tarp import PartitionPlan, aligned_rope_angles, audio_query_intervals, partitioned_attention, video_query_intervals


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

    def rotary(self, times: torch.Tensor) -> Rotary:
        return Rotary(aligned_rope_angles(times, self.proj.head_dim, self.rope_rate(), self.cfg.rope_theta))

    def qkv(self, xq, xkv, times_q, times_kv, rot_q: Rotary | None = None, rot_kv: Rotary | None = None):
        """Projected q `[B, Nq, H, d]`, k, v `[B, Nk, H, d]`, with aligned RoPE if on (tables made from
        the times unless given), and the context tokens' k, v `[K, H, d]` (or None)."""
        q, k, v = self.proj.project(xq, xkv)
        if self.cfg.tarp_rope:
            q = apply_rope(q, rot_q if rot_q is not None else self.rotary(times_q))
            k = apply_rope(k, rot_kv if rot_kv is not None else self.rotary(times_kv))
        ck = cv = None
        if self.context_tokens is not None:
            tokens = self.proj.norm_in_kv(self.context_tokens.tokens.to(xkv.dtype))
            ck, cv = self.proj.keys_values(tokens)
        return q, k, v, ck, cv

    def forward(self, xq, xkv, times_q, times_kv, lo, hi, reads_partner, lct_on=None, rot_q=None, rot_kv=None,
                plan: PartitionPlan | None = None, lct_may_be_off: bool = True):
        """xq `[B, Nq, Dq]`, xkv `[B, Nk, Dkv]`; times (s) `[Nq]`, `[Nk]`; key interval `[lo, hi)` of
        each query `[Nq]`; reads_partner, lct_on `[B]` -> update `[B, Nq, Dq]`, exactly zero for an
        example with nothing to read (no partner, and no LCT or LCT switched off).
        lct_may_be_off=False (a Python fact of the route) skips the partner-alone path."""
        q, k, v, ck, cv = self.qkv(xq, xkv, times_q, times_kv, rot_q, rot_kv)
        plan = plan or PartitionPlan.make(lo, hi, xkv.shape[1], xq.device)
        out = self.proj.output(partitioned_attention(q, k, v, lo, hi, reads_partner, ck, cv, plan))
        if lct_on is None:
            lct_on, lct_may_be_off = torch.ones_like(reads_partner), False
        has_context = lct_on if ck is not None else torch.zeros_like(lct_on)
        if ck is not None and lct_may_be_off:
            # LCT switched off for some examples: those read the partner alone.
            alone = self.proj.output(partitioned_attention(q, k, v, lo, hi, reads_partner, plan=plan))
            out = torch.where(lct_on[:, None, None], out, alone)
        return only_where(reads_partner | has_context, out)


@lru_cache(maxsize=64)
def _intervals(frames, per_frame, n_audio, window, video_frames, partition, device):
    nv = frames * per_frame
    if not partition:  # one group each way: every query reads every partner token
        z = lambda n: torch.zeros(n, dtype=torch.long)  # noqa: E731
        (lo_v, hi_v), (lo_a, hi_a) = (z(nv), z(nv) + n_audio), (z(n_audio), z(n_audio) + nv)
    else:
        lo_v, hi_v = video_query_intervals(frames, per_frame, n_audio, window)
        lo_a, hi_a = audio_query_intervals(n_audio, frames, per_frame, video_frames)
    plan_v, plan_a = PartitionPlan.make(lo_v, hi_v, n_audio, device), PartitionPlan.make(lo_a, hi_a, nv, device)
    return (lo_v.to(device), hi_v.to(device), plan_v), (lo_a.to(device), hi_a.to(device), plan_a)


def tarp_intervals(cfg: ModelConfig, video_grid, n_audio: int, device):
    """Key intervals and their partition plans: ((lo, hi, plan) of the video queries over audio keys,
    (lo, hi, plan) of the audio queries over video keys). Cached per shape; made on the host."""
    f, h, w = video_grid
    return _intervals(f, h * w, n_audio, cfg.tarp_window, cfg.tarp_video_frames, cfg.tarp_partition, str(device))


class CCLInteraction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.video_from_audio = CrossModalContextAttention(cfg.video_dim, cfg.audio_dim, cfg)
        self.audio_from_video = CrossModalContextAttention(cfg.audio_dim, cfg.video_dim, cfg)

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        (lo_v, hi_v, plan_v), (lo_a, hi_a, plan_a) = tarp_intervals(self.cfg, sv.grid, xa.shape[1], xv.device)
        rv = sv.cached("tarp_rope", lambda: self.video_from_audio.rotary(sv.times))
        ra = sa.cached("tarp_rope", lambda: self.video_from_audio.rotary(sa.times))
        dv = self.video_from_audio(xv, xa, sv.times, sa.times, lo_v, hi_v, sv.reads_partner, sv.lct_on, rv, ra,
                                   plan_v, sv.lct_may_be_off)
        da = self.audio_from_video(xa, xv, sa.times, sv.times, lo_a, hi_a, sa.reads_partner, sa.lct_on, ra, rv,
                                   plan_a, sa.lct_may_be_off)
        return dv, da
