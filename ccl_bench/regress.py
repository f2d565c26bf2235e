"""`ccl-bench regress`: compare fresh `run` tables with committed ones, metric by metric, against
committed tolerances; fail with a readable diff when something moved past its tolerance, when a
committed entry is missing, or when what produced the numbers changed (checkpoint, settings).

Tolerances (YAML): `default: {abs: A, rel: R}` and `suites: {<suite>: {<metric>: {abs: A, rel: R}}}`
(a metric's entry replaces the default); a value fails when `|current - baseline| > abs + rel * |baseline|`.
A metric entry `{noise: REASON}` instead says the metric is not regressed for this suite's checkpoints
(its values are noise there) and why.

The report ends by naming every metric it did not regress and why (unavailable in both tables, e.g.
offline without the metric weights; declared noise), so a green gate says what it did not look at."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CCLBenchError

SETTINGS_THAT_MUST_MATCH = ("rendering", "split", "num_samples", "steps", "sampler", "guidance", "scales", "seed",
                            "protocol")


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # suite/model/task/metric compared against a tolerance
    not_regressed: dict[str, list[str]] = field(default_factory=dict)  # reason -> suite/model/task/metric

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        self.lines.append(f"[red]FAIL[/] {msg}")

    def good(self, msg: str) -> None:
        self.lines.append(f"[green]ok[/]   {msg}")

    def skip(self, where: str, reason: str) -> None:
        self.not_regressed.setdefault(reason, []).append(where)
        self.lines.append(f"[yellow]skip[/] {where}: not regressed ({reason})")

    def summary(self) -> list[str]:
        """What the gate compared and, grouped by reason, what it did not."""
        out = [f"regressed {len(self.checked)} values against their tolerances; {len(self.failures)} failure(s)"]
        for reason, where in self.not_regressed.items():
            metrics = sorted({w.rsplit("/", 1)[-1] for w in where})
            out.append(f"not regressed: {', '.join(metrics)} ({len(where)} values): {reason}")
        return out


def load_tables(folder: str | Path) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """`<folder>/<suite>/<model>.json` run results -> ({(suite, model): result}, unreadable files)."""
    tables, broken = {}, []
    for p in sorted(Path(folder).glob("*/*.json")):
        try:
            r = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            broken.append(f"{p}: not valid JSON ({exc})")
            continue
        if not isinstance(r, dict) or not ("tasks" in r or "model" in r):
            continue  # another record kept under results/ (calibration, claims, compute): not a run table
        missing = [k for k in ("suite", "model", "tasks") if k not in r]
        if missing:
            broken.append(f"{p}: a run table without {', '.join(missing)}")
        else:
            tables[(r["suite"], r["model"])] = r
    return tables, broken


def load_tolerances(path: str | Path) -> dict:
    """Read and check a tolerances YAML: every bound a finite number >= 0, one line per fault."""
    import math

    import yaml

    p = Path(path)
    if not p.is_file():
        raise CCLBenchError(f"{p}: tolerances file not found")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CCLBenchError(f"{p}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, dict):
        raise CCLBenchError(f"{p}: expected a mapping with 'default' and 'suites', got {type(raw).__name__}")

    def bound(where: str, entry) -> dict:
        if not isinstance(entry, dict):
            raise CCLBenchError(f"{p}: {where}: expected {{abs: A, rel: R}}, got {entry!r}")
        for k in ("abs", "rel"):
            v = entry.get(k, 0.0)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise CCLBenchError(f"{p}: {where}.{k}: expected a number >= 0, got {v!r}")
        return entry

    default = bound("default", raw.get("default", {"abs": 0.0, "rel": 0.0}))
    suites = raw.get("suites") or {}
    if not isinstance(suites, dict):
        raise CCLBenchError(f"{p}: suites: expected a mapping of suite names, got {suites!r}")
    for suite, metrics in suites.items():
        if not isinstance(metrics, dict):
            raise CCLBenchError(f"{p}: suites.{suite}: expected a mapping of metric names, got {metrics!r}")
        for metric, entry in metrics.items():
            bound(f"suites.{suite}.{metric}", entry)
    return {"default": default, "suites": suites}


def noise_reason(tol: dict, suite: str, metric: str) -> str | None:
    """The reason a metric is declared noise for a suite's checkpoints (`{noise: REASON}`), else None."""
    t = tol["suites"].get(suite, {}).get(metric) or {}
    return str(t["noise"]) if "noise" in t else None


