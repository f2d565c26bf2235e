"""Temporally Aligned RoPE and Partitioning (TARP): the maths, as pure functions.

Aligned RoPE: queries and keys of both modalities rotate by their token's physical time, with the
same frequency bands, so equal times give equal phase. Partitioning: each query reads only a window
of the other modality. Following one public reading [design]: with `c = N_audio // F` audio tokens
per video frame, video frame `i` reads the `k c` audio tokens centred at `c // 2 + c i`, and audio
token `j` reads the video tokens of frame `j F // N_audio` (or `n` frames centred there).

Every window is a contiguous key interval `[lo, hi)`. `partitioned_attention` gathers each run of
queries that share an interval and its keys, so its cost grows with `N_query x window`, never
`N_query x N_key`; `dense_partitioned_attention` is the masked reference it must equal."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..streams.layers import attention
from ..streams.rope import rope_angles_1d


def aligned_rope_angles(times_s: torch.Tensor, head_dim: int, rate: float, theta: float = 1e4) -> torch.Tensor:
    """times `[N]` seconds -> angles `[N, head_dim / 2]`: 1-D RoPE at position `time * rate`."""
    return rope_angles_1d(times_s * rate, head_dim, theta)


def video_query_intervals(frames: int, tokens_per_frame: int, audio_tokens: int, window: int):
    """Audio key interval `[lo, hi)` of each video token `[frames * tokens_per_frame]` (raster order)."""
    c = max(1, audio_tokens // frames)
    s = window * c
    centre = c // 2 + c * torch.arange(frames)
    lo = (centre - s // 2).clamp(0, audio_tokens)
    hi = (centre - s // 2 + s).clamp(0, audio_tokens)
    return lo.repeat_interleave(tokens_per_frame), hi.repeat_interleave(tokens_per_frame)


def audio_query_intervals(audio_tokens: int, frames: int, tokens_per_frame: int, window_frames: int):
    """Video key interval `[lo, hi)` of each audio token `[audio_tokens]`: whole frames around `j F // N_audio`."""
    f = torch.arange(audio_tokens) * frames // audio_tokens
    half = (window_frames - 1) // 2
    lo = (f - half).clamp(0, frames) * tokens_per_frame
    hi = (f + half + 1).clamp(0, frames) * tokens_per_frame
    return lo, hi


def interval_mask(lo: torch.Tensor, hi: torch.Tensor, keys: int) -> torch.Tensor:
    """`[Nq, keys]` bool: key n is inside query q's interval."""
    n = torch.arange(keys, device=lo.device)
    return (n[None] >= lo[:, None]) & (n[None] < hi[:, None])


def dense_partitioned_attention(q, k, v, lo, hi, partner_allowed, context_k=None, context_v=None):
    """Reference: full attention with a mask. q `[B, Nq, H, d]`, k/v `[B, Nk, H, d]`, lo/hi `[Nq]`,
    partner_allowed `[B]` bool; context_k/v `[K, H, d]` always readable (learnable context tokens)."""
    b, nk = q.shape[0], k.shape[1]
    mask = interval_mask(lo, hi, nk)[None] & partner_allowed[:, None, None]  # [B, Nq, Nk]
    if context_k is not None:
        kk = context_k.shape[0]
        k = torch.cat([context_k.expand(b, -1, -1, -1).to(k.dtype), k], 1)
        v = torch.cat([context_v.expand(b, -1, -1, -1).to(v.dtype), v], 1)
        mask = torch.cat([torch.ones(b, q.shape[1], kk, dtype=torch.bool, device=q.device), mask], 2)
    return attention(q, k, v, mask[:, None])


def query_groups(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split queries (in order) into runs sharing one interval: start, length, lo, hi `[G]` each."""
    change = torch.ones(len(lo), dtype=torch.bool, device=lo.device)
    change[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    start = torch.nonzero(change).flatten()
    length = torch.diff(start, append=torch.tensor([len(lo)], device=lo.device))
    return start, length, lo[start], hi[start]


@dataclass(frozen=True)
class PartitionPlan:
    """Index tensors for `partitioned_attention`, made once per shape on the host (so the attention
    itself has no device-to-host sync and can be captured in a CUDA graph). G groups of at most Lq
    queries, each reading at most Lk keys."""

    q_idx: torch.Tensor  # [G, Lq] query index (clamped), long
    q_out: torch.Tensor  # [Nq] long: where each query's output sits in the flattened [G * Lq] result
    k_idx: torch.Tensor  # [G, Lk] key index (clamped), long
    k_valid: torch.Tensor  # [G, Lk] bool: inside the group's interval

    @classmethod
    def make(cls, lo: torch.Tensor, hi: torch.Tensor, num_keys: int, device=None) -> PartitionPlan:
        lo, hi = lo.cpu(), hi.cpu()
        start, length, glo, ghi = query_groups(lo, hi)
        lq, lk = int(length.max()), max(1, int((ghi - glo).max()))
        q_idx = start[:, None] + torch.arange(lq)[None]
        q_valid = torch.arange(lq)[None] < length[:, None]
        k_idx = glo[:, None] + torch.arange(lk)[None]
        k_valid = k_idx < ghi[:, None]
        # An index, not a boolean mask: selecting by a mask needs a device-to-host sync (no CUDA graphs).
        q_out = torch.nonzero(q_valid.flatten()).flatten()
        return cls(q_idx.clamp(max=len(lo) - 1).to(device), q_out.to(device),
                   k_idx.clamp(max=max(num_keys - 1, 0)).to(device), k_valid.to(device))

    @property
    def cost(self) -> int:
        """Attention scores computed: groups x padded queries x padded keys."""
        return self.q_idx.numel() * self.k_idx.shape[1]


def partitioned_attention(q, k, v, lo, hi, partner_allowed, context_k=None, context_v=None, plan: PartitionPlan | None = None):
    """Same result as `dense_partitioned_attention`, computed per query group on gathered blocks:
    `[B, G, Lq, H, d]` queries against `[B, G, K + Lk, H, d]` keys, padded where groups are ragged.
    plan: the precomputed indices for (lo, hi) (made here, with a host sync, if not given)."""
    b, nq, h, d = q.shape
    plan = plan or PartitionPlan.make(lo, hi, k.shape[1], q.device)
    dev = q.device
    qg = q[:, plan.q_idx]  # [B, G, Lq, H, d]
    kg = k[:, plan.k_idx]
    vg = v[:, plan.k_idx]
    mask = plan.k_valid[None] & partner_allowed[:, None, None]  # [B, G, Lk]
    if context_k is not None:
        g, kk = plan.q_idx.shape[0], context_k.shape[0]
        kg = torch.cat([context_k.to(kg.dtype).expand(b, g, -1, -1, -1), kg], 2)
        vg = torch.cat([context_v.to(vg.dtype).expand(b, g, -1, -1, -1), vg], 2)
        mask = torch.cat([torch.ones(b, g, kk, dtype=torch.bool, device=dev), mask], 2)
    out = attention(qg, kg, vg, mask[:, :, None, None, :])  # [B, G, Lq, H, d]
    return out.reshape(b, -1, h, d).index_select(1, plan.q_out)
