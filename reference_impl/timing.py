"""Where latent tokens sit in time (seconds), from the codecs' rates: the basis of TARP's aligned
RoPE and partitions, and of the Ovi / joint position maps."""

from __future__ import annotations

import torch

from .config import ModelConfig


def video_frame_times(cfg: ModelConfig, frames: int, device=None) -> torch.Tensor:
    """Centre time `[frames]` (s) of each video latent frame. Pixel frame i shows `i / fps`; a latent
    frame covers `tc` pixel frames and sits at their mean time. Causal first frame (Wan VAE) [design]:
    latent 0 covers pixel frame 0 alone (t = 0), latent f >= 1 covers frames `tc (f - 1) + 1 .. tc f`."""
    f = torch.arange(frames, dtype=torch.float64, device=device)
    tc = cfg.video_temporal_compression
    if cfg.video_causal_first_frame:
        centre = torch.where(f == 0, torch.zeros_like(f), tc * f - (tc - 1) / 2)
    else:
        centre = tc * f + (tc - 1) / 2
    return centre / cfg.video_fps


def video_token_times(cfg: ModelConfig, token_frames: int, device=None) -> torch.Tensor:
    """Centre time `[token_frames]` (s) of each frame of video tokens: a token spans `video_patch[0]`
    latent frames (1 in Wan) and sits at their mean time."""
    pt = cfg.video_patch[0]
    return video_frame_times(cfg, token_frames * pt, device).view(token_frames, pt).mean(1)


def audio_token_times(cfg: ModelConfig, tokens: int, device=None) -> torch.Tensor:
    """Centre time `[tokens]` (s) of each audio token: token j covers latent frames `p j .. p j + p - 1`
    and latent frame m sits at `m / audio_latent_rate` (a centred STFT frame) [design]."""
    j = torch.arange(tokens, dtype=torch.float64, device=device)
    p = cfg.audio_patch
    return (p * j + (p - 1) / 2) / cfg.audio_latent_rate
