"""The run matrix of a claims study on disk -> the per-run statistics the verdict maths pairs.

Layout under `--runs DIR` (every path component below is optional where marked):
    seed<k>/[<variant>/]<suite>/<model>.json      a `ccl-bench run` result of the checkpoint trained with seed k
                                                  (`ccl-bench run --model M --checkpoint CK --out DIR/seed<k>[/<variant>]`;
                                                  per-clip results under <suite>/clips/<model>/<task>/per_clip.npz)
    seed<k>/step<N>/<suite>/<model>.json          an evaluation snapshot at training step N (claim 6)
    seed<k>/measures/<measure>/<model>.json       per-example claim measurements (claims 1, 2):
                                                  {"measure", "model", "ids": [...], "values": [...]}
Runs are told apart by model, guidance (`settings.guidance`) and any `settings` a side names; the
variant folder is free (e.g. `cfg/` for runs sampled with `--guidance cfg`). A result outside any
`seed<k>` folder has an unknown training seed and pairs with nothing."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CCLBenchError
from .spec import Side, StudySpec
from .verdict import RunStatistic

SEED = re.compile(r"^seed(\d+)$")
STEP = re.compile(r"^step(\d+)$")
SKIP = {"clips", "measures"}
# Run settings that change what a run answers: a side matches such a run only when it names the setting.
STUDY_SETTINGS = {"captions": "own", "scales": "default"}  # a run records its scales only when not the defaults


@dataclass
class RunRecord:
    path: Path
    seed: str | None  # the training seed's folder number, or None
    step: int | None  # the snapshot's training step, or None for a final run
    result: dict

    @property
    def model(self) -> str:
        return self.result["model"]


@dataclass
class Matrix:
    root: Path
    suite: str
    runs: list[RunRecord]

    def find(self, side: Side, spec: StudySpec, snapshots: bool = False) -> dict[tuple[str, int | None], RunRecord]:
        """The side's runs by (seed, step): final runs, or with `snapshots` the step runs. Two files for
        one (seed, step) are an error naming both."""
        guidance = spec.guidance_of(side)
        want = {**STUDY_SETTINGS, **dict(side.settings)}
        out: dict[tuple[str, int | None], RunRecord] = {}
        for r in self.runs:
            s = r.result.get("settings", {})
            if (r.model != side.model or r.seed is None or (r.step is not None) != snapshots
                    or (guidance is not None and s.get("guidance") != guidance)
                    or any(str(s.get(k, STUDY_SETTINGS.get(k))) != v for k, v in want.items())):
                continue
            key = (r.seed, r.step)
            if key in out:
                raise CCLBenchError(f"{r.path}: a second run of {side.label} for seed {r.seed}"
                                    + (f" step {r.step}" if r.step is not None else "") + f" (the first: {out[key].path}); "
                                    "keep one, or tell them apart by guidance or settings")
            out[key] = r
        return out

    def last_snapshots(self, side: Side, spec: StudySpec) -> dict[tuple[str, int | None], RunRecord]:
        """Each seed's last evaluation snapshot of the side, by (seed, step): the weights its training run ended
        with (a run trained only for claim 6 has no separate final run)."""
        found = self.find(side, spec, snapshots=True)
        last = {seed: max(step for se, step in found if se == seed) for seed, _ in found}
        return {key: rec for key, rec in found.items() if key[1] == last[key[0]]}

    def frame_rows(self, model: str) -> dict[tuple[str, str], RunRecord]:
        """The runs of a pseudo-model that frames the tables (`ceiling`, `floor`: no training seed), keyed
        by (seed folder or "-", variant path) so runs made beside a seed's runs pair with them."""
        out = {}
        for r in self.runs:
            if r.model == model and r.step is None:
                out.setdefault((r.seed or "-", str(r.path.parent.parent.relative_to(self.root))), r)
        return out

    def why_none(self, side: Side, spec: StudySpec) -> str:
        """Why a side has no runs: none of the model, none in a seed folder, or none with its guidance/settings."""
        mine = [r for r in self.runs if r.model == side.model and r.step is None]
        if not mine:
            return f"no run of model '{side.model}' under {self.root}"
        if all(r.seed is None for r in mine):
            return (f"{len(mine)} run(s) of '{side.model}' but none in a seed<k> folder (training seed unknown: "
                    f"{mine[0].path})")
        return (f"no run of '{side.model}' with guidance {spec.guidance_of(side)}"
                + "".join(f", {k}={v}" for k, v in side.settings) + f" under {self.root}")

    def measure(self, name: str, model: str) -> dict[str, RunStatistic]:
        """Per-example values of a claim measurement, by seed: mean over the drawn examples."""
        out = {}
        for p in sorted(self.root.glob(f"seed*/measures/{name}/{model}.json")):
            m = SEED.match(p.parts[len(self.root.parts)])
            if not m:
                continue
            try:
                d = json.loads(p.read_text())
                ids, vals = [str(i) for i in d["ids"]], d["values"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CCLBenchError(f"{p}: not a claims measurement ({type(exc).__name__}: {exc})") from None
            keep = [(i, float(v)) for i, v in zip(ids, vals, strict=True) if v is not None and np.isfinite(v)]
            if keep:
                arr = np.array([v for _, v in keep])
                out[m.group(1)] = RunStatistic([i for i, _ in keep], lambda idx, a=arr: float(a[idx].mean()))
        return out


def read_matrix(root: str | Path, suite: str) -> Matrix:
    """Every `ccl-bench run` result of `suite` under `root` (clip and measurement folders skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise CCLBenchError(f"{root}: runs folder not found (see `ccl-bench claims --help` for its layout)")
    runs = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP and not x.startswith("."))
        for f in sorted(files):
            if not f.endswith(".json"):
                continue
            p = Path(d) / f
            try:
                res = json.loads(p.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not (isinstance(res, dict) and res.get("suite") == suite and "model" in res
                    and isinstance(res.get("tasks"), dict)):
                continue
            parts = p.relative_to(root).parts[:-1]
            seed = next((m.group(1) for x in parts if (m := SEED.match(x))), None)
            step = next((int(m.group(1)) for x in parts if (m := STEP.match(x))), None)
            runs.append(RunRecord(p, seed, step, res))
    return Matrix(root, suite, runs)


def metric_statistic(record: RunRecord, task: str, metric: str, seed: int = 0) -> RunStatistic | str:
    """The run's statistic of a registry metric on its per-clip results for `task`, or why there is none:
    the value recomputed from the drawn clips' states (a `-cc` metric's chance level from the mismatched
    pairs among them), the reference set fixed, as `ccl-bench compare` does."""
    from ..compare import Entry, covariance_ddof, per_clip_results
    from ..metrics import METRICS
    from ..metrics.score import resampler

    m = METRICS.get(metric)
    if m is None:
        return f"metric '{metric}' is not in this ccl-bench's registry"
    if task not in record.result["tasks"]:
        return f"{record.path} has no task {task}"
    entry = Entry(record.model, record.path, record.result)
    per = per_clip_results(entry, task)
    if per is None:
        return f"{record.path}: no per_clip.npz beside the {task} clips"
    ids, res, ref, ctx = per
    if m.analysis not in res:
        return f"{record.path}: the {task} per-clip results hold no '{m.analysis}' analysis ({metric})"
    if m.needs_ref and (m.analysis not in ref or covariance_ddof(entry) is None):
        return f"{record.path}: no reference per-clip '{m.analysis}' results or covariance convention ({metric})"
    value = resampler(m, res[m.analysis], ref[m.analysis] if m.needs_ref else None, ctx, seed)
    return RunStatistic(list(ids), lambda idx: value(np.asarray(idx)))
