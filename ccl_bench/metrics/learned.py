"""Values of the learned-backbone metrics (Metrics II) from their per-clip analysis results, and the
reason a value is missing. Pure functions over arrays: the backbones run in `ccl_bench.features`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Results = Sequence[dict[str, np.ndarray]]


def feature_rows(res: Results) -> int:
    return sum(len(r["features"]) for r in res)


def per_clip(res: Results, key: str = "score") -> np.ndarray:
    """The per-clip values of the clips that have one (a clip without one holds an empty array)."""
    vals = [float(r[key][0]) for r in res if len(r[key])]
    return np.array(vals)


def mean_score(pred: Results, ref, ctx) -> float | None:
    vals = per_clip(pred)
    return float(vals.mean()) if len(vals) else None


def desync(pred: Results, ref, ctx) -> float | None:
    """Mean over clips of each clip's mean |offset| over its windows (seconds)."""
    vals = [float(np.mean(np.abs(r["offsets"]))) for r in pred if len(r["offsets"])]
    return float(np.mean(vals)) if vals else None


def desync_signed(pred: Results, ref, ctx) -> float | None:
    """Mean over clips of each clip's signed offset (one window each): opposite signs cancel."""
    vals = [float(np.mean(r["offsets"])) for r in pred if len(r["offsets"])]
    return float(np.mean(vals)) if vals else None


def why_unavailable(name: str, pred: Results, ref: Results | None) -> str | None:
    """Why a learned metric has no value (None: not a learned metric, or no reason known here)."""
    if name.startswith("fd-"):
        p, r = feature_rows(pred), feature_rows(ref or [])
        return (f"too few embeddings for a covariance ({p} predicted, {r} reference): clips shorter than the "
                "backbone's minimum length have none")
    if name.startswith("desync"):
        return "no clip is long enough for this DeSync preset's span (see the per-clip conversions for each clip's length)"
    if name.startswith("clip-score"):
        return "no clip has a caption: clip-score reads `caption` per clip from the folder's manifest.json"
    return None
