"""Result files -> tables: rich (screen), CSV and Markdown, one row per metric."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from rich.table import Table

COLUMNS = ("task", "metric", "value", "ci95_low", "ci95_high", "n", "unit", "better", "status")


def _metric_rows(metrics: dict, task: str | None) -> list[dict]:
    out = []
    for name, m in metrics.items():
        if m.get("status") == "unavailable":
            out.append({"task": task, "metric": name, "value": None, "ci95_low": None, "ci95_high": None, "n": None,
                        "unit": "", "better": "", "status": "unavailable: " + m["reason"]})
        else:
            lo, hi = m.get("ci95") or (None, None)
            out.append({"task": task, "metric": name, "value": m["value"], "ci95_low": lo, "ci95_high": hi,
                        "n": m.get("n"), "unit": m.get("unit", ""), "better": m.get("better", ""), "status": "ok"})
    return out


def rows(result: dict) -> list[dict]:
    """One row per metric: of an `evaluate` result, or per task and metric of a `run` result."""
    if "tasks" in result:
        return [r for task, t in result["tasks"].items() for r in _metric_rows(t["metrics"], task)]
    return _metric_rows(result["metrics"], None)


def fmt(x, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return str(x)


def rich_table(result: dict, title: str = "metrics") -> Table:
    t = Table("task", "metric", "value", "95% CI", "n", "better", "protocol / reason", title=title)
    protocols = {(task, name): m.get("protocol", {}) for task, ms in _metric_sets(result) for name, m in ms.items()}
    for r in rows(result):
        task = r["task"] or "-"
        if r["status"] != "ok":
            t.add_row(task, r["metric"], "[yellow]unavailable[/]", "", "", "", r["status"][len("unavailable: "):])
            continue
        unit = f" {r['unit']}" if r["unit"] else ""
        proto = protocols.get((r["task"], r["metric"]), {})
        t.add_row(task, r["metric"], fmt(r["value"]) + unit, f"[{fmt(r['ci95_low'])}, {fmt(r['ci95_high'])}]", str(r["n"]),
                  r["better"], str(proto.get("name") or proto.get("analysis", "")))
    return t


def _metric_sets(result: dict):
    if "tasks" in result:
        return [(task, t["metrics"]) for task, t in result["tasks"].items()]
    return [(None, result["metrics"])]


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows(result):
        w.writerow(r)
    return buf.getvalue()


def to_markdown(result: dict, title: str | None = None) -> str:
    lines = [f"### {title}", ""] if title else []
    lines += ["| task | metric | value | 95% CI | n | better |", "|---|---|---|---|---|---|"]
    for r in rows(result):
        task = r["task"] or "-"
        if r["status"] != "ok":
            lines.append(f"| {task} | {r['metric']} | unavailable | {r['status'][len('unavailable: '):]} | | |")
        else:
            unit = f" {r['unit']}" if r["unit"] else ""
            lines.append(f"| {task} | {r['metric']} | {fmt(r['value'])}{unit} | [{fmt(r['ci95_low'])}, {fmt(r['ci95_high'])}] | "
                         f"{r['n']} | {r['better']} |")
    return "\n".join(lines) + "\n"


def _finite(obj):
    """NaN and inf (which strict JSON cannot hold) as null; the entries carry their reasons beside them."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_result(result: dict, path: str | Path) -> list[Path]:
    """`path` is a base: BASE.json, BASE.csv and BASE.md (a .json/.csv/.md suffix of `path` is dropped
    first, so none is written over another), each written atomically. JSON is strict (no NaN). -> the paths."""
    from .validate import result_paths

    jpath, cpath, mpath = result_paths(path)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for p, text in ((jpath, json.dumps(_finite(result), indent=1, default=float, allow_nan=False)), (cpath, to_csv(result)),
                    (mpath, to_markdown(result, jpath.stem))):
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, p)
        written.append(p)
    return written
