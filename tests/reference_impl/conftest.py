import pytest
import torch

import reference_impl as R


def inputs(cfg, batch=5, frames=4, hw=(8, 8), audio_frames=32, text_len=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        video=torch.randn(batch, cfg.video_in_dim, frames, *hw, generator=g),
        audio=torch.randn(batch, cfg.audio_in_dim, audio_frames, generator=g),
        t_video=torch.rand(batch, generator=g),
        t_audio=torch.rand(batch, generator=g),
        text=torch.randn(batch, text_len, cfg.text_dim, generator=g),
    )


@pytest.fixture(params=R.list_models())
def model_name(request):
    return request.param


def trained_like(model, seed=1, scale=0.05):
    """Perturb every parameter so zero-initialised branches are open (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model
