"""`joint`: joint self-attention over both streams' tokens (after JavisDiT), for streams of two widths.

Each stream's self-attention reads `[own tokens; the other stream's tokens]`, the other's tokens
mapped to this stream's width by a linear adapter and then projected by this stream's *own* k and v
(shared attention weights, as JavisDiT shares them). Positions: audio tokens sit on the video latent
frames `ceil(linspace(0, F - 1, N_audio))`, each at its own (h, w) past the spatial grid
(`audio_grid_positions`); video frames sit
at audio index `f N_audio / F` in the audio stream. No gate. Separate FFNs and modulation come with
the two streams."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..streams.rope import Rotary, apply_rope, rope_angles_1d, rope_angles_3d
from ..streams.stream import WanBlock
from .base import Interaction, StreamState


def audio_grid_positions(frames: int, height: int, width: int, audio_tokens: int, device=None):
    """(f, h, w) `[Na]` each of the audio tokens on the video's RoPE grid: frame `ceil(linspace(0, F - 1,
    Na))`; the k-th audio token of a frame at row `H + k // W`, column `k % W` (rows past the video's own,
    so no audio token shares a position with a video token or with another audio token) [design]."""
    fa = torch.ceil(torch.linspace(0, frames - 1, audio_tokens, device=device))
    first = torch.searchsorted(fa, fa)  # index of the first audio token on the same frame (fa is sorted)
    k = torch.arange(audio_tokens, device=device) - first  # rank of the token within its frame
    return fa, height + k // width, k % width


class JointInteraction(Interaction):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.audio_to_video = nn.Linear(cfg.audio_dim, cfg.video_dim)
        self.video_to_audio = nn.Linear(cfg.video_dim, cfg.audio_dim)

    def run_layer(self, vb: WanBlock, ab: WanBlock, xv, xa, sv: StreamState, sa: StreamState):
        f, h, w = sv.grid
        na = xa.shape[1]
        dev = xv.device
        hv = vb.modulated_input(xv, sv.e0)  # both read the other's pre-attention state
        ha = ab.modulated_input(xa, sa.e0)
        # audio tokens as keys of the video self-attention
        ka, va = vb.self_attn.project_kv(self.audio_to_video(ha.to(self.audio_to_video.weight.dtype)))
        def audio_on_video_grid() -> Rotary:
            return Rotary(rope_angles_3d(*audio_grid_positions(f, h, w, na, dev), vb.self_attn.head_dim))

        ka = apply_rope(ka, sa.cached("joint_rope", audio_on_video_grid))
        # video tokens as keys of the audio self-attention
        kv, vv = ab.self_attn.project_kv(self.video_to_audio(hv.to(self.video_to_audio.weight.dtype)))
        kv = apply_rope(kv, sv.cached("joint_rope", lambda: Rotary(rope_angles_1d(sv.positions.double() * na / f,
                                                                                  ab.self_attn.head_dim))))
        xv = vb.self_attention(xv, sv.e0, sv.angles, extra=(ka, va, sv.reads_partner, sv.reads_partner_host),
                               perturb=sv.sa_perturb)
        xa = ab.self_attention(xa, sa.e0, sa.angles, extra=(kv, vv, sa.reads_partner, sa.reads_partner_host),
                               perturb=sa.sa_perturb)
        xv = vb.text_attention(xv, sv.context, sv.context_mask)
        xa = ab.text_attention(xa, sa.context, sa.context_mask)
        return vb.feed_forward(xv, sv.e0), ab.feed_forward(xa, sa.e0)
