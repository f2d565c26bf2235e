"""Temporally Aligned RoPE and Partitioning (TARP): the maths, as pure functions.

Aligned RoPE: queries and keys of both modalities rotate by their token's physical time, with the
same frequency bands, so equal times give equal phase.

Partitioning: each query reads only a window of the other modality, by one of two rules
(`tarp_partition_rule`):
- `time` (default) [design]: video frame i reads the audio tokens whose centre time lies within
  `tarp_window` frame durations centred on the frame's centre time; audio token j reads the frame whose
  span holds its time (the nearest one where the audio outlasts the video) and `(tarp_video_frames - 1)
  / 2` frames either side. Windows follow the token times of `reference_impl.timing`, so they stay
  centred whatever the token ratio and with Wan's causal first latent frame.
- `index` (one public third-party reading): with `c = N_audio // F`, video frame i reads the `k c`
  audio tokens centred at `c // 2 + c i`, audio token j the frame `j F // N_audio`. It drifts from the
  frame's own time where `N_audio / F` is not whole (330 ms at Wan's 5 s: 21 frames, 157 tokens).

Every window is a contiguous key interval `[lo, hi)`. `tarp_attention` computes the windows on one of
six paths, chosen once per shape on the host by a cost rule (a `PartitionPlan`; never by timing):
- `full`: every query reads every key, plain attention (the flash kernel where nothing is masked);
- `varlen`: runs of queries sharing a window (video frames) as the sequences of one variable-length
  flash call (`torch.nn.attention.varlen`), each over its own packed keys (LCT, then its window): no
  mask and no copy of the queries, only of the few keys [GPU, half precision; elsewhere its fallback];
- `flex`: one FlexAttention call with a block mask (`torch.nn.attention.flex_attention`): blocks of
  128 queries x 128 keys outside every window are skipped, with no copy of the keys [GPU only: the
  fused kernel is compiled, and FlexAttention has no CPU backward];
- `math`: few queries over many keys (audio over video): scores made outright by two batched matmuls,
  masked by the windows (the fused kernels would run a handful of programs, the gather path copy every
  window's keys);
- `gather`: per query group on gathered blocks of keys (cost `N_query x window` plus the copy);
- `dense`: one attention call with the windows as a mask.
`dense_partitioned_attention` is the plain masked reference every path must equal."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..config import ModelConfig
from ..streams.layers import attention
from ..streams.rope import rope_angles_1d
from ..timing import audio_token_times, time_key, video_token_duration, video_token_spans, video_token_times

# The gather path is taken where it computes at most this fraction of the dense path's scores:
# gathering the blocks costs a copy of the keys, so a partition that saves little is not worth it.
PARTITIONED_MAX_COST = 0.5
# FlexAttention runs one program per (block of 128 queries, head, example): with fewer query blocks than
# this, most of a GPU's ~100+ multiprocessors would idle while a few programs walk every key block
# (TARP's audio queries: 157 tokens = 2 blocks), so the gather path, one batch entry per group, is kept.
FLEX_MIN_QUERY_BLOCKS = 16
# Its backward runs one program per (block of keys, head, example) for dK, dV, each walking every query
# block that reads it: with fewer key blocks than this (video queries over 157 audio tokens: 2 blocks),
# a few programs would walk ~150 query blocks each, so where gradients flow the plan's `grad_plan` runs.
FLEX_MIN_KEY_BLOCKS = 16
FLEX_BLOCK = 128  # FlexAttention's default block (queries and keys)
# The varlen path packs every run's keys (LCT + window) per example: taken where that copy is at most this
# share of the queries (video queries over audio: 21 frames x ~40 keys against 18,480 queries), so the call
# moves the queries once and little else. Audio queries over video would copy each frame's keys several times.
VARLEN_MAX_KEY_SHARE = 0.25
PATHS = ("auto", "full", "varlen", "flex", "math", "partitioned", "dense")  # `partitioned`: the gather path
_CPU_NAMES = {"gather": "partitioned", "dense": "dense", "math": "math", "flex": "flex"}  # choose_path's kinds as `path` names


def varlen_available() -> bool:
    """torch has the variable-length flash attention (`torch.nn.attention.varlen`, torch >= 2.9)."""
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def aligned_rope_angles(times_s: torch.Tensor, head_dim: int, rate: float, theta: float = 1e4) -> torch.Tensor:
    """times `[N]` seconds -> angles `[N, head_dim / 2]`: 1-D RoPE at position `time * rate`."""
    return rope_angles_1d(times_s * rate, head_dim, theta)


# ---- partition rules ---------------------------------------------------------------------------
def _ns(seconds: torch.Tensor | float) -> torch.Tensor:
    """Seconds -> whole nanoseconds (int64): window edges that fall exactly on a token's time are
    decided the same way on every machine, not by float rounding."""
    return torch.round(torch.as_tensor(seconds, dtype=torch.float64) * 1e9).long()


def video_query_intervals_by_time(frame_times: torch.Tensor, frame_duration: float, audio_times: torch.Tensor,
                                  window: float, tokens_per_frame: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio key interval `[lo, hi)` of each video token `[F * tokens_per_frame]` (raster order): the
    audio tokens `j` with `t_f - W / 2 <= t_j < t_f + W / 2`, `W = window x frame_duration` (s).
    frame_times `[F]`, audio_times `[Na]` (s, increasing)."""
    ta, tf, half = _ns(audio_times), _ns(frame_times), _ns(window * frame_duration / 2)
    lo = torch.searchsorted(ta, tf - half)  # first token at or after the window's start
    hi = torch.searchsorted(ta, tf + half)  # first token at or after its end
    return lo.repeat_interleave(tokens_per_frame), hi.repeat_interleave(tokens_per_frame)


