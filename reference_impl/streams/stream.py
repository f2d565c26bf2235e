"""The two streams: `VideoStream` (Wan2.1 T2V layout, loads its checkpoints) and `AudioStream`
(the same block type over 1-D audio latent tokens, with 1-D RoPE and its own width).

A block runs in three stages so an interaction can act between or inside them:
`self_attention` (adaLN-modulated, gated), `text_attention` (plain residual), `feed_forward` (gated)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..config import ModelConfig
from .layers import FeedForward, LayerNorm32, RMSNorm, attention, timestep_embedding
from .rope import Rotary, apply_rope, cached_rotary, grid_positions, rope_angles_1d, rope_angles_3d

# A hook adds an attention output `[B, N, heads, d]` to a cross-attention before its output projection.
AttentionHook = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Perturbation:
    """A perturbed self-attention (guidance passes), for the examples where `mask` `[B]` is True:
    `skip` drops the update (the layer's self-attention skipped, STG / Ovi's SLG); `values` replaces
    the attention by its values, each token reading only itself (LTX-2's perturbed pass)."""

    mode: str
    mask: torch.Tensor


class WanSelfAttention(nn.Module):
    """q, k, v, o Linear(dim, dim) with RMS norm of q and k over the whole width (`norm_q`, `norm_k`)."""

    def __init__(self, dim: int, heads: int, eps: float = 1e-6):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = RMSNorm(dim, eps), RMSNorm(dim, eps)

    def project_q(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_q(self.q(x)).unflatten(-1, (self.heads, self.head_dim))

    def project_kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x `[B, M, dim]` -> k, v `[B, M, heads, head_dim]` (k normed, no RoPE)."""
        k = self.norm_k(self.k(x)).unflatten(-1, (self.heads, self.head_dim))
        return k, self.v(x).unflatten(-1, (self.heads, self.head_dim))

    def forward(self, x, angles, extra: tuple | None = None, values_only: torch.Tensor | None = None):
        """x `[B, N, dim]`, angles a `Rotary` (or `[N, d/2]`); extra: (k, v, allowed[, allowed_host]) more keys
        `[B, M, heads, d]` (RoPE already applied) with `allowed` `[B]` bool, for joint attention over both
        streams; allowed_host: the same as host values (a tuple of bools) where the route knows them, or
        None; values_only `[B]` bool: those examples' attention replaced by their own values."""
        q = apply_rope(self.project_q(x), angles)  # [B, N, H, d]
        k, v = self.project_kv(x)  # [B, N, H, d] each
        k = apply_rope(k, angles)
        own_v = v
        if extra is None:
            out = attention(q, k, v)  # [B, N, H, d]
        else:
            out = _attention_with_extra_keys(q, k, v, *extra)
        if values_only is not None:
            out = torch.where(values_only[:, None, None, None], own_v, out)
        return self.o(out.flatten(-2))  # [B, N, dim]


def _attention_with_extra_keys(q, k, v, ek, ev, allowed, allowed_host: tuple[bool, ...] | None = None):
    """q `[B, N, H, d]` over `[k; ek]` where `allowed` `[B]`, else over k alone. With the host values known,
    no mask: each run of examples alike is one unmasked call over its own keys (the flash kernel); else a
    per-example key mask `[B, 1, 1, N + M]` (the memory-efficient kernel)."""
    if allowed_host is None:
        own = torch.ones(k.shape[0], k.shape[1], dtype=torch.bool, device=k.device)
        mask = torch.cat([own, allowed[:, None].expand(-1, ek.shape[1])], 1)[:, None, None, :]
        return attention(q, torch.cat([k, ek], 1), torch.cat([v, ev], 1), mask)
    outs, start = [], 0
    while start < len(allowed_host):  # runs of equal values (a plain loop: traced as such when compiled)
        on, end = allowed_host[start], start + 1
        while end < len(allowed_host) and allowed_host[end] == on:
            end += 1
        ks, vs = (torch.cat([a[start:end], b[start:end]], 1) if on else a[start:end] for a, b in ((k, ek), (v, ev)))
        outs.append(attention(q[start:end], ks, vs))  # [run, N, H, d]
        start = end
    return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


class WanTextCrossAttention(WanSelfAttention):
    """Cross-attention from the stream's tokens to the embedded text (Wan's `cross_attn`)."""

    def forward(self, x, context, context_mask=None, hook: AttentionHook | None = None):
        """x `[B, N, dim]`, context `[B, L, dim]`, context_mask `[B, L]` bool (True = real token).
        hook(q) adds another attention over the same queries before `o` (Ovi's fusion)."""
        q = self.project_q(x)  # [B, N, H, d]
        k, v = self.project_kv(context)  # [B, L, H, d]
        mask = None if context_mask is None else context_mask[:, None, None, :]
        out = attention(q, k, v, mask)  # [B, N, H, d]
        if hook is not None:
            out = out + hook(q)
        return self.o(out.flatten(-2))


class WanBlock(nn.Module):
    """`x += g_sa * self_attn(norm1(x) (1 + s_sa) + b_sa)`; `x += cross_attn(norm3(x), text)`;
    `x += g_ff * ffn(norm2(x) (1 + s_ff) + b_ff)`; (b, s, g) from `modulation + e0` `[B, 6, dim]`."""

    def __init__(self, dim: int, ffn_dim: int, heads: int, eps: float = 1e-6):
        super().__init__()
        self.norm1 = LayerNorm32(dim, eps, elementwise_affine=False)
        self.self_attn = WanSelfAttention(dim, heads, eps)
        self.norm3 = LayerNorm32(dim, eps, elementwise_affine=True)
        self.cross_attn = WanTextCrossAttention(dim, heads, eps)
        self.norm2 = LayerNorm32(dim, eps, elementwise_affine=False)
        self.ffn = FeedForward(dim, ffn_dim)
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / math.sqrt(dim))

    def mods(self, e0: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """e0 `[B, 6, dim]` float32 -> shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff `[B, 1, dim]`."""
        return (self.modulation.float() + e0).chunk(6, dim=1)

    def _modulate(self, x, e0) -> torch.Tensor:
        shift, scale = self.mods(e0)[:2]
        return self.norm1(x).float() * (1 + scale) + shift

    def modulated_input(self, x, e0) -> torch.Tensor:
        """The self-attention's input `norm1(x) (1 + s_sa) + b_sa` (joint attention reads it too).
        The stage methods never call one another, so each can be an FSDP2 forward method."""
        return self._modulate(x, e0)

    def self_attention(self, x, e0, angles, extra=None, perturb: Perturbation | None = None):
        """perturb: a guidance pass's perturbation of this layer's self-attention (or None)."""
        gate = self.mods(e0)[2]
        values_only = perturb.mask if perturb is not None and perturb.mode == "values" else None
        y = self.self_attn(self._modulate(x, e0).to(_compute_dtype(x, self.self_attn.q.weight)), angles, extra, values_only)
        y = y.float() * gate  # [B, N, dim]
        if perturb is not None and perturb.mode == "skip":
            y = y * (~perturb.mask).float()[:, None, None]
        return x + y

    def text_attention(self, x, context, context_mask=None, hook=None):
        h = self.norm3(x).to(_compute_dtype(x, self.cross_attn.q.weight))
        return x + self.cross_attn(h, context, context_mask, hook).float()

    def feed_forward(self, x, e0):
        _, _, _, shift, scale, gate = self.mods(e0)
        y = self.ffn((self.norm2(x).float() * (1 + scale) + shift).to(_compute_dtype(x, self.ffn[0].weight)))
        return x + y.float() * gate

    def forward(self, x, e0, angles, context, context_mask=None):
        x = self.self_attention(x, e0, angles)
        x = self.text_attention(x, context, context_mask)
        return self.feed_forward(x, e0)


def _no_autocast(device_type: str):
    """Autocast switched off, on devices that have it (the `meta` device, used to count FLOPs of
    models too big to allocate, has none)."""
    return torch.autocast(device_type, enabled=False) if device_type in ("cuda", "cpu") else contextlib.nullcontext()


def _compute_dtype(x: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The dtype matmuls run in: autocast's when it is on, else the weights' (the residual stream
    stays float32, as in Wan, so bf16 weights need their inputs cast)."""
    if x.device.type in ("cuda", "cpu") and torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return weight.dtype


class Head(nn.Module):
    """`head(norm(x) (1 + s) + b)`, (b, s) = `modulation + e` from the time embedding `[B, dim]`."""

    def __init__(self, dim: int, out_features: int, eps: float = 1e-6):
        super().__init__()
        self.norm = LayerNorm32(dim, eps, elementwise_affine=False)
        self.head = nn.Linear(dim, out_features)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / math.sqrt(dim))

    def forward(self, x, e):
        shift, scale = (self.modulation.float() + e[:, None].float()).chunk(2, dim=1)
        h = self.norm(x).float() * (1 + scale) + shift
        return self.head(h.to(_compute_dtype(x, self.head.weight))).float()


class Stream(nn.Module):
    """Shared parts: text and time embeddings, blocks, head. Subclasses define the patching."""

    def __init__(self, dim: int, ffn_dim: int, heads: int, layers: int, text_dim: int, freq_dim: int,
                 out_features: int, eps: float):
        super().__init__()
        self.dim, self.heads, self.freq_dim = dim, heads, freq_dim
        self.text_embedding = nn.Sequential(nn.Linear(text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList(WanBlock(dim, ffn_dim, heads, eps) for _ in range(layers))
        self.head = Head(dim, out_features, eps)

    # The text convention (set from the config by the subclasses): see `prepare_text`.
    text_pad_to: int = 0
    text_masked: bool = True

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def prepare_text(self, text: torch.Tensor, text_mask: torch.Tensor | None):
        """text `[B, L, text_dim]`, mask `[B, L]` -> as the stream reads them: zero-padded to
        `text_pad_to` slots (`[B, max(L, pad), text_dim]`), and the mask dropped where the convention
        attends to every slot (Wan2.1: 512, unmasked)."""
        if self.text_pad_to > text.shape[1]:
            pad = self.text_pad_to - text.shape[1]
            text = torch.nn.functional.pad(text, (0, 0, 0, pad))
            if text_mask is not None:
                text_mask = torch.nn.functional.pad(text_mask, (0, pad), value=False)
        return text, (text_mask if self.text_masked else None)

    def embed_time(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """t `[B]` in [0, 1] -> e `[B, dim]`, e0 `[B, 6, dim]`, both float32 (outside autocast)."""
        dtype = self.time_embedding[0].weight.dtype
        with _no_autocast(t.device.type):
            e = self.time_embedding(timestep_embedding(t, self.freq_dim).to(dtype))
            e0 = self.time_projection(e).unflatten(1, (6, self.dim))
        return e.float(), e0.float()

    def embed_text(self, text: torch.Tensor) -> torch.Tensor:
        return self.text_embedding(text.to(self.text_embedding[0].weight.dtype))

    def forward(self, latent, t, text, text_mask=None):
        """The stream alone (no partner): latent -> prediction of the same shape."""
        x, grid = self.patchify(latent)  # [B, N, dim]
        e, e0 = self.embed_time(t)  # [B, dim], [B, 6, dim]
        text, text_mask = self.prepare_text(text, text_mask)
        context = self.embed_text(text)  # [B, L, dim]
        angles = self.rope_angles(grid, x.device)
        for block in self.blocks:
            x = block(x, e0, angles, context, text_mask)
        return self.unpatchify(self.head(x, e), grid)


class VideoStream(Stream):
    """Wan2.1 DiT over a video latent `[B, C, F, H, W]`: Conv3d patch embedding (patch 1 x 2 x 2),
    3-D RoPE over (frame, row, column) token indices. Its state_dict carries Wan2.1's names."""

    def __init__(self, cfg: ModelConfig):
        self.patch = tuple(cfg.video_patch)
        self.out_dim = cfg.video_in_dim
        super().__init__(cfg.video_dim, cfg.video_ffn_dim, cfg.video_heads, cfg.layers, cfg.text_dim, cfg.freq_dim,
                         math.prod(self.patch) * cfg.video_in_dim, cfg.eps)
        self.patch_embedding = nn.Conv3d(cfg.video_in_dim, cfg.video_dim, kernel_size=self.patch, stride=self.patch)
        self.text_pad_to, self.text_masked = cfg.text_pad_to, cfg.text_mask

    def patchify(self, latent):
        """`[B, C, F, H, W]` -> tokens `[B, f*h*w, dim]` (float32) and the grid (f, h, w)."""
        x = self.patch_embedding(latent.to(self.patch_embedding.weight.dtype))
        grid = tuple(x.shape[2:])
        return x.flatten(2).transpose(1, 2).float(), grid

    def unpatchify(self, x, grid):
        f, h, w = grid
        pt, ph, pw = self.patch
        x = x.view(x.shape[0], f, h, w, pt, ph, pw, self.out_dim)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(x.shape[0], self.out_dim, f * pt, h * ph, w * pw)

    def rope_angles(self, grid, device) -> Rotary:
        return cached_rotary(("video-3d", tuple(grid), self.head_dim, str(device)),
                             lambda: rope_angles_3d(*grid_positions(*grid, device=device), self.head_dim))


class AudioStream(Stream):
    """The same blocks over an audio latent `[B, C, T]`: Conv1d patch embedding over time, 1-D RoPE
    over token index [design]."""

    def __init__(self, cfg: ModelConfig):
        self.patch = cfg.audio_patch
        self.out_dim = cfg.audio_in_dim
        super().__init__(cfg.audio_dim, cfg.audio_ffn_dim, cfg.audio_heads, cfg.layers, cfg.text_dim, cfg.freq_dim,
                         self.patch * cfg.audio_in_dim, cfg.eps)
        self.patch_embedding = nn.Conv1d(cfg.audio_in_dim, cfg.audio_dim, kernel_size=self.patch, stride=self.patch)
        self.text_pad_to, self.text_masked = cfg.text_pad_to, cfg.text_mask

    def patchify(self, latent):
        x = self.patch_embedding(latent.to(self.patch_embedding.weight.dtype))
        return x.transpose(1, 2).float(), (x.shape[2],)

    def unpatchify(self, x, grid):
        (n,) = grid
        x = x.view(x.shape[0], n, self.patch, self.out_dim)
        return x.permute(0, 3, 1, 2).reshape(x.shape[0], self.out_dim, n * self.patch)

    def rope_angles(self, grid, device) -> Rotary:
        return cached_rotary(("audio-1d", grid[0], self.head_dim, str(device)),
                             lambda: rope_angles_1d(torch.arange(grid[0], device=device), self.head_dim))
