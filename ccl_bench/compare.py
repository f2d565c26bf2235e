"""`ccl-bench compare`: run results side by side, with each difference to the first entry and whether
it is significant by a paired bootstrap over the prompts the runs share.

Paired: every replicate draws the same prompt indices for all entries (clip i of each run answers the
same prompt with the same seed), recomputes each metric from the saved per-clip results
(`per_clip.npz` beside the clips) against the fixed reference set, and takes the difference. A
difference is significant when its 95% interval excludes 0. Where per-clip results are missing, the
table says so instead of guessing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CCLBenchError
from .features.store import load_results
from .io.clipset import load_clipset
from .metrics import METRICS
from .provenance import provenance
from .scoring import context_for


@dataclass
class Entry:
    label: str
    path: Path
    result: dict
    per_clip: dict = field(default_factory=dict)  # task -> (ids, {analysis: [per-clip dicts]}, ref, ctx)


def load_entries(items: list[str], results: str | Path = "results", suite: str = "av-sync") -> list[Entry]:
    """Result files, or model names looked up as `<results>/<suite>/<name>.json`."""
    entries = []
    for item in items:
        p = Path(item)
        if p.suffix != ".json":
            p = Path(results) / suite / f"{item}.json"
        if not p.is_file():
            raise CCLBenchError(f"{p}: result file not found (run `ccl-bench run --model {item} --suite {suite}` first)")
        try:
            result = json.loads(p.read_text())
            result["tasks"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CCLBenchError(f"{p}: not a `ccl-bench run` result ({type(exc).__name__}: {exc})") from None
        entries.append(Entry(result.get("model", p.stem), p, result))
    _tell_apart(entries)
    return entries


# Settings that make two runs of one model answer different questions; the first that differ name the columns.
TOLD_APART_BY = ("guidance", "scales", "captions", "steps", "sampler", "num_samples", "seed", "rendering", "overrides")


def _setting(e: Entry, key: str) -> str:
    """One setting of an entry's run as a label shows it; unset, empty or absent is the default (seed 0 is a value)."""
    v = e.result.get("settings", {}).get(key)
    return "default" if v in (None, "", {}) else str(v)


def _tell_apart(entries: list[Entry]) -> None:
    """Entries of one model get labels that differ: `ccl (scales text=2)`, by the settings in which they differ,
    else by their files, else by their order."""
    from .paths import portable

    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.label, []).append(e)
    for name, group in groups.items():
        if len(group) < 2:
            continue
        keys = [k for k in TOLD_APART_BY if len({_setting(e, k) for e in group}) > 1]
        for e in group:
            e.label = f"{name} ({', '.join(f'{k} {_setting(e, k)}' for k in keys)})" if keys else name
        if len({e.label for e in group}) < len(group):
            for e in group:
                e.label = f"{name} ({portable(e.path)})"
        if len({e.label for e in group}) < len(group):
            for i, e in enumerate(group, 1):
                e.label = f"{name} #{i}"


def per_clip_results(entry: Entry, task: str):
    """(clip ids, results by analysis, reference results by analysis, context) or None."""
    t = entry.result["tasks"][task]
    clips, ref = entry.path.parent / t["clips"], entry.path.parent / t["reference"]  # relative to the table
    if not (clips / "per_clip.npz").is_file():
        return None
    pred = load_results(clips / "per_clip.npz")
    # The reference set's results exist where a metric needed them (the distribution metrics).
    refr = load_results(ref / "per_clip.npz") if (ref / "per_clip.npz").is_file() else {}
    ids = sorted(next(iter(pred.values())).keys()) if pred else []
    items = {i.id: i for i in load_clipset(clips, require_files=False).items}
    ctx = context_for([items[i] for i in ids], covariance_ddof(entry))
    return ids, {k: [v[i] for i in ids] for k, v in pred.items()}, {k: list(v.values()) for k, v in refr.items()}, ctx


def covariance_ddof(entry: Entry) -> int | None:
    """The covariance divisor convention (N - ddof) the table was computed with, as the table records it
    (`provenance.covariance_ddof`, or a distance metric's protocol); None where it records none (then
    no distance metric of it is tested)."""
    r = entry.result
    if "covariance_ddof" in r.get("provenance", {}):
        return int(r["provenance"]["covariance_ddof"])
    for t in r["tasks"].values():
        for m in t["metrics"].values():
            if "covariance_ddof" in m.get("protocol", {}):
                return int(m["protocol"]["covariance_ddof"])
    return None


