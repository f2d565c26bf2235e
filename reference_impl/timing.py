"""Where latent tokens sit in time (seconds), from the codecs' rates: the basis of TARP's aligned
RoPE and partitions, and of the Ovi / joint position maps.

Pixel frame i is shown at `i / fps` and holds the interval `[(i - 1/2) / fps, (i + 1/2) / fps)`. A video
token frame covers a run of pixel frames; its centre time is their mean and its span their union."""

from __future__ import annotations

import torch

from .config import ModelConfig

# The configuration fields every token time here depends on (with the token counts): keys of tables made
# from token times once per configuration and shape.
TIME_FIELDS = ("video_fps", "video_temporal_compression", "video_causal_first_frame", "video_patch",
               "audio_latent_rate", "audio_patch")


def time_key(cfg: ModelConfig) -> tuple:
    return tuple(getattr(cfg, f) for f in TIME_FIELDS)


def video_pixel_frames(cfg: ModelConfig, frames: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last pixel frame `[frames]` (int64) each video latent frame covers. A latent frame
    covers `tc` pixel frames; causal first frame (Wan VAE) [design]: latent 0 covers pixel frame 0
    alone, latent f >= 1 covers `tc (f - 1) + 1 .. tc f`."""
    f = torch.arange(frames, dtype=torch.int64, device=device)
    tc = cfg.video_temporal_compression
    if cfg.video_causal_first_frame:
        first = torch.where(f == 0, f, tc * (f - 1) + 1)
        return first, tc * f
    return tc * f, tc * f + tc - 1


def video_frame_times(cfg: ModelConfig, frames: int, device=None) -> torch.Tensor:
    """Centre time `[frames]` (s, float64) of each video latent frame: the mean of its pixel frames."""
    first, last = video_pixel_frames(cfg, frames, device)
    return (first + last).double() / 2 / cfg.video_fps


def video_token_times(cfg: ModelConfig, token_frames: int, device=None) -> torch.Tensor:
    """Centre time `[token_frames]` (s) of each frame of video tokens: a token spans `video_patch[0]`
    latent frames (1 in Wan) and sits at their mean time."""
    pt = cfg.video_patch[0]
    return video_frame_times(cfg, token_frames * pt, device).view(token_frames, pt).mean(1)


def video_token_spans(cfg: ModelConfig, token_frames: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end `[token_frames]` (s, float64) of each frame of video tokens: from half a pixel
    frame before its first pixel frame to half a pixel frame after its last."""
    pt = cfg.video_patch[0]
    first, last = video_pixel_frames(cfg, token_frames * pt, device)
    first, last = first.view(token_frames, pt)[:, 0], last.view(token_frames, pt)[:, -1]
    return (first.double() - 0.5) / cfg.video_fps, (last.double() + 0.5) / cfg.video_fps


def video_token_duration(cfg: ModelConfig) -> float:
    """Nominal duration (s) of one frame of video tokens: `video_patch[0] x tc` pixel frames."""
    return cfg.video_patch[0] * cfg.video_temporal_compression / cfg.video_fps


def audio_token_times(cfg: ModelConfig, tokens: int, device=None) -> torch.Tensor:
    """Centre time `[tokens]` (s) of each audio token: token j covers latent frames `p j .. p j + p - 1`
    and latent frame m sits at `m / audio_latent_rate` (a centred STFT frame) [design]."""
    j = torch.arange(tokens, dtype=torch.float64, device=device)
    p = cfg.audio_patch
    return (p * j + (p - 1) / 2) / cfg.audio_latent_rate
