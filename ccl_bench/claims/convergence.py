"""Claim 6: training steps until a metric of the evaluation snapshots first reaches a fixed level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def steps_to_level(steps: Sequence[int], values: Sequence[float | None], level: float,
                   better: str = "higher") -> tuple[float, bool]:
    """First snapshot step whose value reaches `level` (>= for higher-is-better, <= for lower) ->
    (step, reached). A series that never reaches it is censored [design]: one snapshot interval after
    its last snapshot, reached=False. Snapshots without a value (None/NaN) do not count as reached.
    steps: increasing training steps of the snapshots; values: the metric at each."""
    if len(steps) == 0 or len(steps) != len(values):
        raise ValueError(f"need one value per snapshot step, got {len(steps)} steps and {len(values)} values")
    order = np.argsort(steps)
    s = np.asarray(steps, dtype=np.float64)[order]
    for i in order:
        v = values[i]
        if v is not None and np.isfinite(v) and (v >= level if better == "higher" else v <= level):
            return float(steps[i]), True
    interval = float(np.median(np.diff(s))) if len(s) > 1 else float(s[-1])
    return float(s[-1] + interval), False
