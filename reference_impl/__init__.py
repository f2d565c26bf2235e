"""Reference dual-stream audio-video models: CCL and the baseline interactions (no metrics here).

`build_model(name, scale, **overrides)`, `list_models()`, `parameter_counts(name, scale)`."""

from .checkpoints import InitReport, init_from
from .config import MODELS, SCALES, ModelConfig
from .dual_stream import DualStreamModel
from .registry import ModelSpecError, build_model, list_models, list_scales, parameter_counts, resolve_config
from .routing import Route, Task
from .streams import load_wan_checkpoint

__all__ = [
    "MODELS",
    "SCALES",
    "DualStreamModel",
    "InitReport",
    "ModelConfig",
    "ModelSpecError",
    "Route",
    "Task",
    "build_model",
    "init_from",
    "list_models",
    "list_scales",
    "load_wan_checkpoint",
    "parameter_counts",
    "resolve_config",
]
