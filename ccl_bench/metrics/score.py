"""A metric's entry in a result: its value from the merged per-clip states, its interval (percentile
bootstrap over clips for per-clip statistics, half-sampling for distribution distances), for a `-cc`
metric the chance level on mismatched pairs, and the breakdown per scene family."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import METRICS, Context, Metric, Results, sync_confidence_threshold
from .stats import Interval, bootstrap_ci, half_sample_ci
from .sync import confidence

MAX_PAIRS = 1024  # mismatched pairs for a chance level: every ordered pair up to this many, else this many drawn


def mismatched_pairs(n: int, seed: int, max_pairs: int = MAX_PAIRS) -> np.ndarray:
    """`[P, 2]` (sound of clip i, picture of clip j), j != i. Every ordered pair where there are at most
    `max_pairs` (then the seed plays no part), else `max(n, max_pairs)` pairs: every clip's sound equally
    often, each against a picture drawn uniformly from the other clips by `seed`. Empty when n < 2."""
    if n < 2:
        return np.zeros((0, 2), int)
    if n * (n - 1) <= max_pairs:
        i, j = np.nonzero(~np.eye(n, dtype=bool))
        return np.stack([i, j], 1)
    rng = np.random.default_rng([seed, 0xCC])
    i = np.resize(np.arange(n), max(n, max_pairs))
    return np.stack([i, (i + rng.integers(1, n, len(i))) % n], 1)


def pair_states(m: Metric, res: Results, ctx: Context, pairs: np.ndarray) -> list:
    return [m.state(res[i], res[j], *ctx.known(int(i), int(j)), ctx) for i, j in pairs]


def corrected(x: float | None, chance: float | None, ideal: float) -> float | None:
    """`(x - chance) / (ideal - chance)`; None where either is missing or chance is already ideal."""
    if x is None or chance is None or chance == ideal:
        return None
    return (x - chance) / (ideal - chance) + 0.0  # + 0.0: never a negative zero


def point_value(m: Metric, pred: Results, ref: Results | None, ctx: Context, seed: int = 0) -> float | None:
    states = m.clip_states(pred, ctx)
    if m.corrects:
        chance = m.chance_statistic(m.merge(pair_states(m, pred, ctx, mismatched_pairs(len(pred), seed))))
        return corrected(m.chance_statistic(m.merge(states)), chance, m.ideal)
    rstates = m.clip_states(ref, Context(covariance_ddof=ctx.covariance_ddof)) if m.needs_ref else None
    return m.score(m.merge(states), m.merge(rstates) if m.needs_ref else None, ctx)


def resampler(m: Metric, pred: Results, ref: Results | None, ctx: Context, seed: int = 0) -> Callable:
    """`draw -> value` for index draws (with repeats) of the predicted clips, the per-clip states made
    once (a paired bootstrap calls it thousands of times). For a `-cc` metric the chance level of a draw
    comes from the mismatched pairs among its clips (two draws of one clip never pair), each pair's
    state made once and kept."""
    states = m.clip_states(pred, ctx)
    if not m.corrects:
        rmerged = m.merge(m.clip_states(ref, Context(covariance_ddof=ctx.covariance_ddof))) if m.needs_ref else None
        return lambda draw: m.score(m.merge([states[i] for i in draw]), rmerged, ctx)
    n = len(pred)
    kept: list[list] = [[None] * n for _ in range(n)]  # kept[i][j]: the state of clip i's sound with clip j's picture
    rng = np.random.default_rng([seed, 0xCD])

    def pair(i: int, j: int):
        if kept[i][j] is None:
            kept[i][j] = m.state(pred[i], pred[j], *ctx.known(i, j), ctx)
        return kept[i][j]

    def value(draw):
        draw = np.asarray(draw)
        pairs = mismatched_pairs(len(draw), seed)
        pairs = pairs[draw[pairs[:, 0]] != draw[pairs[:, 1]]]
        if len(pairs) > MAX_PAIRS:
            pairs = pairs[rng.choice(len(pairs), MAX_PAIRS, replace=False)]
        # plain ints (tolist) for the lookups: this line runs for every pair of every bootstrap replicate
        chance = m.chance_statistic(m.merge([pair(a, b) for a, b in zip(draw[pairs[:, 0]].tolist(),
                                                                         draw[pairs[:, 1]].tolist(), strict=True)]))
        return corrected(m.chance_statistic(m.merge([states[i] for i in draw])), chance, m.ideal)

    return value


def _unavailable(reason: str, **extra) -> dict:
    return {"status": "unavailable", "reason": reason, **extra}


def _no_bootstrap() -> dict:
    """No interval asked for (`--bootstrap 0`): null, with the reason, never NaN in a result file."""
    return {"ci95": None, "interval": {"why_none": "bootstrap off (--bootstrap 0)"}}


def _interval_entry(iv: Interval) -> dict:
    ci = [iv.lo, iv.hi] if iv.used else None
    return {"ci95": ci, "interval": iv.to_dict()}


def metric_entry(m: Metric, pred: Results, ref: Results | None, ctx: Context, bootstrap: int = 200, seed: int = 0,
                 tick: Callable | None = None) -> dict:
    """`{"value", "ci95", "interval", "n", ...}` or `{"status": "unavailable", "reason"}` for one set."""
    if len(pred) < m.min_clips or (m.needs_ref and len(ref) < m.min_clips):
        return _unavailable(f"needs at least {m.min_clips} decodable clips per set, got {len(pred)}"
                            + (f" and {len(ref)}" if m.needs_ref else ""))
    if m.corrects:
        return _corrected_entry(m, pred, ctx, bootstrap, seed, tick)
    states = m.clip_states(pred, ctx)
    rstates = m.clip_states(ref, Context(covariance_ddof=ctx.covariance_ddof)) if m.needs_ref else None
    merged = m.merge(states)
    value = m.score(merged, m.merge(rstates) if m.needs_ref else None, ctx)
    if value is None:
        return _unavailable(m.why_unavailable(states))
    if not np.isfinite(value):
        return _unavailable(f"the value is not finite ({value})")
    out: dict = {"value": value, "n": len(pred), "unit": m.unit, "better": m.better}
    if m.needs_ref:
        out["n_ref"] = len(ref)
    if m.name == "sync-offset":
        conf = confidence(merged.curve / merged.clips)
        out["confidence"] = conf
        need = sync_confidence_threshold(merged.clips)
        if conf < need:
            return _unavailable(f"no synchrony found (confidence {conf:.3g} below {need:.3g} for {merged.clips} clips)",
                                confidence=conf, n=len(pred))

    def replicate(idx: Sequence[np.ndarray]):
        return m.score(m.merge([states[i] for i in idx[0]]),
                       m.merge([rstates[i] for i in idx[1]]) if m.needs_ref else None, ctx)

    groups = [len(pred)] + ([len(ref)] if m.needs_ref else [])
    if bootstrap:
        iv = (half_sample_ci(replicate, groups, value, bootstrap, seed=seed, tick=tick) if m.interval == "half-sampling"
              else bootstrap_ci(replicate, groups, bootstrap, seed=seed, tick=tick))
        out.update(_interval_entry(iv))
        if m.interval == "half-sampling":
            out["interval"]["covers"] = f"E[{m.name}] of {len(pred)} against {len(ref)} clips"
        if not iv.used:
            out["interval"]["why_none"] = "no replicate had a value: " + m.why_unavailable(states[: len(states) // 2])
    else:
        out.update(_no_bootstrap())
    if m.analysis == "i3d" and min(len(pred), len(ref)) < 256:
        out["note"] = f"from {min(len(pred), len(ref))} clips: FVD/KVD are biased at small N; compare only at equal N"
    return out


def _corrected_entry(m: Metric, pred: Results, ctx: Context, bootstrap: int, seed: int, tick) -> dict:
    if len(pred) < 2:
        return _unavailable("a chance level needs at least 2 clips (mismatched pairs)")
    stat = m.chance_statistic
    states = m.clip_states(pred, ctx)
    pairs = mismatched_pairs(len(pred), seed)
    pstates = pair_states(m, pred, ctx, pairs)
    x, chance = stat(m.merge(states)), stat(m.merge(pstates))
    value = corrected(x, chance, m.ideal)
    if value is None:
        why = (m.why_unavailable(states) if x is None else "no mismatched pair has a value" if chance is None
               else f"the chance level equals the ideal ({m.ideal})")
        return _unavailable(why)
    out = {"value": value, "raw": x, "chance": chance, "ideal": m.ideal, "n": len(pred), "pairs": len(pairs),
           "unit": "", "better": "higher"}
    if bootstrap:
        def replicate(idx: Sequence[np.ndarray]):
            return corrected(stat(m.merge([states[i] for i in idx[0]])), stat(m.merge([pstates[i] for i in idx[1]])),
                             m.ideal)

        iv = bootstrap_ci(replicate, [len(pred), len(pairs)], bootstrap, seed=seed, tick=tick)
        out.update(_interval_entry(iv))
        out["interval"]["method"] = "percentile bootstrap over clips and mismatched pairs"
    else:
        out.update(_no_bootstrap())
    return out


def family_entries(m: Metric, pred: Results, ref: Results | None, ctx: Context, labels: Sequence[str | None],
                   ref_labels: Sequence[str | None] | None, bootstrap: int, seed: int, tick=None) -> dict:
    """The metric on each scene family's clips (manifest `label`): against the same family's reference
    clips where the reference set is labelled, else against the whole reference set. A `-cc` metric's
    chance level is drawn from mismatched pairs within the family."""
    out = {}
    for fam in sorted({x for x in labels if x is not None}):
        idx = [i for i, x in enumerate(labels) if x == fam]
        r = ref
        if m.needs_ref and ref_labels is not None and any(x is not None for x in ref_labels):
            r = [ref[i] for i, x in enumerate(ref_labels) if x == fam]
        out[fam] = metric_entry(m, [pred[i] for i in idx], r, ctx.subset(idx), bootstrap, seed, tick)
    return out


__all__ = ["MAX_PAIRS", "METRICS", "corrected", "resampler", "family_entries", "metric_entry", "mismatched_pairs", "point_value"]
