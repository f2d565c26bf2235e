"""Per-clip analysis results of a clip set -> one metric's entry of a result table (`metrics.score`
computes the value, its interval with the replicates it rests on, or why it is unavailable), plus
the per-family breakdown and FD-inf's fit quality. Used by `evaluate` and `compare`; reads no clips
and loads no model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .features.store import SetResults
from .io.clipset import ClipItem, known_events
from .metrics import METRICS, Context
from .metrics.score import family_entries, metric_entry


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


def context_for(items: Sequence[ClipItem], ddof: int | None) -> Context:
    """Known events of a kept stream, per clip: V2A keeps the conditioning video, A2V its audio.
    ddof: the FVD preset's covariance divisor convention (N - ddof)."""
    from .features.avsync_labels import clip_labels

    return Context(covariance_ddof=ddof, gt_visual=known_events(items, "video"), gt_audio=known_events(items, "audio"),
                   prompt_labels=[clip_labels(i.label, i.text.get("caption")) if i.text.get("caption") or i.label else None
                                  for i in items])


def compute_metric(name: str, pred: SetResults, ref: SetResults | None, ctx: Context, bootstrap: int, seed: int,
                   tick: Callable | None = None) -> dict:
    """One metric's entry (`ccl_bench.metrics.score.metric_entry`), with its breakdown per scene family
    and, for FD-inf, the r^2 of its fit beside the value."""
    m = METRICS[name]
    p = pred.results[m.analysis]
    r = ref.results[m.analysis] if (ref is not None and m.needs_ref) else None
    out = metric_entry(m, p, r, ctx, bootstrap, seed, tick)
    if name == "fad-inf" and "value" in out:
        out["fit_r2"] = fd_inf_r2(p, r)
    labels = [i.label for i in pred.items]
    if "value" in out and len({x for x in labels if x is not None}) > 1:
        ref_labels = [i.label for i in ref.items] if r is not None else None
        out["per_family"] = family_entries(m, p, r, ctx, labels, ref_labels, bootstrap, seed, tick)
    return out


def fd_inf_r2(pred, ref) -> float:
    """r^2 of FD-inf's straight-line fit of FD against 1 / n, with the draws and covariance (N - 1) the value used."""
    from .metrics import stats

    def rows(res):
        return np.concatenate([x["features"].reshape(-1, x["features"].shape[-1]) for x in res])

    return stats.frechet_distance_inf_fit(rows(pred), stats.gaussian(rows(ref), 1), ddof=1, rng=np.random.default_rng(0))[1]
