"""`ovi`: Ovi-style fusion inside the text cross-attention of every block.

`o(attn(q, k_txt, v_txt) + attn(rope(q), rope(k_f(LN(y))), v_f(LN(y))))`: the stream's text
cross-attention query also reads the other stream `y`, through new `k_fusion`, `v_fusion`, an
affine LayerNorm on `y` and an RMS norm on the fused keys; q and o are the text cross-attention's.
Both streams read the other's state after self-attention, before either cross-attention. RoPE: video
tokens with the full 3-D RoPE (time, row and column bands, as Ovi rotates its video side), audio tokens
on the temporal band only; times in video latent frame units (Ovi scales audio indices by
31 / 157 for its rates; here the scale follows from the configured token times). No gate; the video
side's fusion weights start scaled by 0.1, as in Ovi."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..streams.layers import LayerNorm32, RMSNorm, attention
from ..streams.rope import Rotary, apply_rope, band_frequencies, grid_positions, rope_angles_3d, wan_bands
from ..streams.stream import WanBlock
from .base import Interaction, StreamState


def temporal_band_angles(positions: torch.Tensor, head_dim: int, theta: float) -> torch.Tensor:
    """`[N]` positions -> `[N, head_dim / 2]` angles on the temporal band; other bands unrotated."""
    bt, bh, bw = wan_bands(head_dim)
    t = positions.double()[:, None] * band_frequencies(bt, theta, positions.device)
    return torch.cat([t, torch.zeros(len(positions), bh + bw, dtype=t.dtype, device=t.device)], dim=1)


class OviFusion(nn.Module):
    """Keys and values of the other stream (width `dim_other`) for a stream of width `dim`."""

    def __init__(self, dim: int, dim_other: int, heads: int, init_scale: float, eps: float):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.norm = LayerNorm32(dim_other, eps, elementwise_affine=True)
        self.k_fusion, self.v_fusion = nn.Linear(dim_other, dim), nn.Linear(dim_other, dim)
        self.norm_k_fusion = RMSNorm(dim, eps)
        with torch.no_grad():
            for lin in (self.k_fusion, self.v_fusion):
                lin.weight.mul_(init_scale)
                lin.bias.mul_(init_scale)

    def hook(self, y, rot_q: Rotary, rot_k: Rotary, reads_partner):
        """A text cross-attention hook: q `[B, N, H, d]` -> attention over `y` `[B, M, dim_other]`."""
        h = self.norm(y)
        k = self.norm_k_fusion(self.k_fusion(h)).unflatten(-1, (self.heads, self.head_dim))
        v = self.v_fusion(h).unflatten(-1, (self.heads, self.head_dim))
        k = apply_rope(k, rot_k)
        keep = reads_partner[:, None, None, None]  # [B, 1, 1, 1]: no partner, no fusion term (exactly zero)
        return lambda q: torch.where(keep, attention(apply_rope(q, rot_q), k, v), torch.zeros((), dtype=q.dtype,
                                                                                           device=q.device))


class OviInteraction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.video_fusion = OviFusion(cfg.video_dim, cfg.audio_dim, cfg.video_heads, cfg.ovi_video_init_scale, cfg.eps)
        self.audio_fusion = OviFusion(cfg.audio_dim, cfg.video_dim, cfg.audio_heads, 1.0, cfg.eps)

    def frame_positions(self, times: torch.Tensor) -> torch.Tensor:
        """Seconds -> video latent frame units."""
        return times * self.cfg.video_fps / self.cfg.video_temporal_compression

    def rotary(self, state: StreamState, head_dim: int) -> Rotary:
        """Video tokens: the full 3-D RoPE (time band at their frame position, then row and column), as
        Ovi rotates its video side; audio tokens: the time band only, at their frame position."""
        def make() -> Rotary:
            t = self.frame_positions(state.times)
            if len(state.grid) == 1:
                return Rotary(temporal_band_angles(t, head_dim, self.cfg.rope_theta))
            _, h, w = grid_positions(*state.grid, device=t.device)
            return Rotary(rope_angles_3d(t, h, w, head_dim, self.cfg.rope_theta))
        return state.cached(("ovi_rope", head_dim), make)

    def run_layer(self, vb: WanBlock, ab: WanBlock, xv, xa, sv: StreamState, sa: StreamState):
        xv = vb.self_attention(xv, sv.e0, sv.angles, perturb=sv.sa_perturb)
        xa = ab.self_attention(xa, sa.e0, sa.angles, perturb=sa.sa_perturb)
        dv, da = self.video_fusion.head_dim, self.audio_fusion.head_dim
        hook_v = self.video_fusion.hook(xa, self.rotary(sv, dv), self.rotary(sa, dv), sv.reads_partner)
        hook_a = self.audio_fusion.hook(xv, self.rotary(sa, da), self.rotary(sv, da), sa.reads_partner)
        xv = vb.text_attention(xv, sv.context, sv.context_mask, hook_v)
        xa = ab.text_attention(xa, sa.context, sa.context_mask, hook_a)
        return vb.feed_forward(xv, sv.e0), ab.feed_forward(xa, sa.e0)
