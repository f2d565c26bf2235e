"""`ccl-bench claims`: every claim of a study spec -> its comparisons' verdicts from the run matrix,
written as `README.md` (one table), `verdicts.json`, and per claim JSON, CSV, Markdown and a plot."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CCLBenchError
from .compute import load_records, quantity
from .convergence import steps_to_level
from .matrix import Matrix, metric_statistic, read_matrix
from .spec import Claim, Primary, Side, Split, StudySpec
from .verdict import NOT_RUN, UNAVAILABLE, Outcome, RunStatistic, combine, exact_difference, paired_difference

SECONDARY_REPLICATES = 500
REPORTED = "reported"  # a split's or a secondary metric's status: an interval that decides nothing


@dataclass
class ComparisonResult:
    treatment: Side
    comparator: Side
    outcome: Outcome
    secondary: list[dict] = field(default_factory=list)
    part: str = ""  # a split's part (it decides nothing), or "" for a comparison

    def to_json(self) -> dict:
        return {"treatment": self.treatment.label, "comparator": self.comparator.label, **self.outcome.to_json(),
                "secondary": self.secondary, **({"part": self.part} if self.part else {})}


@dataclass
class ClaimResult:
    claim: Claim
    comparisons: list[ComparisonResult]
    extra: dict = field(default_factory=dict)  # curves and shares for the plots
    splits: list[ComparisonResult] = field(default_factory=list)  # reported parts of the comparisons' differences

    @property
    def slug(self) -> str:
        return f"claim{self.claim.id}-{self.claim.name}"


class Study:
    """One evaluation of a study spec over a run matrix (and the profiler records for compute claims)."""

    def __init__(self, spec: StudySpec, matrix: Matrix, compute_dir: Path | None):
        self.spec, self.matrix = spec, matrix
        self.compute = load_records(compute_dir) if compute_dir is not None else []
        self._frames: dict[tuple[str, tuple[str, ...]], Outcome] = {}

    def frame_check(self, metric: str, tasks: tuple[str, ...]) -> Outcome:
        """The brief's sanity rule: a metric that cannot tell the ceiling from the floor decides nothing.
        The ceiling's runs minus the floor's, paired by folder and prompt, on this metric and tasks."""
        key = (metric, tasks)
        if key not in self._frames:
            from ..metrics import METRICS

            sides = []
            for model in ("ceiling", "floor"):
                runs = {}
                for (seed, variant), rec in self.matrix.frame_rows(model).items():
                    for task in tasks:
                        st = metric_statistic(rec, task, metric)
                        if not isinstance(st, str):
                            runs[(f"{seed}/{variant}", task)] = st
                sides.append(runs)
            m = METRICS.get(metric)
            if not (sides[0] and sides[1]) or m is None:
                self._frames[key] = Outcome(NOT_RUN, reason="no ceiling and floor runs of this metric in the matrix")
            else:
                self._frames[key] = paired_difference(sides[0], sides[1], m.better, 1, SECONDARY_REPLICATES,
                                                      self.spec.level, self.spec.seed)
        return self._frames[key]

    def framed(self, p: Primary, o: Outcome) -> Outcome:
        """A verdict on a metric that fails the ceiling-vs-floor check is inconclusive, saying why."""
        if p.kind != "metric" or o.status not in ("supported", "contradicted"):
            return o
        f = self.frame_check(p.name, p.tasks)
        if f.status == "supported":
            return o
        if f.status == NOT_RUN:
            o.reason = (o.reason + "; " if o.reason else "") + "ceiling vs floor not checked (no runs)"
            return o
        o.reason = (f"{p.name} does not separate the ceiling from the floor ({f.status}), so it decides nothing; "
                    f"the interval alone said {o.status}") + ("; " + o.reason if o.reason else "")
        o.status = "inconclusive"
        return o

    # ---- statistics of one side ----
    def metric_runs(self, side: Side, metric: str, tasks: tuple[str, ...],
                    last_snapshot: bool = False) -> tuple[dict, list[str]]:
        """{(seed, task): statistic} of the side's final runs; with `last_snapshot`, of each seed's last
        evaluation snapshot instead (a convergence claim's final quality: the same training runs as its curves)."""
        runs, why = {}, []
        found = self.matrix.last_snapshots(side, self.spec) if last_snapshot else self.matrix.find(side, self.spec)
        for (seed, _), rec in sorted(found.items()):
            for task in tasks:
                st = metric_statistic(rec, task, metric)
                if isinstance(st, str):
                    why.append(st)
                else:
                    runs[(seed, task)] = st
        return runs, why

    def measure_runs(self, side: Side, name: str) -> tuple[dict, list[str]]:
        runs = {(seed, "all"): st for seed, st in self.matrix.measure(name, side.model).items()}
        return runs, ([] if runs else [f"no {self.matrix.root}/seed<k>/measures/{name}/{side.model}.json"])

    def convergence_runs(self, side: Side, p: Primary) -> tuple[dict, list[str], dict]:
        """{(seed, task): steps-to-level statistic} and the curves (seed -> [(step, value)]) for the plot."""
        by_seed: dict[str, list] = {}
        for (seed, step), rec in self.matrix.find(side, self.spec, snapshots=True).items():
            by_seed.setdefault(seed, []).append((step, rec))
        runs, why, curves = {}, [], {}
        better = _metric_better(p.name)
        task = p.tasks[0]
        for seed, snaps in sorted(by_seed.items()):
            snaps.sort(key=lambda x: x[0])
            stats = [(step, metric_statistic(rec, task, p.name)) for step, rec in snaps]
            bad = [s for _, s in stats if isinstance(s, str)]
            if bad:
                why += bad
                continue
            shared = sorted(set.intersection(*(set(s.ids) for _, s in stats)))
            if not shared:
                why.append(f"seed {seed}: the snapshots of {side.label} share no prompt")
                continue
            pos = [np.array([s.ids.index(u) for u in shared]) for _, s in stats]
            steps = [step for step, _ in stats]
            curves[seed] = [(step, s.statistic(ix)) for (step, s), ix in zip(stats, pos, strict=True)]

            def value(idx, stats=stats, pos=pos, steps=steps):
                return steps_to_level(steps, [s.statistic(ix[idx]) for (_, s), ix in zip(stats, pos, strict=True)],
                                      p.level, better)[0]
            runs[(seed, task)] = RunStatistic(shared, value)
        if not by_seed:
            why.append(f"no evaluation snapshots ({self.matrix.root}/seed<k>/step<N>/{self.spec.suite}/{side.model}.json)")
        return runs, why, curves

    # ---- one comparison ----
    def outcome(self, p: Primary, comp, replicates: int | None = None, extra: dict | None = None,
                frame: bool = True) -> Outcome:
        """The comparison on `p`; frame: apply the ceiling-vs-floor rule (primaries; secondaries only report)."""
        spec = self.spec
        if p.kind == "all":
            parts = [self.outcome(x, comp, replicates, frame=frame) for x in p.parts]
            o = Outcome(combine(parts), parts=parts, reason="; ".join(f"{x.label}: {o.status}" for x, o in zip(p.parts, parts,
                                                                                                                     strict=True)))
            return o
        if p.kind == "compute":
            t = quantity(self.compute, comp.treatment.model, p.scale, p.name, spec.guidance_of(comp.treatment))
            c = quantity(self.compute, comp.comparator.model, p.scale, p.name, spec.guidance_of(comp.comparator))
            return exact_difference(t and t[0], c and c[0], p.better, f"{p.name} at {p.scale}", exact=p.name.startswith("flops"))
        sides, censored = [], []
        for side in (comp.treatment, comp.comparator):
            if p.kind in ("metric", "final-snapshot"):
                runs, why = self.metric_runs(side, p.name, p.tasks, last_snapshot=p.kind == "final-snapshot")
            elif p.kind == "measure":
                runs, why = self.measure_runs(side, p.name)
            else:
                runs, why, curves = self.convergence_runs(side, p)
                censored.append(_censored(side.label, curves, p))
                if extra is not None:
                    extra.setdefault("curves", {})[side.label] = curves
            sides.append((runs, why))
        for side, (runs, why) in zip((comp.treatment, comp.comparator), sides, strict=True):
            if p.kind in ("metric", "final-snapshot") and runs and why:  # every listed task pooled: one missing is a missing run
                unknown = [w for w in why if "registry" in w]
                return Outcome(UNAVAILABLE if unknown else NOT_RUN, reason=f"{side.label}: {why[0]}"
                               + (f" (+{len(why) - 1} more)" if len(why) > 1 else ""))
            if not runs:
                unknown = [w for w in why if "registry" in w]
                status = UNAVAILABLE if unknown else NOT_RUN
                return Outcome(status, reason=f"{side.label}: " + (unknown[0] if unknown else _first(why) or
                                                                    self.matrix.why_none(side, spec)))
        o = paired_difference(sides[0][0], sides[1][0], p.better, spec.min_seeds, replicates or spec.replicates, spec.level,
                              spec.seed)
        if frame:
            o = self.framed(p, o)
        if censored:  # the [design] rule counts a run that never reached the level: say how many did not
            o.reason = (o.reason + "; " if o.reason else "") + "; ".join(censored)
        missing = [w for _, why in sides for w in why]
        if missing:
            o.reason = (o.reason + "; " if o.reason else "") + f"left out: {_first(missing)}" + (
                f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
        return o

    def secondary(self, claim: Claim, comp) -> list[dict]:
        out = []
        for s in claim.secondary:
            try:
                if "metric" in s:
                    better = _metric_better(s["metric"])
                    # a convergence claim's final quality: each training run's last snapshot, not a separate final run
                    kind = "final-snapshot" if claim.primary.kind == "convergence" else "metric"
                    p = Primary(kind, s["metric"], better, (s["task"],))
                elif "measure" in s:
                    p = Primary("measure", s["measure"], s.get("better", "lower"))
                elif "compute" in s:
                    p = Primary("compute", s["compute"], "lower", scale=s["scale"])
                else:
                    continue
            except KeyError as exc:
                raise CCLBenchError(f"{self.spec.path}: claim {claim.id}: secondary {s} lacks {exc}") from None
            o = self.outcome(p, comp, SECONDARY_REPLICATES, frame=False)
            out.append({"metric": p.label, "better": p.better, **o.to_json()})
        return out

    def run(self) -> list[ClaimResult]:
        results = []
        for claim in self.spec.claims:
            extra: dict = {}
            comps = [ComparisonResult(c.treatment, c.comparator, self.outcome(claim.primary, c, extra=extra),
                                      self.secondary(claim, c)) for c in claim.comparisons]
            if claim.primary.kind == "measure":
                models = sorted({c.treatment.model for c in claim.comparisons} | {c.comparator.model for c in claim.comparisons})
                names = [claim.primary.name] + [x["measure"] for x in claim.secondary if "measure" in x]
                extra["measures"] = {n: {m: self._measure_means(n, m) for m in models} for n in names}
            results.append(ClaimResult(claim, comps, extra, [self.split(claim, x) for x in claim.splits]))
        return results

    def split(self, claim: Claim, x: Split) -> ComparisonResult:
        """A split on the primary metric: its difference and interval, status `reported` (it decides nothing)."""
        o = self.outcome(claim.primary, x, frame=False)
        if o.status in ("supported", "contradicted", "inconclusive"):
            o.status = REPORTED
        return ComparisonResult(x.treatment, x.comparator, o, part=x.part)

    def _measure_means(self, name: str, model: str) -> float | None:
        runs = self.matrix.measure(name, model)
        vals = [st.statistic(np.arange(len(st.ids))) for st in runs.values()]
        return float(np.mean(vals)) if vals else None


def _metric_better(name: str) -> str:
    """A suite metric's direction ("higher" or "lower"); "higher" for a name the registry lacks."""
    from ..metrics import METRICS

    return METRICS[name].better if name in METRICS else "higher"


def _censored(label: str, curves: dict, p: Primary) -> str:
    """'<side>: k of n seeds never reached <level> (best snapshot <value>, step <N>)' from the curves
    (seed -> [(step, value over the shared prompts)])."""
    better = _metric_better(p.name)
    never = [seed for seed, c in curves.items()
             if not steps_to_level([st for st, _ in c], [v for _, v in c], p.level, better)[1]]
    points = [(v, st) for c in curves.values() for st, v in c if v is not None and np.isfinite(v)]
    best = (max if better == "higher" else min)(points) if points else None
    return (f"{label}: {len(never)} of {len(curves)} seeds never reached {p.level:g}"
            + (f" (best snapshot {best[0]:.3g}, step {best[1]})" if best else ""))


def _first(items: list[str]) -> str:
    return items[0] if items else ""


def run_claims(study: str | Path, runs: str | Path, out: str | Path, compute: str | Path | None = "results/compute",
               command: str = "", check: str | Path | None = None, tolerance: float = 1e-6) -> dict:
    """Evaluate every claim of `study` (suite name or YAML path) over the run matrix in `runs`; write the
    pages into `out`. With `check`, compare with a committed verdicts.json and raise on a move."""
    from .report import check_verdicts, write_report
    from .spec import load_study

    spec = load_study(str(study))
    matrix = read_matrix(runs, spec.suite)
    study = Study(spec, matrix, Path(compute) if compute else None)
    results = study.run()
    frames = [{"metric": m, "tasks": list(t), **o.to_json()} for (m, t), o in study._frames.items()]
    verdicts = write_report(spec, results, Path(out), command, runs=str(runs), frames=frames)
    if check is not None:
        check_verdicts(verdicts, check, tolerance)
    return verdicts


def _csv_rows(result: ClaimResult) -> list[dict]:
    """One row per comparison on the primary, per secondary metric, and per split."""
    claim, rows = result.claim, []

    def row(c: ComparisonResult, metric: str, role: str, better: str, o: dict) -> dict:
        ci = o["ci95"] or [None, None]
        decided = o["status"] in ("supported", "contradicted", "inconclusive")
        status = REPORTED if decided and role != "primary" else o["status"]
        return {"claim": claim.id, "treatment": c.treatment.label, "comparator": c.comparator.label, "metric": metric,
                "role": role, "better": better, "treatment_value": o["treatment_value"],
                "comparator_value": o["comparator_value"], "difference": o["difference"], "ci95_low": ci[0],
                "ci95_high": ci[1], "status": status, "seeds": " ".join(o["seeds"]), "units": o["units"], "reason": o["reason"]}

    for c in result.comparisons:
        rows.append(row(c, claim.primary.label, "primary", claim.primary.better, c.outcome.to_json()))
        rows += [row(c, s["metric"], "secondary", s["better"], s) for s in c.secondary]
    rows += [row(c, claim.primary.label, f"split: {c.part}", claim.primary.better, c.outcome.to_json()) for c in result.splits]
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["claim"])
        w.writeheader()
        w.writerows(rows)


def dump_json(obj, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, default=float) + "\n")
