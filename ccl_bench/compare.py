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
from rich.table import Table

from .errors import CCLBenchError
from .metrics import METRICS


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
    return entries


def _per_clip(entry: Entry, task: str):
    """(clip ids, results by analysis, reference results by analysis, context) or None."""
    from .evaluate import context_for, load_clipset, load_results

    t = entry.result["tasks"][task]
    clips, ref = entry.path.parent / t["clips"], entry.path.parent / t["reference"]  # relative to the table
    if not (clips / "per_clip.npz").is_file():
        return None
    pred = load_results(clips / "per_clip.npz")
    # The reference set's results exist where a metric needed them (the distribution metrics).
    refr = load_results(ref / "per_clip.npz") if (ref / "per_clip.npz").is_file() else {}
    ids = sorted(next(iter(pred.values())).keys()) if pred else []
    items = {i.id: i for i in load_clipset(clips, require_files=False).items}
    from .features.i3d import PRESETS

    ddof = PRESETS[entry.result.get("settings", {}).get("protocol", "videogpt")].covariance_ddof
    ctx = context_for([items[i] for i in ids], ddof)
    return ids, {k: [v[i] for i in ids] for k, v in pred.items()}, {k: list(v.values()) for k, v in refr.items()}, ctx


def compare(entries: list[Entry], bootstrap: int = 1000, seed: int = 0) -> dict:
    if len(entries) < 2:
        raise CCLBenchError("compare needs at least two results")
    suites = {e.result["suite"] for e in entries}
    if len(suites) > 1:
        raise CCLBenchError(f"results of different suites cannot be compared: {sorted(suites)}")
    tasks = [t for t in entries[0].result["tasks"] if all(t in e.result["tasks"] for e in entries)]
    table: dict = {"suite": suites.pop(), "entries": [e.label for e in entries], "tasks": {}, "bootstrap": bootstrap}
    for task in tasks:
        per = [_per_clip(e, task) for e in entries]
        shared = set.intersection(*(set(p[0]) for p in per)) if all(per) else set()
        rows = {}
        for name in entries[0].result["tasks"][task]["metrics"]:
            vals = [e.result["tasks"][task]["metrics"].get(name, {}).get("value") for e in entries]
            m = METRICS.get(name)
            row = {"values": vals, "better": m.better if m else "", "unit": m.unit if m else "", "deltas": [None] * len(entries)}
            if vals[0] is not None:
                row["deltas"] = [None if v is None else v - vals[0] for v in vals]
            if m and all(v is not None for v in vals) and shared and (not m.needs_ref or all(m.analysis in p[2] for p in per)):
                row["paired"] = _paired(m, per, sorted(shared), bootstrap, seed)
            else:
                row["paired"] = None
                row["why_no_test"] = ("a value is unavailable" if any(v is None for v in vals)
                                      else "per-clip results not found beside the clips")
            rows[name] = row
        table["tasks"][task] = {"metrics": rows, "shared_prompts": len(shared)}
    return table


def _paired(m, per, shared: list[str], bootstrap: int, seed: int) -> list[dict | None]:
    """For each entry after the first: the 95% interval of (entry - first) and significance."""
    rng = np.random.default_rng(seed)
    pos = [{cid: i for i, cid in enumerate(p[0])} for p in per]
    index = [np.array([q[c] for c in shared]) for q in pos]

    def value(k: int, draw: np.ndarray):
        ids, res, ref, ctx = per[k]
        sel = index[k][draw]
        return m.value([res[m.analysis][i] for i in sel], ref.get(m.analysis) if m.needs_ref else None, ctx, sel)

    diffs = [[] for _ in per]
    for _ in range(bootstrap):
        draw = rng.integers(0, len(shared), len(shared))
        base = value(0, draw)
        for k in range(1, len(per)):
            v = value(k, draw)
            if base is not None and v is not None:
                if m.better == "zero":
                    v, b = abs(v), abs(base)
                else:
                    b = base
                diffs[k].append(v - b)
    out: list[dict | None] = [None]
    for k in range(1, len(per)):
        if len(diffs[k]) < bootstrap // 2:
            out.append(None)
            continue
        lo, hi = np.percentile(diffs[k], [2.5, 97.5])
        out.append({"ci95": [float(lo), float(hi)], "significant": bool(lo > 0 or hi < 0)})
    return out


def _verdict(row: dict, k: int) -> str:
    p = row.get("paired")
    if k == 0:
        return "baseline"
    if not p or p[k] is None:
        return "n/a"
    if not p[k]["significant"]:
        return "not significant"
    lo = p[k]["ci95"][0]
    worse = (lo > 0) == (row["better"] in ("lower", "zero"))
    return "significantly " + ("worse" if worse else "better")


def _cells(row: dict, markup: bool) -> list[str]:
    """One cell per entry: the value, and after the first its delta and verdict."""
    cells = []
    for k, v in enumerate(row["values"]):
        if v is None:
            cells.append("unavailable")
        elif k == 0:
            cells.append(f"{v:.4g}")
        else:
            verdict = _verdict(row, k)
            if markup and verdict.startswith("significantly"):
                verdict = f"[{'green' if verdict.endswith('better') else 'red'}]{verdict}[/]"
            cells.append(f"{v:.4g} ({row['deltas'][k]:+.3g}, {verdict})")
    return cells


def rich_table(table: dict) -> Table:
    names = table["entries"]
    t = Table("task", "metric", *names, title=f"{table['suite']}: deltas vs {names[0]}, paired bootstrap "
              f"({table['bootstrap']} replicates) over the shared prompts")
    for task, tt in table["tasks"].items():
        for metric, row in tt["metrics"].items():
            t.add_row(task, f"{metric} ({row['better']})", *_cells(row, markup=True))
    return t


def to_markdown(table: dict) -> str:
    names = table["entries"]
    lines = [f"### {table['suite']}: deltas vs `{names[0]}` (paired bootstrap, {table['bootstrap']} replicates)", "",
             "| task | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for task, tt in table["tasks"].items():
        for metric, row in tt["metrics"].items():
            lines.append(f"| {task} | {metric} ({row['better']}) | " + " | ".join(_cells(row, markup=False)) + " |")
    return "\n".join(lines) + "\n"
