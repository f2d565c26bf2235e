"""The verdict maths of the claims study, pure: a paired, hierarchical bootstrap over training seeds
and prompts of (treatment - comparator) on a claim's primary metric, and the brief's verdict rule.

Data: each side is a set of runs `(seed, key) -> RunStatistic` (key: the task, or one snapshot series);
a run's statistic maps indices of its units (prompts, examples) to the metric's value on those units,
so per-clip metrics average and set-level ones (Frechet distances, chance-corrected sync) are
recomputed from the drawn clips' features. Pairs are matched by training seed and unit id.

One replicate [design, stated]: draw the shared training seeds with replacement; within each drawn
seed and each shared key, draw that run's shared units with replacement (independently per drawn
seed); both sides use the same draw. A side's value is the mean, over the drawn runs, of the run
statistic on its drawn units; the replicate's difference is treatment minus comparator (for
`better: zero`, |treatment| - |comparator|). The point estimate uses every run and unit once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..metrics.stats import paired_bootstrap, percentile_interval

VERDICTS = ("supported", "contradicted", "inconclusive")
NOT_RUN = "not run"
UNAVAILABLE = "unavailable"


@dataclass
class RunStatistic:
    """One run of a side: its unit ids and `statistic(indices into ids) -> value | None`."""

    ids: list[str]
    statistic: Callable[[np.ndarray], float | None]


@dataclass
class Outcome:
    """A comparison's result. status: supported | contradicted | inconclusive | not run | unavailable."""

    status: str
    difference: float | None = None  # treatment - comparator on every unit (point estimate)
    ci: tuple[float, float] | None = None  # the bootstrap interval of the difference
    treatment: float | None = None
    comparator: float | None = None
    seeds: list[str] = field(default_factory=list)  # the paired training seeds
    units: int = 0  # paired units (prompts x runs) in the point estimate
    replicates: int = 0  # bootstrap replicates that gave a value on both sides
    reason: str = ""  # why not run / unavailable, or a note
    parts: list[Outcome] = field(default_factory=list)  # for a primary of several parts

    def to_json(self) -> dict:
        d = {"status": self.status, "difference": self.difference, "ci95": list(self.ci) if self.ci else None,
             "treatment_value": self.treatment, "comparator_value": self.comparator, "seeds": self.seeds, "units": self.units,
             "replicates": self.replicates, "reason": self.reason}
        if self.parts:
            d["parts"] = [p.to_json() for p in self.parts]
        return d


def verdict(lo: float, hi: float, better: str) -> str:
    """The brief's rule on the interval [lo, hi] of (treatment - comparator): supported when it
    excludes 0 in the claimed direction, contradicted when it excludes 0 the other way."""
    if better not in ("higher", "lower", "zero"):
        raise ValueError(f"better must be higher, lower or zero, got {better!r}")
    sign = 1.0 if better == "higher" else -1.0  # zero: the difference is |t| - |c|, so lower is better
    if sign * lo > 0 and sign * hi > 0:
        return "supported"
    if sign * lo < 0 and sign * hi < 0:
        return "contradicted"
    return "inconclusive"


def combine(parts: Sequence[Outcome]) -> str:
    """A primary of several metrics that must agree [design]: supported when every part is,
    contradicted when any part is, not run / unavailable when any part is, else inconclusive."""
    st = [p.status for p in parts]
    for s in (NOT_RUN, UNAVAILABLE):
        if s in st:
            return s
    if "contradicted" in st:
        return "contradicted"
    return "supported" if all(s == "supported" for s in st) else "inconclusive"


@dataclass
class _Pair:
    seed: str
    key: str
    t: RunStatistic
    c: RunStatistic
    it: np.ndarray  # positions of the shared ids in the treatment run
    ic: np.ndarray  # ... in the comparator run


def pair_runs(treatment: dict[tuple[str, str], RunStatistic], comparator: dict[tuple[str, str], RunStatistic]):
    """-> {seed: [_Pair per shared key]} over the seeds and keys both sides have, units matched by id."""
    out: dict[str, list[_Pair]] = {}
    for (seed, key) in sorted(set(treatment) & set(comparator)):
        t, c = treatment[(seed, key)], comparator[(seed, key)]
        pos_c = {u: i for i, u in enumerate(c.ids)}
        shared = [(i, pos_c[u]) for i, u in enumerate(t.ids) if u in pos_c]
        if not shared:
            continue
        it, ic = (np.array(x, dtype=np.int64) for x in zip(*shared, strict=True))
        out.setdefault(seed, []).append(_Pair(seed, key, t, c, it, ic))
    return out


