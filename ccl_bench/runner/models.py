"""Build reference models for a suite rendering, and load trained checkpoints (`ema.safetensors` +
`config.json`, as `ccl-bench train` writes them)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CCLBenchError
from ..suites import Rendering

CHECKPOINT_FILES = ("ema.safetensors", "config.json")


def codecs_for(rendering: Rendering):
    from reference_impl.codecs import LogMelCodec, PixelCodec

    return PixelCodec(patch=2, fps=rendering.fps), LogMelCodec(sample_rate=rendering.sample_rate)


def build_for_rendering(model: str, scale: str, rendering: Rendering, overrides: dict):
    """A model whose input channels and token rates follow the rendering's codecs."""
    import reference_impl as R
    from reference_impl.codecs import codec_overrides

    vc, ac = codecs_for(rendering)
    return R.build_model(model, scale, **{**codec_overrides(vc, ac), **overrides}), vc, ac


def load_trained(checkpoint: str | Path, device="cpu"):
    """-> (model in eval mode, its config.json dict). Clear errors for a missing or foreign folder."""
    import reference_impl as R
    from reference_impl.config import ModelConfig

    d = Path(checkpoint)
    missing = [f for f in CHECKPOINT_FILES if not (d / f).is_file()]
    if missing:
        raise CCLBenchError(f"{d}: not a trained checkpoint folder (missing {', '.join(missing)}); "
                            "train one with `ccl-bench train --model NAME --suite av-sync --out DIR`")
    info = json.loads((d / "config.json").read_text())
    fields = dict(info["model"])
    fields["video_patch"] = tuple(fields["video_patch"])
    model = R.DualStreamModel(ModelConfig(**fields))
    from safetensors.torch import load_file

    state = load_file(str(d / "ema.safetensors"))
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.to(device).eval(), info