def audio_query_intervals_by_time(audio_times: torch.Tensor, span_start: torch.Tensor, tokens_per_frame: int,
                                  window_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Video key interval `[lo, hi)` of each audio token `[Na]`: whole frames, the frame whose span
    holds the token's time (spans start at `span_start` `[F]` s and tile the clip) and
    `(window_frames - 1) / 2` either side. A token before the first or after the last span reads
    the nearest frame."""
    frames = len(span_start)
    f = (torch.searchsorted(_ns(span_start), _ns(audio_times), right=True) - 1).clamp(0, frames - 1)
    half = (window_frames - 1) // 2
    return (f - half).clamp(0, frames) * tokens_per_frame, (f + half + 1).clamp(0, frames) * tokens_per_frame


def video_query_intervals(frames: int, tokens_per_frame: int, audio_tokens: int, window: int):
    """Index rule: audio key interval `[lo, hi)` of each video token `[frames * tokens_per_frame]`."""
    c = max(1, audio_tokens // frames)
    s = window * c
    centre = c // 2 + c * torch.arange(frames)
    lo = (centre - s // 2).clamp(0, audio_tokens)
    hi = (centre - s // 2 + s).clamp(0, audio_tokens)
    return lo.repeat_interleave(tokens_per_frame), hi.repeat_interleave(tokens_per_frame)


def audio_query_intervals(audio_tokens: int, frames: int, tokens_per_frame: int, window_frames: int):
    """Index rule: video key interval `[lo, hi)` of each audio token: whole frames around `j F // N_audio`."""
    f = torch.arange(audio_tokens) * frames // audio_tokens
    half = (window_frames - 1) // 2
    lo = (f - half).clamp(0, frames) * tokens_per_frame
    hi = (f + half + 1).clamp(0, frames) * tokens_per_frame
    return lo, hi


def partition_intervals(cfg: ModelConfig, video_grid: tuple[int, int, int], n_audio: int):
    """((lo, hi) of the video queries over audio keys, (lo, hi) of the audio queries over video keys),
    each `[Nq]` int64 on the CPU, by the config's rule (or every key, with partitioning off)."""
    f, h, w = video_grid
    per_frame, nv = h * w, f * h * w
    if not cfg.tarp_partition:
        z = lambda n: torch.zeros(n, dtype=torch.long)  # noqa: E731
        return (z(nv), z(nv) + n_audio), (z(n_audio), z(n_audio) + nv)
    if cfg.tarp_partition_rule == "index":
        return (video_query_intervals(f, per_frame, n_audio, cfg.tarp_window),
                audio_query_intervals(n_audio, f, per_frame, cfg.tarp_video_frames))
    if cfg.tarp_partition_rule != "time":
        raise ValueError(f"tarp_partition_rule must be 'time' or 'index', got '{cfg.tarp_partition_rule}'")
    tv, ta = video_token_times(cfg, f), audio_token_times(cfg, n_audio)
    start, _ = video_token_spans(cfg, f)
    return (video_query_intervals_by_time(tv, video_token_duration(cfg), ta, cfg.tarp_window, per_frame),
            audio_query_intervals_by_time(ta, start, per_frame, cfg.tarp_video_frames))


def interval_mask(lo: torch.Tensor, hi: torch.Tensor, keys: int) -> torch.Tensor:
    """`[Nq, keys]` bool: key n is inside query q's interval."""
    n = torch.arange(keys, device=lo.device)
    return (n[None] >= lo[:, None]) & (n[None] < hi[:, None])


# ---- attention over the windows ------------------------------------------------------------------
def dense_partitioned_attention(q, k, v, lo, hi, partner_allowed, context_k=None, context_v=None, context_allowed=None):
    """Reference: full attention with a materialised mask. q `[B, Nq, H, d]`, k/v `[B, Nk, H, d]`, lo/hi
    `[Nq]`, partner_allowed `[B]` bool; context_k/v `[K, H, d]` (learnable context tokens), readable
    where context_allowed `[B]` (default everywhere)."""
    b, nk = q.shape[0], k.shape[1]
    mask = interval_mask(lo, hi, nk)[None] & partner_allowed[:, None, None]  # [B, Nq, Nk]
    if context_k is not None:
        kk = context_k.shape[0]
        k = torch.cat([context_k.expand(b, -1, -1, -1).to(k.dtype), k], 1)
        v = torch.cat([context_v.expand(b, -1, -1, -1).to(v.dtype), v], 1)
        ctx = torch.ones(b, dtype=torch.bool, device=q.device) if context_allowed is None else context_allowed
        mask = torch.cat([ctx[:, None, None].expand(b, q.shape[1], kk), mask], 2)
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
    """How `tarp_attention` computes one direction, made once per shape on the host (so the attention
    itself has no device-to-host sync and can be compiled or captured in a CUDA graph).

    `kind`: full | varlen | flex | math | gather | dense (see the module's docstring). Gather path: G groups of at most
    Lq queries, each reading at most Lk keys. Where the groups are equal consecutive runs (video frames)
    the queries are a view, not a gather; where they read disjoint consecutive blocks of keys (audio
    tokens of one frame each), so are the keys. Flex path: a block mask over `[K context; Nk partner]`
    keys (context first), every window as a `mask_mod` on the blocks it cuts."""

    num_queries: int
    num_keys: int
    kind: str
    q_idx: torch.Tensor | None  # gather: [G, Lq] query index (clamped), or None: queries.view(G, Lq)
    q_out: torch.Tensor | None  # gather: [Nq] where each query's output sits in the [G * Lq] result, or None
    k_idx: torch.Tensor | None  # gather: [G, Lk] key index (clamped), or None: keys.view(G, Lk)
    k_valid: torch.Tensor | None  # gather: [G, Lk] bool inside the group's interval, or None: all are
    interval: torch.Tensor | None  # dense, flex: [Nq, Nk] bool; math: [Nq, K + Nk] bool, context columns first
    groups: tuple[int, int, int]  # (G, Lq, Lk); dense, full, flex, math: (1, Nq, Nk)
    scores: int  # attention scores computed per (example, head), context tokens included
    block_mask: object | None = None  # flex: a `BlockMask` over [Nq, K + Nk]
    grad_plan: PartitionPlan | None = None  # auto flex with few key blocks: the plan where gradients flow
    varlen: VarlenLayout | None = None  # varlen: the packing of one example
    fallback: PartitionPlan | None = None  # varlen: the plan where the flash kernel cannot run (CPU, float32)

    @property
    def dense(self) -> bool:
        """One attention call over every key (masked or not)."""
        return self.kind in ("dense", "full")

    @property
    def full(self) -> bool:
        return self.kind == "full"

    @classmethod
    def make(cls, lo: torch.Tensor, hi: torch.Tensor, num_keys: int, context: int = 0, device=None,
             path: str = "auto", head_dim: int = 128) -> PartitionPlan:
        """lo, hi `[Nq]`; context: learnable context tokens every query reads too; path: one of `PATHS`
        (auto: `choose_path`'s cost rule; `partitioned` is the gather path); head_dim: the cost rule's."""
        if path not in PATHS:
            raise ValueError(f"tarp_attention_path must be one of {', '.join(PATHS)}, got '{path}'")
        lo, hi = lo.cpu(), hi.cpu()
        nq = len(lo)
        full = bool((lo == 0).all() and (hi == num_keys).all())
        dense_scores = nq * (context + num_keys)
        if full or path == "full":
            if not full:
                raise ValueError("tarp_attention_path 'full' needs windows that cover every key")
            return cls(nq, num_keys, "full", None, None, None, None, None, (1, nq, num_keys), dense_scores)
        start, length, glo, ghi = query_groups(lo, hi)
        g, lq, lk = len(start), int(length.max()), max(1, int((ghi - glo).max()))
        part_scores = g * lq * (context + lk)
        kind = {"partitioned": "gather", "flex": "flex", "dense": "dense", "math": "math", "varlen": "varlen"}.get(path)
        grad_plan = fallback = None
        on_gpu = torch.device(device or "cpu").type == "cuda"
        if kind is None:
            kind = choose_path(lo, hi, num_keys, context, on_gpu, head_dim)
            grad_kind = grad_path(kind, lo, hi, num_keys, context, head_dim)
            if grad_kind is not None:
                grad_plan = cls.make(lo, hi, num_keys, context, device, _CPU_NAMES[grad_kind], head_dim)
            if kind == "varlen":  # where the flash kernel cannot run: the rule's choice without it
                fallback = cls.make(lo, hi, num_keys, context, device,
                                    _CPU_NAMES[choose_path(lo, hi, num_keys, context, on_gpu, head_dim, varlen=False)], head_dim)
        if kind == "varlen":
            layout = VarlenLayout.make(start, length, glo, ghi, context)
            return cls(nq, num_keys, "varlen", None, None, None, None, interval_mask(lo, hi, num_keys).to(device),
                       (g, lq, lk), int((length * (context + ghi - glo)).sum()), varlen=layout.to(device), fallback=fallback)
        if kind == "flex":  # (the interval too: the dense path stands in where FLOPs are counted, see _flex_path)
            return cls(nq, num_keys, "flex", None, None, None, None, interval_mask(lo, hi, num_keys).to(device),
                       (1, nq, num_keys), flex_block_scores(lo, hi, num_keys, context),
                       _block_mask(lo, hi, num_keys, context, device), grad_plan)
        if kind in ("dense", "math"):
            interval = interval_mask(lo, hi, num_keys)
            if kind == "math":
                interval = torch.cat([torch.ones(nq, context, dtype=torch.bool), interval], 1)
            return cls(nq, num_keys, kind, None, None, None, None, interval.to(device), (1, nq, num_keys), dense_scores)
        q_idx = start[:, None] + torch.arange(lq)[None]
        q_valid = torch.arange(lq)[None] < length[:, None]
        k_idx = glo[:, None] + torch.arange(lk)[None]
        k_valid = k_idx < ghi[:, None]
        q_view = bool(q_valid.all()) and g * lq == nq  # equal consecutive runs: a reshape
        k_view = bool(k_valid.all()) and torch.equal(k_idx.flatten(), torch.arange(g * lk))
        # An index, not a boolean mask: selecting by a mask needs a device-to-host sync (no CUDA graphs).
        q_out = torch.nonzero(q_valid.flatten()).flatten()
        to = lambda x: x.to(device)  # noqa: E731
        return cls(nq, num_keys, "gather", None if q_view else to(q_idx.clamp(max=nq - 1)),
                   None if q_view else to(q_out), None if k_view else to(k_idx.clamp(max=max(num_keys - 1, 0))),
                   None if bool(k_valid.all()) else to(k_valid), None, (g, lq, lk), part_scores)


def flex_block_scores(lo: torch.Tensor, hi: torch.Tensor, num_keys: int, context: int = 0) -> int:
    """Scores the flex path computes per example and head: the `FLEX_BLOCK`-square blocks of
    `[Nq, K + Nk]` that hold at least one readable key (the context's blocks, and each window's), x the
    block area. lo, hi `[Nq]` (CPU)."""
    nq, nkb = len(lo), -(-(context + num_keys) // FLEX_BLOCK)
    key_block = torch.arange(nkb)
    first, last = (lo + context) // FLEX_BLOCK, (hi + context - 1) // FLEX_BLOCK  # [Nq]: the window's key blocks
    touched = (key_block[None] >= first[:, None]) & (key_block[None] <= last[:, None]) & (hi > lo)[:, None]
    if context:
        touched |= key_block[None] <= (context - 1) // FLEX_BLOCK
    pad = -nq % FLEX_BLOCK  # the last query block's missing rows touch nothing
    per_block = torch.nn.functional.pad(touched, (0, 0, 0, pad)).view(-1, FLEX_BLOCK, nkb).any(1)  # [Nq blocks, Nk blocks]
    return int(per_block.sum()) * FLEX_BLOCK * FLEX_BLOCK


def choose_path(lo: torch.Tensor, hi: torch.Tensor, num_keys: int, context: int, on_gpu: bool,
                head_dim: int = 128, varlen: bool | None = None) -> str:
    """The cost rule of `PartitionPlan.make` (auto) for windows `[lo, hi)` (not all full). Pure: from the
    windows' sizes only, never from timing. Per example and head:
    0. `varlen` on a GPU whose torch has it (`varlen`: None asks torch) where the packed keys of every run
       of queries (context + window) are at most `VARLEN_MAX_KEY_SHARE` of the queries;
    1. `flex` on a GPU where there are at least `FLEX_MIN_QUERY_BLOCKS` query blocks (enough programs),
       every window is non-empty and its computed blocks (x 128 x 128) are no more than the dense scores;
    2. with fewer query blocks (few queries over many keys), `math` where its materialised scores move
       fewer bytes than the gather path's copies: ~12 bytes a score (float32 written and read, bf16
       probabilities written and read) against ~8 d bytes a gathered key (k and v, written and read);
    3. `gather` where its scores are at most `PARTITIONED_MAX_COST` of the dense ones; else `dense`."""
    nq = len(lo)
    dense_scores = nq * (context + num_keys)
    if on_gpu and (varlen_available() if varlen is None else varlen):
        _, _, glo, ghi = query_groups(lo, hi)
        if int((context + ghi - glo).sum()) <= VARLEN_MAX_KEY_SHARE * nq:
            return "varlen"
    few_queries = -(-nq // FLEX_BLOCK) < FLEX_MIN_QUERY_BLOCKS
    if (on_gpu and not few_queries and bool((hi > lo).all())
            and flex_block_scores(lo, hi, num_keys, context) <= dense_scores):
        return "flex"
    start, length, glo, ghi = query_groups(lo, hi)
    lk = context + max(1, int((ghi - glo).max()))
    if few_queries and 12 * dense_scores < 8 * head_dim * len(start) * lk:
        return "math"
    part_scores = len(start) * int(length.max()) * lk
    return "gather" if part_scores <= PARTITIONED_MAX_COST * dense_scores else "dense"


def grad_path(kind: str, lo: torch.Tensor, hi: torch.Tensor, num_keys: int, context: int, head_dim: int = 128) -> str | None:
    """Where gradients flow, the path instead of `kind` (None: the same): a flex plan with fewer than
    `FLEX_MIN_KEY_BLOCKS` key blocks trains on the path the rule picks without flex."""
    if kind != "flex" or -(-(context + num_keys) // FLEX_BLOCK) >= FLEX_MIN_KEY_BLOCKS:
        return None
    return choose_path(lo, hi, num_keys, context, False, head_dim)


def _block_mask(lo: torch.Tensor, hi: torch.Tensor, num_keys: int, context: int, device):
    """FlexAttention `BlockMask` `[Nq, K + Nk]`: key n < K (a context token) or `lo_q <= n - K < hi_q`."""
    from torch.nn.attention.flex_attention import create_block_mask

    lo_d, hi_d = (x.to(device) + context for x in (lo, hi))

    def in_window(b, h, q, n):
        return (n < context) | ((n >= lo_d[q]) & (n < hi_d[q]))

    return create_block_mask(in_window, None, None, len(lo), context + num_keys, device=str(torch.device(device or "cpu")),
                             BLOCK_SIZE=FLEX_BLOCK)


_COMPILED_FLEX = None
FLEX_UNFUSED: str | None = None  # why FlexAttention runs unfused on a GPU (its compilation failed), or None


def _dispatch_mode_on() -> bool:
    """A Python dispatch mode is active (torch's FLOP counter): FlexAttention's operator has no rule for
    such modes in every torch version, so the dense masked path (the same function) runs instead."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return _get_current_dispatch_mode() is not None


def _flex_attention(q, k, v, score_mod, block_mask):
    """FlexAttention `[B, H, N, d]`: its fused (compiled) kernel on a GPU; inside a compiled region the
    caller's compilation traces it; on a CPU the unfused reference (tests)."""
    import warnings

    from torch.nn.attention.flex_attention import flex_attention

    global _COMPILED_FLEX, FLEX_UNFUSED
    if torch.compiler.is_compiling():  # traced into the caller's graph (no context manager here: a graph break)
        return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)
    if q.device.type == "cuda" and FLEX_UNFUSED is None:
        if _COMPILED_FLEX is None:
            _COMPILED_FLEX = torch.compile(flex_attention, dynamic=False)  # one kernel per shape
        try:
            return _COMPILED_FLEX(q, k, v, score_mod=score_mod, block_mask=block_mask)
        except Exception as exc:  # noqa: BLE001 - a compiler fault: the same function, unfused, and say so
            FLEX_UNFUSED = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            warnings.warn(f"FlexAttention's fused kernel failed to compile ({FLEX_UNFUSED}); running it unfused",
                          stacklevel=2)
    with warnings.catch_warnings():  # the unfused reference warns that it is unfused
        warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
        return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


def _key_mask(b, n_context, n_keys, partner_allowed, context_allowed, device):
    """Per-example key mask `[B, K + Nk]`: the context tokens where allowed, then the partner's."""
    parts = []
    if n_context:
        ctx = torch.ones(b, dtype=torch.bool, device=device) if context_allowed is None else context_allowed
        parts.append(ctx[:, None].expand(b, n_context))
    parts.append(partner_allowed[:, None].expand(b, n_keys))
    return torch.cat(parts, 1)


def _with_context(k, v, context_k, context_v):
    """k, v `[B, Nk, H, d]` -> `[B, K + Nk, H, d]`, the context tokens first."""
    b = k.shape[0]
    return (torch.cat([context_k.to(k.dtype).expand(b, -1, -1, -1), k], 1),
            torch.cat([context_v.to(v.dtype).expand(b, -1, -1, -1), v], 1))


def tarp_attention(q, k, v, plan: PartitionPlan, partner_allowed, context_k=None, context_v=None,
                   context_allowed=None, partner_always: bool = False):
    """`dense_partitioned_attention`'s result, on the plan's path. q `[B, Nq, H, d]`, k/v `[B, Nk, H, d]`,
    partner_allowed `[B]` bool, context_k/v `[K, H, d]` readable where context_allowed `[B]` (default:
    everywhere). partner_always: a Python fact that partner_allowed is all True (the per-example
    masking is then skipped). Masks stay per example (and per query window on the dense path), never
    `[.., Nq, Nk]` per head; the context tokens are part of the same single attention call."""
    if plan.grad_plan is not None and torch.is_grad_enabled() and (q.requires_grad or k.requires_grad):
        plan = plan.grad_plan  # a training step: the flex backward would run too few programs (see FLEX_MIN_KEY_BLOCKS)
    if plan.kind == "varlen" and plan.fallback is not None and not _varlen_kernel_runs(q):
        plan = plan.fallback  # a CPU or float32: the rule's choice without the flash kernel
    b, nq, h, d = q.shape
    kk = 0 if context_k is None else context_k.shape[0]
    if plan.kind == "varlen" and (torch.compiler.is_compiling() or not _dispatch_mode_on()):
        return _varlen_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always)
    if plan.kind == "flex" and (torch.compiler.is_compiling() or not _dispatch_mode_on()):
        return _flex_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always)
    if plan.kind == "math":
        return _math_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always)
    if plan.kind in ("dense", "full", "flex", "varlen"):  # flex, varlen here: under a dispatch mode (FLOP counting)
        if kk:
            k, v = _with_context(k, v, context_k, context_v)  # [B, K + Nk, H, d]
        mask = None
        if not (partner_always and context_allowed is None):
            mask = _key_mask(b, kk, plan.num_keys, partner_allowed, context_allowed, q.device)[:, None, None]  # [B, 1, 1, K + Nk]
        if plan.interval is not None:  # [1, 1, Nq, K + Nk]: one window per query, the same for every example
            own = torch.ones(nq, kk, dtype=torch.bool, device=q.device)
            window = torch.cat([own, plan.interval], 1)[None, None]
            mask = window if mask is None else mask & window
        return attention(q, k, v, mask)
    g, lq, lk = plan.groups
    qg = q.view(b, g, lq, h, d) if plan.q_idx is None else q[:, plan.q_idx]  # [B, G, Lq, H, d]
    kg = k.view(b, g, lk, h, d) if plan.k_idx is None else k[:, plan.k_idx]  # [B, G, Lk, H, d]
    vg = v.view(b, g, lk, h, d) if plan.k_idx is None else v[:, plan.k_idx]
    if kk:
        kg = torch.cat([context_k.to(kg.dtype).expand(b, g, -1, -1, -1), kg], 2)  # [B, G, K + Lk, H, d]
        vg = torch.cat([context_v.to(vg.dtype).expand(b, g, -1, -1, -1), vg], 2)
    if partner_always and context_allowed is None and plan.k_valid is None:
        mask = None  # every key of every block is read: the unmasked (flash) kernel
    else:
        mask = partner_allowed[:, None, None].expand(b, g, lk)  # [B, G, Lk]
        if plan.k_valid is not None:
            mask = mask & plan.k_valid[None]
        if kk:
            ctx = torch.ones(b, dtype=torch.bool, device=q.device) if context_allowed is None else context_allowed
            mask = torch.cat([ctx[:, None, None].expand(b, g, kk), mask], 2)
        mask = mask[:, :, None, None, :]  # [B, G, 1, 1, K + Lk]
    out = attention(qg, kg, vg, mask)  # [B, G, Lq, H, d]
    out = out.reshape(b, g * lq, h, d)
    return out if plan.q_out is None else out.index_select(1, plan.q_out)  # [B, Nq, H, d]