def paired_difference(treatment: dict[tuple[str, str], RunStatistic], comparator: dict[tuple[str, str], RunStatistic],
                      better: str, min_seeds: int = 3, replicates: int = 2000, level: float = 0.95, seed: int = 0) -> Outcome:
    """The comparison's outcome by the hierarchical paired bootstrap (module docstring) and `verdict`."""
    pairs = pair_runs(treatment, comparator)
    seeds = sorted(pairs)
    if len(seeds) < min_seeds:
        have_t = sorted({s for s, _ in treatment})
        have_c = sorted({s for s, _ in comparator})
        return Outcome(NOT_RUN, seeds=seeds, reason=f"{len(seeds)} paired training seed(s), needs {min_seeds} "
                       f"(treatment has {_seeds_text(have_t)}, comparator {_seeds_text(have_c)})")
    groups = [pairs[s] for s in seeds]

    def side(which: str) -> Callable[[list], float | None]:
        def value(draw: list) -> float | None:
            vals = []
            for g, prompt_draws in draw:
                for p, d in zip(groups[g], prompt_draws, strict=True):
                    run, idx = (p.t, p.it) if which == "t" else (p.c, p.ic)
                    v = run.statistic(idx[d])
                    if v is None or not np.isfinite(v):
                        return None
                    vals.append(v)
            return float(np.mean(vals))
        return value

    def draw(rng: np.random.Generator) -> list:
        drawn = rng.integers(0, len(groups), len(groups))
        return [(g, [rng.integers(0, len(p.it), len(p.it)) for p in groups[g]]) for g in drawn]

    everything = [(g, [np.arange(len(p.it)) for p in groups[g]]) for g in range(len(groups))]
    t_all, c_all = side("t")(everything), side("c")(everything)
    units = sum(len(p.it) for g in groups for p in g)
    if t_all is None or c_all is None:
        return Outcome(UNAVAILABLE, seeds=seeds, units=units,
                       reason=f"the primary metric has no value on the {'treatment' if t_all is None else 'comparator'} runs")
    diff = abs(t_all) - abs(c_all) if better == "zero" else t_all - c_all
    diffs = paired_bootstrap([side("c"), side("t")], draw, replicates, seed, better)[0]
    if len(diffs) < replicates // 2:
        return Outcome(UNAVAILABLE, float(diff), None, t_all, c_all, seeds, units, len(diffs),
                       f"the metric failed on {replicates - len(diffs)} of {replicates} bootstrap replicates")
    lo, hi = percentile_interval(diffs, level)
    return Outcome(verdict(lo, hi, better), float(diff), (lo, hi), t_all, c_all, seeds, units, len(diffs))


def exact_difference(t: float | None, c: float | None, better: str, what: str, exact: bool = True) -> Outcome:
    """A quantity without a sampling distribution (a FLOP count; a profiler's median time): the interval
    is the point itself. exact=False says so in the note (a timing: one measurement, not resampled)."""
    if t is None or c is None:
        return Outcome(NOT_RUN, reason=f"no {what} record for the {'treatment' if t is None else 'comparator'}")
    d = abs(t) - abs(c) if better == "zero" else t - c
    note = "exact count: the interval is the point" if exact else "one measurement (profiler median): no interval"
    if c:
        note += f"; treatment / comparator = {t / c:.3g}"
    return Outcome(verdict(d, d, better), d, (d, d), t, c, reason=note)


def _seeds_text(seeds: list[str]) -> str:
    return f"seeds {', '.join(seeds)}" if seeds else "no runs"


@dataclass
class Estimate:
    """One side's value pooled over its training seeds and units, with the hierarchical bootstrap's interval."""

    value: float | None
    ci: tuple[float, float] | None
    seeds: list[str]
    units: int
    replicates: int = 0


def pooled_estimate(runs: dict[tuple[str, str], RunStatistic], replicates: int = 2000, level: float = 0.95,
                    seed: int = 0) -> Estimate:
    """A side's value alone (a quality bar, not a comparison): the mean over its runs of each run's statistic,
    its interval by the same hierarchical draw as `paired_difference` (seeds with replacement, then each drawn
    run's units with replacement)."""
    seeds = sorted({s for s, _ in runs})
    groups = [[runs[k] for k in sorted(runs) if k[0] == s] for s in seeds]
    units = sum(len(r.ids) for g in groups for r in g)
    if not seeds:
        return Estimate(None, None, [], 0)

    def value(draw: list) -> float | None:
        vals = [groups[g][i].statistic(d) for g, draws in draw for i, d in enumerate(draws)]
        return None if any(v is None or not np.isfinite(v) for v in vals) else float(np.mean(vals))

    def draw(rng: np.random.Generator) -> list:
        return [(g, [rng.integers(0, len(r.ids), len(r.ids)) for r in groups[g]])
                for g in rng.integers(0, len(groups), len(groups))]

    point = value([(g, [np.arange(len(r.ids)) for r in groups[g]]) for g in range(len(groups))])
    reps = paired_bootstrap([lambda d: 0.0, value], draw, replicates, seed)[0]
    if point is None or len(reps) < replicates // 2:
        return Estimate(point, None, seeds, units, len(reps))
    return Estimate(point, percentile_interval(reps, level), seeds, units, len(reps))