def tolerance(tol: dict, suite: str, metric: str) -> tuple[float, float]:
    """A metric's own entry replaces the default (its missing bound is 0)."""
    t = tol["suites"].get(suite, {}).get(metric) or tol["default"]
    return float(t.get("abs", 0.0)), float(t.get("rel", 0.0))


def regress(baseline: str | Path, current: str | Path, tolerances: str | Path | None = None) -> Report:
    for option, folder in (("--baseline", baseline), ("--current", current)):
        if not Path(folder).is_dir():
            raise CCLBenchError(f"{option} {folder}: " + ("not a folder" if Path(folder).exists() else "folder not found"))
    base, broken_base = load_tables(baseline)
    cur, broken_cur = load_tables(current)
    tol = load_tolerances(tolerances or Path(baseline) / "tolerances.yaml")
    rep = Report()
    for b in broken_base + broken_cur:
        rep.fail(b)
    if not base and not broken_base:
        rep.fail(f"{baseline}: no committed run tables (<suite>/<model>.json)")
    for key, b in base.items():
        suite, model = key
        c = cur.get(key)
        if c is None:
            rep.fail(f"{suite}/{model}: in the baseline but not in {current}")
            continue
        _compare_entry(rep, suite, model, b, c, tol)
    for key in sorted(set(cur) - set(base)):
        rep.lines.append(f"note {key[0]}/{key[1]}: new, not in the baseline")
    if base:
        rep.skip("per-family breakdowns", "the whole-set value of each metric is regressed, its per-family parts are not")
    return rep


def _compare_entry(rep: Report, suite: str, model: str, b: dict, c: dict, tol: dict) -> None:
    bs, cs = b.get("settings", {}), c.get("settings", {})
    for k in SETTINGS_THAT_MUST_MATCH:
        if bs.get(k) != cs.get(k):
            rep.fail(f"{suite}/{model}: setting {k} differs: baseline {bs.get(k)!r}, current {cs.get(k)!r}")
    bsha, csha = b.get("provenance", {}).get("checkpoint_sha256"), c.get("provenance", {}).get("checkpoint_sha256")
    if bsha != csha:
        rep.fail(f"{suite}/{model}: checkpoint changed: sha256 {str(bsha)[:16]}... -> {str(csha)[:16]}... "
                 "(retrain and commit new tables together)")
    for task, bt in b["tasks"].items():
        ct = c["tasks"].get(task)
        if ct is None:
            rep.fail(f"{suite}/{model}/{task}: in the baseline but not in the current run")
            continue
        for metric, bm in bt["metrics"].items():
            cm = ct["metrics"].get(metric)
            where = f"{suite}/{model}/{task}/{metric}"
            if cm is None:
                rep.fail(f"{where}: in the baseline but not in the current run")
            elif "value" not in bm and "value" not in cm:
                rep.skip(where, f"unavailable in both tables: {_short(cm.get('reason', ''))}")
            elif noise_reason(tol, suite, metric) is not None:
                rep.skip(where, f"declared noise in the tolerances: {noise_reason(tol, suite, metric)}")
            elif "value" not in cm:
                rep.fail(f"{where}: baseline {bm['value']:.6g}, now unavailable: {cm.get('reason')}")
            elif "value" not in bm:
                rep.fail(f"{where}: now {cm['value']:.6g}, but the baseline has no value ({bm.get('reason', '')[:60]}); "
                         "commit a new table")
            else:
                a, r = tolerance(tol, suite, metric)
                diff = cm["value"] - bm["value"]
                limit = a + r * abs(bm["value"])
                msg = f"{where}: baseline {bm['value']:.6g}, current {cm['value']:.6g} (diff {diff:+.4g}, tolerance {limit:.4g})"
                rep.checked.append(where)
                (rep.good if abs(diff) <= limit else rep.fail)(msg)


def _short(reason: str) -> str:
    """A reason's gist for the summary: a missing weights file is one cause whatever the folder."""
    if reason.startswith("weights file ") and "not found" in reason:
        return reason.split(":")[0] + " (offline: the metric weights are not installed)"
    return reason[:100]
