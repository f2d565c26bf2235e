"""Build reference models for a suite rendering, and load trained checkpoints (`ema.safetensors` +
`config.json`, as `ccl-bench train` writes them)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CCLBenchError
from ..suites import Rendering

CHECKPOINT_FILES = ("ema.safetensors", "config.json")


def model_errors() -> tuple[type[Exception], ...]:
    """The model registry's errors that mean bad input (an unknown model, a malformed ablation file)."""
    from reference_impl import ModelSpecError
    from reference_impl.streams import CheckpointError

    return (ModelSpecError, CheckpointError)


def describe_models(names: list[str] | None, scale: str, overrides: dict) -> list[tuple[str, str, dict]]:
    """(name, interaction, parameter counts by part) of each model (default: every registered one)."""
    import reference_impl as R

    return [(name, R.resolve_config(name, scale, **overrides).interaction, R.parameter_counts(name, scale, **overrides))
            for name in (names or R.list_models())]


def codecs_for(rendering: Rendering):
    from reference_impl.codecs import LogMelCodec, PixelCodec

    return PixelCodec(patch=2, fps=rendering.fps), LogMelCodec(sample_rate=rendering.sample_rate)


def build_for_rendering(model: str, scale: str, rendering: Rendering, overrides: dict):
    """A model whose input channels and token rates follow the rendering's codecs."""
    import reference_impl as R
    from reference_impl.codecs import codec_overrides

    vc, ac = codecs_for(rendering)
    return R.build_model(model, scale, **{**codec_overrides(vc, ac), **overrides}), vc, ac


def load_trained(checkpoint: str | Path, device="cpu", overrides: dict | None = None):
    """-> (model in eval mode, its config.json dict). Clear errors for a missing or foreign folder.
    overrides: config fields set on top of the checkpoint's (inference-time switches such as
    `tarp_window`); one that changes the weights' shapes is refused with the mismatch."""
    import reference_impl as R
    from reference_impl.config import ModelConfig

    d = Path(checkpoint)
    missing = [f for f in CHECKPOINT_FILES if not (d / f).is_file()]
    if missing:
        raise CCLBenchError(f"{d}: not a trained checkpoint folder (missing {', '.join(missing)}); "
                            "train one with `ccl-bench train --model NAME --suite av-sync --out DIR`")
    info = json.loads((d / "config.json").read_text())
    from reference_impl.config import coerce

    fields = dict(info["model"])
    fields["video_patch"] = tuple(fields["video_patch"])
    for key, value in (overrides or {}).items():
        try:
            fields[key] = coerce(key, value)
        except (KeyError, ValueError) as exc:
            raise CCLBenchError(f"--set {key}={value}: {exc}") from None
    model = R.DualStreamModel(ModelConfig(**fields))
    from safetensors.torch import load_file

    state = load_file(str(d / "ema.safetensors"))
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise CCLBenchError(f"{d}: the checkpoint does not fit this configuration ({str(exc).splitlines()[0]}"
                            f"{'; --set ' + ', '.join(overrides) + ' changes the weights' if overrides else ''})") from None
    return model.to(device).eval(), info
