"""Per-clip analysis results -> one metric's entry of a result table: the value, its bootstrap 95%
interval with the replicates it rests on, the protocol that produced it, or why it is unavailable.
Used by `evaluate` (one set) and `compare` (paired sets); reads no clips and loads no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .features.store import SetResults
from .io.clipset import ClipItem, known_events
from .metrics import METRICS, Context, Subset
from .metrics.stats import bootstrap_ci


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


def context_for(items: Sequence[ClipItem], ddof: int) -> Context:
    """Known events of a kept stream, per clip: V2A keeps the conditioning video, A2V its audio.
    ddof: the covariance divisor convention (N - ddof) of the Frechet distances."""
    return Context(covariance_ddof=ddof, gt_visual=known_events(items, "video"), gt_audio=known_events(items, "audio"))


def compute_metric(name: str, pred: SetResults, ref: SetResults | None, ctx: Context, bootstrap: int, seed: int) -> dict:
    """-> {"value", "ci95", "bootstrap": {"replicates", "used", "failed"}, "n", ...} or an unavailable entry.
    A replicate fails where the metric has no value on the resampled clips (e.g. no event in any); the
    interval is over the `used` ones, and with none used it is unavailable rather than NaN."""
    m = METRICS[name]
    p = pred.results[m.analysis]
    r = ref.results[m.analysis] if (ref is not None and m.needs_ref) else None
    if len(p) < m.min_clips or (m.needs_ref and len(r) < m.min_clips):
        return unavailable(f"needs at least {m.min_clips} decodable clips per set, got {len(p)}"
                           + (f" and {len(r)}" if m.needs_ref else ""))
    value = m.value(p, r, ctx)
    if value is None:
        return unavailable(why_none(name, p, r))
    groups = [len(p)] + ([len(r)] if m.needs_ref else [])
    used = 0

    def replicate(idx: Sequence[np.ndarray]):
        nonlocal used
        sp = Subset([p[i] for i in idx[0]], idx[0])
        sr = [r[i] for i in idx[1]] if m.needs_ref else None
        v = m.value(sp, sr, ctx)
        used += v is not None and bool(np.isfinite(v))
        return v

    out = {"value": value}
    if bootstrap:
        lo, hi = bootstrap_ci(replicate, groups, samples=bootstrap, seed=seed)
        out["ci95"] = [lo, hi] if used else None
    else:
        out["ci95"] = None
    out["bootstrap"] = {"replicates": bootstrap, "used": used, "failed": bootstrap - used}
    out.update({"n": len(p), "unit": m.unit, "better": m.better})
    if m.needs_ref:
        out["n_ref"] = len(r)
    if name == "fad-inf":
        out["fit_r2"] = fd_inf_r2(p, r, ctx)
    if m.analysis == "i3d" and min(len(p), len(r)) < 256:
        out["note"] = f"from {min(len(p), len(r))} clips: FVD/KVD are biased at small N; compare only at equal N"
    return out


def fd_inf_r2(pred, ref, ctx: Context) -> float:
    """r^2 of FD-inf's straight-line fit of FD against 1 / n, with the draws the value used."""
    from .metrics import stats

    def rows(res):
        return np.concatenate([x["features"].reshape(-1, x["features"].shape[-1]) for x in res])

    return stats.frechet_distance_inf_fit(rows(pred), stats.gaussian(rows(ref), ctx.covariance_ddof),
                                          ddof=ctx.covariance_ddof, rng=np.random.default_rng(0))[1]


def why_none(name: str, p, r) -> str:
    if name == "fad-inf":
        return f"FD-inf needs at least 500 embeddings, got {sum(len(x['features']) for x in p)}"
    if name in ("fvd", "kvd", "fad"):
        return "too few feature rows for a covariance"
    if name == "av-align":
        return "no clip has an audio onset or an optical-flow peak"
    return "no clip has an audio onset or a visual event"


def protocol_of(name: str, analysis_name: str, analysis_protocol: dict) -> dict:
    """The protocol entry of a metric: its analysis' constants and, for the distances, the statistic."""
    m = METRICS[name]
    base = {"metric": name, "analysis": analysis_name, **analysis_protocol}
    if m.analysis == "i3d":
        divisor = "N - 1" if analysis_protocol["covariance_ddof"] == 1 else "N"
        base["statistics"] = (f"Frechet, covariance / ({divisor})" if name == "fvd"
                              else "unbiased MMD^2, kernel (x.y / d + 1)^3, 100 subsets of <= 1000")
    if name in ("fad", "fad-inf"):
        base["statistics"] = "Frechet over all 0.96 s examples, covariance / (N - 1)" + (
            "; FD-inf: 25 sizes from 500, with replacement, intercept of FD vs 1/n" if name == "fad-inf" else "")
    return base
