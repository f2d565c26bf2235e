"""Random training latents for CPU tests of the Trainer (tiny scale)."""

import torch

from reference_impl.diffusion import LatentData


def random_latent_data(cfg, n: int = 6) -> LatentData:
    """`n` examples: video `[n, C, 4, 8, 8]`, audio `[n, C, 32]`, 5 text tokens; seeded, so every test sees the same."""
    g = torch.Generator().manual_seed(0)
    return LatentData(video=torch.randn(n, cfg.video_in_dim, 4, 8, 8, generator=g),
                      audio=torch.randn(n, cfg.audio_in_dim, 32, generator=g),
                      text=torch.randn(n, 5, cfg.text_dim, generator=g), text_mask=torch.ones(n, 5, dtype=torch.bool),
                      null_text=torch.zeros(1, 5, cfg.text_dim), null_mask=torch.zeros(1, 5, dtype=torch.bool))
