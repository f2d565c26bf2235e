"""One interface for every cross-modal interaction: how one layer of the two streams runs.

The default layer is Wan's block order on both streams with an exchange after text cross-attention
(`x += exchange`), which suits CCL, gated and LTX-2; Ovi and joint attention override `run_layer`
because they act inside the text cross-attention or the self-attention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..streams.layers import LayerNorm32, RMSNorm, attention
from ..streams.stream import Perturbation, WanBlock


@dataclass
class StreamState:
    """What a stream carries through one forward. B batch, N tokens, D width, L text tokens."""

    e: torch.Tensor  # [B, D] time embedding (float32)
    e0: torch.Tensor  # [B, 6, D] block modulation from the time embedding (float32)
    angles: torch.Tensor  # self-attention RoPE: a Rotary over [N, d / 2] angles
    context: torch.Tensor  # [B, L, D] embedded text
    context_mask: torch.Tensor | None  # [B, L] bool, True = real token
    times: torch.Tensor  # [N] token centre times in seconds (float64)
    positions: torch.Tensor  # [N] time index of each token (video: latent frame, audio: token)
    grid: tuple[int, ...]  # video (f, h, w); audio (n,)
    reads_partner: torch.Tensor  # [B] bool: the route lets this stream read the other's tokens
    lct_on: torch.Tensor  # [B] bool: learnable context tokens readable (where the model has them)
    lct_may_be_off: bool = True  # a Python fact of the route: False when lct_on is known to be all True
    reads_partner_host: tuple[bool, ...] | None = None  # reads_partner's host values where the route knows them

    @property
    def always_reads_partner(self) -> bool:
        """A Python fact: every example reads its partner (per-example partner masks can be dropped)."""
        return self.reads_partner_host is not None and all(self.reads_partner_host)
    sa_perturb: Perturbation | None = None  # this layer's self-attention perturbed (a guidance pass), or None
    cache: dict = field(default_factory=dict)  # per-forward values every layer shares (rotary tables)

    def cached(self, key, make: Callable[[], object]):
        """`make()` once per forward: interactions build their RoPE tables here, not in every layer."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


class Interaction(nn.Module):
    """Runs one layer of both streams. Subclasses override `exchange` or `run_layer`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg

    @classmethod
    def make_shared(cls, cfg: ModelConfig) -> nn.Module | None:
        """A module every layer of this interaction shares (called once per forward with both states,
        before the layers, to fill their caches), or None."""
        return None

    def prepare(self, sv: StreamState, sa: StreamState) -> None:
        """Once per forward, before the layers (and outside any compiled region): fill the states'
        caches with what every layer shares (RoPE tables, partition plans). Nothing by default."""

    def run_layer(self, vb: WanBlock, ab: WanBlock, xv, xa, sv: StreamState, sa: StreamState):
        """xv `[B, Nv, Dv]`, xa `[B, Na, Da]` (float32 residual streams) -> both after this layer."""
        xv = vb.self_attention(xv, sv.e0, sv.angles, perturb=sv.sa_perturb)
        xa = ab.self_attention(xa, sa.e0, sa.angles, perturb=sa.sa_perturb)
        xv = vb.text_attention(xv, sv.context, sv.context_mask)
        xa = ab.text_attention(xa, sa.context, sa.context_mask)
        xv, xa = self.exchanged(xv, xa, sv, sa)
        return vb.feed_forward(xv, sv.e0), ab.feed_forward(xa, sa.e0)

    def exchanged(self, xv, xa, sv: StreamState, sa: StreamState):
        """Both residual streams after the exchange, `(xv + dv, xa + da)`: one region with `exchange`
        (`DualStreamModel.compile_blocks` compiles this), so the residual additions fuse with the output
        projections instead of writing and re-reading the updates in float32."""
        dv, da = self.exchange(xv, xa, sv, sa)  # both read the other's state before either changes
        return xv + dv, xa + da

    def exchange(self, xv, xa, sv: StreamState, sa: StreamState):
        """-> residual updates (dv `[B, Nv, Dv]`, da `[B, Na, Da]`); none by default."""
        return 0.0, 0.0


class NoExchange(Interaction):
    """`none`: two independent streams (the lower bound); also every layer without an interaction."""


class CrossModalProjections(nn.Module):
    """Pre-norms and q/k/v/o projections of one attention direction: queries from a stream of width
    `dim_q` read tokens of width `dim_kv`; `inner` wide in heads of `head_dim`, RMS-normed q and k."""

    def __init__(self, dim_q: int, dim_kv: int, inner: int, head_dim: int, eps: float, zero_out: bool,
                 pre_norm: bool = True):
        super().__init__()
        self.heads, self.head_dim = inner // head_dim, head_dim
        # Affine LayerNorms on both inputs; pre_norm=False for callers that normalise themselves (LTX-2).
        self.norm_in_q = LayerNorm32(dim_q, eps) if pre_norm else None
        self.norm_in_kv = LayerNorm32(dim_kv, eps) if pre_norm else None
        self.q, self.k, self.v = nn.Linear(dim_q, inner), nn.Linear(dim_kv, inner), nn.Linear(dim_kv, inner)
        self.o = nn.Linear(inner, dim_q)
        self.norm_q, self.norm_k = RMSNorm(inner, eps), RMSNorm(inner, eps)
        if zero_out:  # the branch starts at exactly zero, so a pretrained stream starts where it was
            nn.init.zeros_(self.o.weight)
            nn.init.zeros_(self.o.bias)

    def split(self, x):
        return x.unflatten(-1, (self.heads, self.head_dim))

    def queries(self, hq):
        return self.split(self.norm_q(self.q(hq)))

    def keys_values(self, hkv):
        return self.split(self.norm_k(self.k(hkv))), self.split(self.v(hkv))

    def project(self, xq, xkv):
        """Pre-norm then project: q `[B, Nq, H, d]`, k, v `[B, Nk, H, d]`."""
        return (self.queries(self.norm_in_q(xq)), *self.keys_values(self.norm_in_kv(xkv)))

    def output(self, out):
        return self.o(out.flatten(-2)).float()


def standardized(x: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm without its affine over the last dim, computed in float32 (under autocast too) -> x's dtype."""
    return F.layer_norm(x.float(), x.shape[-1:], None, None, eps).type_as(x)


