"""Random batch-norm statistics for random-weight backbones: a fresh model's running mean 0 / variance 1
would hide a loader that drops or swaps those buffers."""

import torch


def randomise_norm_statistics(model: torch.nn.Module, mean_std: float = 0.1) -> torch.nn.Module:
    """Running variances uniform in [0.5, 2], running means normal with std `mean_std`, in place."""
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                b.normal_(0, mean_std)
    return model