def _flex_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always):
    """One FlexAttention call over `[K context; Nk partner]` keys with the plan's block mask. The
    per-example switches (partner, context) act as a `score_mod`, so the block mask stays one per shape.
    An example that may read nothing reads every key of its windows instead (so no row is all -inf, whose
    softmax and gradient would be NaN) and its output is then zeroed."""
    kk = 0 if context_k is None else context_k.shape[0]
    if kk:
        k, v = _with_context(k, v, context_k, context_v)  # [B, K + Nk, H, d]
    score_mod = active = None
    if not (partner_always and context_allowed is None):
        b = q.shape[0]
        ctx = torch.ones(b, dtype=torch.bool, device=q.device) if context_allowed is None else context_allowed
        active = partner_allowed | ctx if kk else partner_allowed  # [B]: reads at least one key
        keep_ctx, keep_partner = ctx | ~active, partner_allowed | ~active  # [B] each

        def score_mod(score, b, h, qi, n):
            return torch.where(torch.where(n < kk, keep_ctx[b], keep_partner[b]), score, float("-inf"))

    out = _flex_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), score_mod, plan.block_mask)
    out = out.transpose(1, 2)  # [B, Nq, H, d]
    if active is not None:
        out = torch.where(active[:, None, None, None], out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out


@dataclass(frozen=True)
class VarlenLayout:
    """The varlen path's packing of one example: G runs of consecutive queries (a run shares one window),
    each a sequence over its packed keys `[K context; its window]`, the runs' key blocks one after another.
    Made on the host once per plan; the batch's sequence offsets are cached per batch size."""

    q_len: torch.Tensor  # [G] queries of each run (consecutive, in order)
    k_len: torch.Tensor  # [G] window keys of each run
    k_index: torch.Tensor  # [S] packed key -> index into [K context; Nk partner], S = G K + sum(k_len)
    k_is_context: torch.Tensor  # [S] bool: the packed key is a context token
    context: int
    max_q: int
    max_k: int
    cache: dict = field(default_factory=dict, compare=False, hash=False)  # (B, K + Nk, device) -> offsets()

    @classmethod
    def make(cls, start: torch.Tensor, length: torch.Tensor, glo: torch.Tensor, ghi: torch.Tensor, context: int) -> VarlenLayout:
        """From `query_groups`' runs (start, length, lo, hi `[G]`, CPU)."""
        idx, is_ctx = [], []
        for lo_g, hi_g in zip(glo.tolist(), ghi.tolist(), strict=True):
            idx += list(range(context)) + [context + n for n in range(lo_g, hi_g)]
            is_ctx += [True] * context + [False] * (hi_g - lo_g)
        k_len = ghi - glo
        return cls(length.to(torch.int32), k_len.to(torch.int32), torch.tensor(idx, dtype=torch.long),
                   torch.tensor(is_ctx, dtype=torch.bool), context, int(length.max()), context + int(k_len.max()))

    def to(self, device) -> VarlenLayout:
        return VarlenLayout(*(x.to(device) for x in (self.q_len, self.k_len, self.k_index, self.k_is_context)),
                            self.context, self.max_q, self.max_k)

    def offsets(self, b: int, nk_all: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every example reading everything: cu_q `[B G + 1]`, cu_k `[B G + 1]` (int32) and the packed keys'
        index `[B S]` into the batch's keys flattened `[B (K + Nk)]`."""
        key = (b, nk_all, str(device))
        if key not in self.cache:
            lens = (self.context + self.k_len).repeat(b)  # [B G]
            zero = torch.zeros(1, dtype=torch.int32, device=device)
            cu_q = torch.cat([zero, torch.cumsum(self.q_len.repeat(b), 0, dtype=torch.int32)])
            cu_k = torch.cat([zero, torch.cumsum(lens, 0, dtype=torch.int32)])
            index = (self.k_index[None] + nk_all * torch.arange(b, device=device)[:, None]).flatten()
            self.cache[key] = (cu_q, cu_k, index)
        return self.cache[key]


def _varlen_kernel_runs(q: torch.Tensor) -> bool:
    """torch's variable-length flash kernel takes these queries (a GPU, half precision)."""
    return q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and varlen_available()


def varlen_reference(q, k, v, cu_q, cu_k) -> torch.Tensor:
    """What the variable-length flash call computes, one sequence at a time (CPU, float32, tests): q
    `[Tq, H, d]`, k/v `[Tk, H, d]`, cu_q/cu_k `[N + 1]` -> `[Tq, H, d]`; a sequence with no key gives zeros."""
    out = torch.zeros_like(q)
    for qa, qb, ka, kb in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), cu_k[:-1].tolist(), cu_k[1:].tolist(), strict=True):
        if qb > qa and kb > ka:
            out[qa:qb] = attention(q[qa:qb][None], k[ka:kb][None], v[ka:kb][None])[0]
    return out


