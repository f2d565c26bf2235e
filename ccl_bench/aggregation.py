"""A benchmark's aggregation of one metric over its prompts' clips: the breakdown per category of each aspect
(JavisBench's 5 aspects, T2AV-Compass's taxonomy, Verse-Bench's subsets) and the headline the benchmark reports,
either pooled over every clip or the mean of the category means (Verse-Bench, as MOVA reports it). Pure
arithmetic over per-clip analysis results: reads no clip, loads no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import Context, Metric, Results
from .metrics.score import metric_entry
from .metrics.stats import bootstrap_ci


def category_indices(labels: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    """{category: indices of the clips in it}, categories in first-seen order; a clip with several categories
    counts in each (multi-label aspects), a clip with none in none."""
    out: dict[str, list[int]] = {}
    for i, cats in enumerate(labels):
        for c in cats:
            out.setdefault(c, []).append(i)
    return out


def category_entries(m: Metric, pred: Results, ctx: Context, labels: Sequence[Sequence[str]], bootstrap: int,
                     seed: int, ref: Results | None = None) -> dict[str, dict]:
    """The metric on each category's clips (`metric_entry`: value, interval, n, or unavailable with why). ref: one
    reference result per predicted clip (the benchmark's real item of the same prompt), so that a distribution
    metric compares a category's clips with the same category's real items, as JavisBench does."""
    return {c: metric_entry(m, [pred[i] for i in idx], [ref[i] for i in idx] if ref is not None else None,
                            ctx.subset(idx), bootstrap, seed)
            for c, idx in category_indices(labels).items()}


def mean_of_category_means(m: Metric, pred: Results, ctx: Context, labels: Sequence[Sequence[str]], bootstrap: int,
                           seed: int, level: float = 0.95, ref: Results | None = None) -> dict:
    """Headline = (1 / K) * sum_k value_k over the K categories where the metric has a value (value_k: the metric
    on category k's clips alone), unweighted by category size. Its interval: percentile bootstrap redrawing the
    clips within each category. Unavailable when no category has a value."""
    groups = category_indices(labels)
    per = {c: metric_entry(m, [pred[i] for i in idx], [ref[i] for i in idx] if ref is not None else None, ctx.subset(idx),
                           0, seed) for c, idx in groups.items()}
    used = [c for c, e in per.items() if "value" in e]
    if not used:
        why = "; ".join(f"{c}: {e.get('reason', 'no value')}" for c, e in per.items()) or "no clip has a category"
        return {"status": "unavailable", "reason": f"no category has a value ({why})"}
    value = float(np.mean([per[c]["value"] for c in used]))
    out: dict = {"value": value, "n": sum(len(groups[c]) for c in used), "unit": m.unit, "better": m.better,
                 "rule": "mean of category means", "categories_used": used,
                 "categories_unavailable": {c: e["reason"] for c, e in per.items() if c not in used}}
    if not bootstrap:
        out.update({"ci95": None, "interval": {"why_none": "bootstrap off (--bootstrap 0)"}})
        return out
    if m.corrects or m.needs_ref:
        out.update({"ci95": None, "interval": {"why_none": "a chance-corrected or distribution metric's mean of category "
                                               "values has no stratified interval (see each category's)"}})
        return out
    states = {c: m.clip_states([pred[i] for i in groups[c]], ctx.subset(groups[c])) for c in used}

    def replicate(idx: Sequence[np.ndarray]):
        vals = [m.score(m.merge([states[c][j] for j in draw]), None, ctx) for c, draw in zip(used, idx, strict=True)]
        return None if any(v is None or not np.isfinite(v) for v in vals) else float(np.mean(vals))

    iv = bootstrap_ci(replicate, [len(groups[c]) for c in used], bootstrap, level=level, seed=seed)
    out["ci95"] = [iv.lo, iv.hi] if iv.used else None
    out["interval"] = {**iv.to_dict(), "method": "percentile bootstrap, clips redrawn within each category"}
    return out
