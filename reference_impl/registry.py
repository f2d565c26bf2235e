"""Models by name: `build_model("ccl", scale="tiny", lct_tokens=32)`, or an ablation YAML
(`{base: ccl, scale: small, set: {lct_tokens: 32}}`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import MODELS, SCALES, ModelConfig, coerce, field_names
from .dual_stream import DualStreamModel


class ModelSpecError(ValueError):
    pass


def list_models() -> list[str]:
    return list(MODELS)


def list_scales() -> list[str]:
    return list(SCALES)


def load_ablation(path: str | Path) -> tuple[str, str | None, dict[str, Any]]:
    """An ablation file -> (base model name, scale or None, overrides)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ModelSpecError(f"{path}: model file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelSpecError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("base"), str):
        raise ModelSpecError(f"{path}: a model file needs 'base: <model name>' (and optional 'scale', 'set')")
    if raw.get("scale") is not None and not isinstance(raw["scale"], str):
        raise ModelSpecError(f"{path}: 'scale' must be a scale name, got {raw['scale']!r}")
    if raw.get("set") is not None and not isinstance(raw["set"], dict):
        raise ModelSpecError(f"{path}: 'set' must map config fields to values, got {raw['set']!r}")
    return raw["base"], raw.get("scale"), dict(raw.get("set") or {})


def resolve_config(name: str, scale: str = "tiny", **overrides: Any) -> ModelConfig:
    """Named model (or ablation YAML path) + scale + overrides -> a `ModelConfig`."""
    if str(name).endswith((".yaml", ".yml")):
        base, file_scale, file_overrides = load_ablation(name)
        return resolve_config(base, file_scale or scale, **{**file_overrides, **overrides})
    if name not in MODELS:
        raise ModelSpecError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    if scale not in SCALES:
        raise ModelSpecError(f"unknown scale '{scale}' (known: {', '.join(SCALES)})")
    fields = {**SCALES[scale], **MODELS[name]}
    for key, value in overrides.items():
        try:
            fields[key] = coerce(key, value)
        except KeyError:
            raise ModelSpecError(f"model '{name}': no config field '{key}' (fields: {', '.join(field_names())})") from None
        except ValueError as exc:
            raise ModelSpecError(f"model '{name}': {exc}") from None
    cfg = ModelConfig(**fields)
    cfg.extra = {**cfg.extra, "name": name, "scale": scale}
    return cfg


def build_model(name: str, scale: str = "tiny", device: str | torch.device | None = None, **overrides: Any) -> DualStreamModel:
    """Build a named model at a scale. device='meta' builds without allocating (any scale)."""
    cfg = resolve_config(name, scale, **overrides)
    with torch.device(device) if device is not None else _nullcontext():
        return DualStreamModel(cfg)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def parameter_counts(name: str, scale: str = "tiny", **overrides: Any) -> dict[str, int]:
    """Parameters of the video stream, the audio stream, the interaction modules, and in total."""
    model = build_model(name, scale, device="meta", **overrides)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    counts = {"video": count(model.video_stream), "audio": count(model.audio_stream), "interaction": count(model.interactions)}
    counts["total"] = sum(counts.values())
    return counts
