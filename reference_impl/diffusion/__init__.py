"""Multi-task flow-matching training and guided sampling (Euler, Heun; cfg, ucg, ucg-joint, ltx2)."""

from .flow import flow_matching_loss, shift_timesteps
from .guidance import SCHEMES, GuidanceScales, combine, guided_prediction, passes_per_step
from .sampler import SampleInfo, sample, timestep_schedule
from .train import LatentData, TrainConfig, Trainer

__all__ = [
    "SCHEMES",
    "GuidanceScales",
    "LatentData",
    "SampleInfo",
    "TrainConfig",
    "Trainer",
    "combine",
    "flow_matching_loss",
    "guided_prediction",
    "passes_per_step",
    "sample",
    "shift_timesteps",
    "timestep_schedule",
]