def folded(norm: LayerNorm32, linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """The pre-norm's affine folded into the projection that reads it, so `linear(norm(x))` equals
    `F.linear(standardized(x), w, b)`: w = W diag(gamma) `[out, in]`, b = W beta + bias `[out]`, float32.
    Its gradients reach gamma and beta through w and b, so the backward needs no per-token column sums."""
    weight = linear.weight.float()
    return weight * norm.weight.float(), weight @ norm.bias.float() + linear.bias.float()


def stream_projections(x: torch.Tensor, reads: CrossModalProjections, read_by: CrossModalProjections):
    """One stream's tokens x `[B, N, D]` projected for both directions of an exchange from one LayerNorm
    pass and one matrix product: its queries where it reads the partner (`reads`) and its keys and values
    where the partner reads it (`read_by`) -> q `[B, N, H, d]` (RMS-normed), k (RMS-normed), v `[B, N, H', d']`.
    Equal to `reads.queries(reads.norm_in_q(x))` and `read_by.keys_values(read_by.norm_in_kv(x))`; at Wan
    scale it halves the LayerNorm passes over the 18,480 video tokens and their backward (issue 12's time share)."""
    if reads.norm_in_q.eps != read_by.norm_in_kv.eps:
        raise ValueError(f"one LayerNorm pass needs one eps: {reads.norm_in_q.eps} vs {read_by.norm_in_kv.eps}")
    h = standardized(x, reads.norm_in_q.eps)
    parts = (folded(reads.norm_in_q, reads.q), folded(read_by.norm_in_kv, read_by.k),
             folded(read_by.norm_in_kv, read_by.v))
    w = torch.cat([p[0] for p in parts]).to(h.dtype)  # [Hq dq + 2 H' d', D]; autocast casts it where on
    b = torch.cat([p[1] for p in parts]).to(h.dtype)
    q, k, v = F.linear(h, w, b).split([p[1].shape[0] for p in parts], dim=-1)
    return reads.split(reads.norm_q(q)), read_by.split(read_by.norm_k(k)), read_by.split(v)


def partner_attention(q, k, v):
    """Full attention to the partner's tokens, unmasked (the flash kernel): the caller zeroes the
    branch with `only_where` for the examples whose route gives no partner."""
    return attention(q, k, v)


def only_where(active: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """Zero a branch's update `[B, N, D]` exactly (output bias included) where `active` `[B]` is False."""
    return torch.where(active[:, None, None], update, torch.zeros((), dtype=update.dtype, device=update.device))
