"""`ccl_bench.evaluate(pred, ref, metrics, protocol)`: clip folders -> analyses (cached) -> metrics
with bootstrap 95% intervals -> one JSON-able result.

A folder is a suite folder (`manifest.json`, as `ccl-bench suite build` and `ccl-bench sample` write)
or a plain folder of clips (mp4/mkv/webm/mov, audio in the file or a same-stem wav/flac). Clips that
cannot be decoded are listed with their fault and left out; a metric with too few clips, or whose
weights are missing, is reported `unavailable` with the reason, never as a number.

The pieces live where their concept does: clip sets in `io.clipset`, the analysis loop in
`features.analyse`, the per-clip store in `features.store`, a metric's entry in `scoring`, the
provenance in `provenance`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import validate
from .errors import CCLBenchError, UnknownNameError
from .features import Analysis, FeatureCache
from .features.analyse import analyse, make_analysis
from .features.store import SetResults, load_results, save_results
from .io.clipset import ClipItem, ClipSet, load_clipset
from .io.reader import decoder_id
from .metrics import METRICS
from .paths import cache_dir as default_cache_dir
from .paths import portable
from .progress import progress
from .provenance import provenance
from .scoring import compute_metric, context_for, unavailable

DEFAULT_PROTOCOL = "videogpt"

__all__ = ["DEFAULT_PROTOCOL", "ClipItem", "ClipSet", "SetResults", "analyse", "compute_metric", "context_for", "evaluate",
           "load_clipset", "load_results", "make_analysis", "save_results"]


def evaluate(pred: str | Path, ref: str | Path | None = None, metrics: Sequence[str] | None = None,
             protocol: str = DEFAULT_PROTOCOL, device: str | None = None, weights_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, bootstrap: int = 200, seed: int = 0, show_progress: bool = True,
             details: bool = False):
    """Evaluate the clips in `pred` (against `ref` for the distribution metrics). metrics: names from
    `ccl_bench.metrics.METRICS` (default: all); protocol: the FVD/KVD preset. -> the result dict
    `{"metrics": {name: {...}}, "clips": {...}, "provenance": {...}}`; with `details`, also the
    per-clip results of the predicted and reference sets (for paired comparisons)."""

    from .features.i3d import PRESETS

    if metrics is not None and not list(metrics):
        raise CCLBenchError(f"--metrics: empty list; name at least one (known: {', '.join(METRICS)})")
    names = list(metrics) if metrics is not None else list(METRICS)
    bootstrap = validate.positive_int("--bootstrap", bootstrap, allow_zero=True)
    for n in names:
        if n not in METRICS:
            raise UnknownNameError("metric", n, list(METRICS))
    # Each sync metric brings its chance-corrected twin.
    names += [f"{n}-cc" for n in names if f"{n}-cc" in METRICS and f"{n}-cc" not in names]
    if protocol not in PRESETS:
        raise UnknownNameError("FVD protocol", protocol, list(PRESETS))
    from .distributed import device_for, world

    device = device_for(world(), device)
    pred_set = load_clipset(pred)
    ref_set = load_clipset(ref) if ref is not None else None
    cache = FeatureCache(validate.cache_folder(cache_dir, default_cache_dir()))  # probed now, not after the analysis

    out: dict[str, Any] = {}
    analyses: dict[str, Analysis] = {}
    for n in names:
        m = METRICS[n]
        if m.needs_ref and ref_set is None:
            out[n] = unavailable("needs reference clips (--ref DIR)")
            continue
        if m.analysis not in analyses:
            a = make_analysis(m.analysis, protocol, weights_dir, device)
            try:
                _ = a.cache_id  # loads and verifies weights where the analysis has any
            except CCLBenchError as exc:
                place = getattr(exc, "missing", None)  # a weights file to place: where, and where it comes from
                extra = {"place": place[0], "source": place[1]} if place else {}
                out.update({k: {**unavailable(str(exc)), **extra} for k in names if METRICS[k].analysis == m.analysis})
                continue
            analyses[m.analysis] = a
    pred_res = analyse(pred_set, analyses, cache, "pred", show_progress)
    ref_kinds = {k: a for k, a in analyses.items() if any(METRICS[n].needs_ref and METRICS[n].analysis == k
                                                          for n in names)}
    ref_res = analyse(ref_set, ref_kinds, cache, "ref", show_progress) if ref_set is not None and ref_kinds else None
    from .distributed import broadcast_from_main

    w = world()
    if broadcast_from_main(w.main and not pred_res.ids, w):
        raise validate.NoClipsEvaluated(pred_set.folder, len(pred_set.items) + len(pred_set.missing), pred_res.excluded)
    if not w.main:  # rank 0 holds the gathered results and computes; the others receive its result
        result = broadcast_from_main(None, w)
        return (result, pred_res, ref_res) if details else result
    ddof = PRESETS[protocol].covariance_ddof
    ctx = context_for(pred_res.items, ddof)
    for n in names:
        if n in out:
            continue
        with progress(show_progress) as bar:
            families = len({i.label for i in pred_res.items if i.label is not None})
            task = bar.add_task(f"intervals {n}", total=bootstrap * (1 + (families if families > 1 else 0)))
            out[n] = compute_metric(n, pred_res, ref_res, ctx, bootstrap, seed, tick=lambda t=task: bar.advance(t))
        a = analyses[METRICS[n].analysis]
        out[n]["protocol"] = METRICS[n].protocol(a.name, a.protocol, ctx)
    clips = {"pred": {"folder": portable(pred_set.folder), "clips": len(pred_set.items) + len(pred_set.missing),
                      "used": len(pred_res.ids), "excluded": _portable(pred_res.excluded),
                      "warnings": _portable(pred_res.warnings),
                      "conversions": {k: dict(v) for k, v in pred_res.conversions.items() if v}}}
    if ref_res is not None:
        clips["ref"] = {"folder": portable(ref_set.folder), "clips": len(ref_set.items) + len(ref_set.missing),
                        "used": len(ref_res.ids), "excluded": _portable(ref_res.excluded),
                        "warnings": _portable(ref_res.warnings),
                        "conversions": {k: dict(v) for k, v in ref_res.conversions.items() if v}}
    if pred_set.task:
        clips["pred"]["task"] = pred_set.task
    weights = {k: a.protocol.get("weights_sha256") for k, a in analyses.items() if a.protocol.get("weights_sha256")}
    prov = provenance(seed, {"device": device, "processes": w.size, "fvd_protocol": protocol, "covariance_ddof": ddof,
                             "bootstrap": {"samples": bootstrap, "seed": seed, "level": 0.95}, "weights_sha256": weights,
                             "decoder": decoder_id()})
    result = broadcast_from_main({"metrics": {n: out[n] for n in names}, "clips": clips, "provenance": prov}, w)
    return (result, pred_res, ref_res) if details else result


def _portable(excluded: list[dict]) -> list[dict]:
    """Excluded (or warned-about) clips with their paths as results may name them (`paths.portable`)."""
    return [{**e, "path": portable(e["path"])} for e in excluded]