def _varlen_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always):
    """One variable-length flash call: sequence (example b, run g) = run g's queries of example b over its
    packed keys. Where every example reads everything, the offsets are fixed (cached). Otherwise the keys
    an example may not read (its partner's, or the context's) leave their sequences: the sequences shrink
    on the device (no host sync, fixed shapes) and the dropped keys go, in order, to one last sequence with
    no query (which computes nothing). An example that may read nothing reads every key of its windows
    instead (no empty softmax) and its output is then zeroed, as on the flex path."""
    lay = plan.varlen
    kk = lay.context
    if kk:
        k, v = _with_context(k, v, context_k, context_v)  # [B, K + Nk, H, d]
    b, nq, h, d = q.shape
    nk_all = k.shape[1]
    cu_q, cu_k, index = lay.offsets(b, nk_all, q.device)
    max_k, active = lay.max_k, None
    if not (partner_always and context_allowed is None):
        ctx = torch.ones(b, dtype=torch.bool, device=q.device) if context_allowed is None else context_allowed
        active = partner_allowed | ctx if kk else partner_allowed  # [B]: reads at least one key
        ctx_on, win_on = ctx | ~active, partner_allowed | ~active  # [B] each
        keep = torch.where(lay.k_is_context[None], ctx_on[:, None], win_on[:, None]).flatten()  # [B S]
        lens = kk * ctx_on[:, None].int() + lay.k_len[None] * win_on[:, None].int()  # [B, G]
        cu_k = torch.cat([cu_k[:1], torch.cumsum(lens.flatten(), 0, dtype=torch.int32), cu_k[-1:]])  # + the last
        cu_q = torch.cat([cu_q, cu_q[-1:]])  # the last sequence: no query
        index = index[torch.argsort((~keep).to(torch.uint8), stable=True)]  # kept keys first, in order
        max_k = max(max_k, index.numel())  # the last sequence may hold every key
    qp = q.reshape(b * nq, h, d)
    kp = k.reshape(b * nk_all, h, d).index_select(0, index)  # [B S, H, d]
    vp = v.reshape(b * nk_all, h, d).index_select(0, index)
    if _varlen_kernel_runs(q):
        from torch.nn.attention.varlen import varlen_attn

        out = varlen_attn(qp, kp, vp, cu_q, cu_k, lay.max_q, max_k)
    else:
        out = varlen_reference(qp, kp, vp, cu_q, cu_k)
    out = out.view(b, nq, h, d)
    if active is not None:
        out = torch.where(active[:, None, None, None], out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out


def _math_path(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed, partner_always):
    """Few queries over many keys (audio tokens over the video): the scores `[B, H, Nq, K + Nk]` made
    outright (two batched matmuls, which spread over the whole GPU) and masked by the plan's windows
    `[Nq, K + Nk]` and the per-example switches. A query with no key gets an exact zero."""
    kk = 0 if context_k is None else context_k.shape[0]
    if kk:
        k, v = _with_context(k, v, context_k, context_v)  # [B, K + Nk, H, d]
    mask = plan.interval[None, None]  # [1, 1, Nq, K + Nk]
    if not (partner_always and context_allowed is None):
        keys = _key_mask(q.shape[0], kk, plan.num_keys, partner_allowed, context_allowed, q.device)  # [B, K + Nk]
        mask = mask & keys[:, None, None]
    any_key = mask.any(-1, keepdim=True)  # [B | 1, 1, Nq, 1]
    scores = torch.einsum("bqhd,bnhd->bhqn", q, k).float() * q.shape[-1] ** -0.5  # [B, H, Nq, K + Nk]
    scores = scores.masked_fill(~(mask | ~any_key), float("-inf"))  # a row with no key reads all, zeroed below
    out = torch.einsum("bhqn,bnhd->bqhd", torch.softmax(scores, -1).to(v.dtype), v)  # [B, Nq, H, d]
    return torch.where(any_key[:, 0, :, :, None], out, torch.zeros((), dtype=out.dtype, device=out.device))


def partitioned_attention(q, k, v, lo, hi, partner_allowed, context_k=None, context_v=None,
                          plan: PartitionPlan | None = None, context_allowed=None):
    """`tarp_attention` on the gather path, the plan made here from (lo, hi) if not given."""
    k_ctx = 0 if context_k is None else context_k.shape[0]
    plan = plan or PartitionPlan.make(lo, hi, k.shape[1], k_ctx, q.device, path="partitioned")
    return tarp_attention(q, k, v, plan, partner_allowed, context_k, context_v, context_allowed)


_PLANS: dict[tuple, tuple[PartitionPlan, PartitionPlan]] = {}


def tarp_plans(cfg: ModelConfig, video_grid: tuple[int, int, int], n_audio: int, device) -> tuple[PartitionPlan, PartitionPlan]:
    """(plan of the video queries over audio keys, plan of the audio queries over video keys), made on
    the host once per configuration and shape, then reused (outside any compiled region)."""
    fields = ("tarp_partition", "tarp_partition_rule", "tarp_window", "tarp_video_frames", "tarp_attention_path",
              "lct", "lct_tokens", "cross_head_dim")
    key = (time_key(cfg), tuple(getattr(cfg, f) for f in fields), tuple(video_grid), n_audio, str(device))
    if key not in _PLANS:
        (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, video_grid, n_audio)
        k, path, nv = cfg.lct_tokens if cfg.lct else 0, cfg.tarp_attention_path, len(lo_v)
        hd = cfg.cross_head_dim
        _PLANS[key] = (PartitionPlan.make(lo_v, hi_v, n_audio, k, device, path, hd),
                       PartitionPlan.make(lo_a, hi_a, nv, k, device, path, hd))
    return _PLANS[key]