def compare(entries: list[Entry], bootstrap: int = 1000, seed: int = 0) -> dict:
    if len(entries) < 2:
        raise CCLBenchError("compare needs at least two results")
    suites = {e.result["suite"] for e in entries}
    if len(suites) > 1:
        raise CCLBenchError(f"results of different suites cannot be compared: {sorted(suites)}")
    tasks = [t for t in entries[0].result["tasks"] if all(t in e.result["tasks"] for e in entries)]
    table: dict = {"suite": suites.pop(), "entries": [e.label for e in entries], "tasks": {}, "bootstrap": bootstrap,
                   "provenance": provenance(seed, {"tables": {e.label: {
                       "commit": e.result.get("provenance", {}).get("commit", "unknown"),
                       "checkpoint_sha256": e.result.get("provenance", {}).get("checkpoint_sha256")} for e in entries}})}
    for task in tasks:
        per = [per_clip_results(e, task) for e in entries]
        shared = set.intersection(*(set(p[0]) for p in per)) if all(per) else set()
        rows = {}
        for name in entries[0].result["tasks"][task]["metrics"]:
            vals = [e.result["tasks"][task]["metrics"].get(name, {}).get("value") for e in entries]
            m = METRICS.get(name)
            row = {"values": vals, "better": m.better if m else "", "unit": m.unit if m else "", "deltas": [None] * len(entries)}
            if vals[0] is not None:
                row["deltas"] = [None if v is None else v - vals[0] for v in vals]
            no_ddof = m is not None and m.needs_ref and any(covariance_ddof(e) is None for e in entries)
            if m and all(v is not None for v in vals) and shared and not no_ddof and (
                    not m.needs_ref or all(m.analysis in p[2] for p in per)):
                try:
                    row["paired"] = _paired(m, per, sorted(shared), bootstrap, seed)
                except CCLBenchError as exc:  # per-clip results of an older protocol
                    row["paired"], row["why_no_test"] = None, str(exc)
                except KeyError as exc:  # per-clip results written before this metric read that array
                    row["paired"] = None
                    row["why_no_test"] = f"per-clip results lack {exc} (written by an older ccl-bench; rerun `ccl-bench run`)"
            else:
                row["paired"] = None
                row["why_no_test"] = ("a value is unavailable" if any(v is None for v in vals)
                                      else "a table records no covariance convention" if no_ddof
                                      else "per-clip results not found beside the clips")
            rows[name] = row
        table["tasks"][task] = {"metrics": rows, "shared_prompts": len(shared)}
    return table


def _paired(m, per, shared: list[str], bootstrap: int, seed: int) -> list[dict | None]:
    """For each entry after the first: the 95% interval of (entry - first), whether it excludes 0, and the
    replicates it rests on (`used` of `replicates`: a replicate fails where either value is missing).
    Under half the replicates used: None (no verdict)."""
    pos = [{cid: i for i, cid in enumerate(p[0])} for p in per]
    index = [np.array([q[c] for c in shared]) for q in pos]

    from .metrics.score import resampler
    from .metrics.stats import paired_bootstrap, percentile_interval

    values = [resampler(m, res[m.analysis], ref.get(m.analysis) if m.needs_ref else None, ctx, seed)
              for _, res, ref, ctx in per]
    stats = [lambda draw, k=k: values[k](index[k][draw]) for k in range(len(per))]
    diffs = paired_bootstrap(stats, lambda rng: rng.integers(0, len(shared), len(shared)), bootstrap, seed, m.better)
    out: list[dict | None] = [None]
    for d in diffs:
        if not len(d) or len(d) < bootstrap / 2:
            out.append(None)
            continue
        lo, hi = percentile_interval(d)
        out.append({"ci95": [lo, hi], "significant": bool(lo > 0 or hi < 0),
                    "bootstrap": {"replicates": bootstrap, "used": len(d), "failed": bootstrap - len(d)}})
    return out
