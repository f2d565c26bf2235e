"""A claims study as data: the YAML under `benchmarks/claims/` (installed as `ccl_bench.claim_specs`)
-> typed `StudySpec`. Validation names the file and the fault before any run is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CCLBenchError

SPEC_SUFFIXES = (".yaml", ".yml")
BETTER = ("higher", "lower", "zero")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a model's runs, sampled with `guidance` (`own`: the model's scheme),
    whose result files carry every `settings` item."""

    model: str
    guidance: str = "own"
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        extra = ([] if self.guidance == "own" else [self.guidance]) + [f"{k}={v}" for k, v in self.settings]
        return self.model + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Primary:
    """What decides a comparison. kind: `metric` (a suite metric of the runs' per-clip results, over
    `tasks`), `measure` (per-example values of a claim measurement), `convergence` (steps until a
    snapshot's metric reaches `level`), `compute` (a profiler quantity), or `all` (every part must agree);
    a convergence claim's secondary metrics are `final-snapshot` (the metric of each run's last snapshot)."""

    kind: str
    name: str  # metric, measure or compute quantity; for convergence the snapshot metric
    better: str
    tasks: tuple[str, ...] = ()
    level: float | None = None  # convergence: the metric's fixed level
    scale: str | None = None  # compute: the profiled scale
    description: str = ""
    parts: tuple[Primary, ...] = ()  # kind == "all"

    @property
    def label(self) -> str:
        if self.kind == "all":
            return " & ".join(p.label for p in self.parts)
        if self.kind == "convergence":
            return f"steps to {self.name} >= {self.level:g} ({', '.join(self.tasks)})"
        if self.kind == "compute":
            return f"{self.name} @ {self.scale}"
        if self.kind == "final-snapshot":
            return f"{self.name} ({', '.join(self.tasks)}, last snapshot)"
        return self.name + (f" ({', '.join(self.tasks)})" if self.tasks else "")


@dataclass(frozen=True)
class Comparison:
    treatment: Side
    comparator: Side


@dataclass(frozen=True)
class Split:
    """One part of a comparison's difference, on the primary metric, reported beside the verdicts and
    deciding nothing: consecutive parts chain treatment to comparator (claims.md's protocol, point 3:
    a baseline's multi-task variant splits "ccl vs baseline" into routing and what CCL adds)."""

    part: str
    treatment: Side
    comparator: Side


@dataclass(frozen=True)
class Claim:
    id: int
    name: str
    text: str
    comparisons: tuple[Comparison, ...]
    primary: Primary
    secondary: tuple[dict, ...] = ()
    design: tuple[str, ...] = ()
    splits: tuple[Split, ...] = ()


@dataclass(frozen=True)
class Caveat:
    """One thing the study cannot show; `runs` (a run-matrix folder, repository-relative) limits it to the verdicts
    computed from that matrix, such as a fault of the models trained for it."""

    text: str
    runs: str | None = None

    def applies(self, runs: str | Path) -> bool:
        if self.runs is None:
            return True
        mine = Path(self.runs).parts
        return Path(runs).parts[-len(mine):] == mine


@dataclass(frozen=True)
class StudySpec:
    suite: str
    claims: tuple[Claim, ...]
    min_seeds: int = 3
    replicates: int = 2000
    level: float = 0.95
    seed: int = 0
    own_guidance: dict = field(default_factory=dict)
    cannot_show: tuple[Caveat, ...] = ()
    design: tuple[str, ...] = ()
    path: str = ""

    def guidance_of(self, side: Side) -> str | None:
        """The scheme a side's runs were sampled with (None: any, where the spec names no own scheme)."""
        return self.own_guidance.get(side.model) if side.guidance == "own" else side.guidance


def _caveat(x) -> Caveat:
    """A `cannot_show` entry: a sentence, or {text, runs} for a sentence about one run matrix only."""
    if isinstance(x, dict):
        if set(x) - {"text", "runs"} or "text" not in x:
            raise ValueError(f"cannot_show entry {x!r}: a sentence, or a mapping of `text` and `runs`")
        return Caveat(str(x["text"]), str(x["runs"]) if x.get("runs") else None)
    return Caveat(str(x))


def spec_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here.parent / "claim_specs", here.parents[1] / "benchmarks" / "claims"]


def load_study(name_or_path: str) -> StudySpec:
    """A study by suite name (`av-sync`: `<specs>/av-sync.yaml`) or by the path of its YAML file."""
    import yaml

    p = Path(name_or_path)
    if p.suffix not in SPEC_SUFFIXES:
        found = [d / f"{name_or_path}.yaml" for d in spec_dirs() if (d / f"{name_or_path}.yaml").is_file()]
        if not found:
            known = sorted({f.stem for d in spec_dirs() if d.is_dir() for f in d.glob("*.yaml")})
            raise CCLBenchError(f"no claims study for suite '{name_or_path}' (known: {', '.join(known) or 'none'})")
        p = found[0]
    if not p.is_file():
        raise CCLBenchError(f"{p}: claims file not found")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise CCLBenchError(f"{p}: not valid YAML ({exc})") from None
    try:
        return _parse(raw, str(p))
    except (KeyError, TypeError, ValueError) as exc:
        raise CCLBenchError(f"{p}: {exc}") from None


def _side(d: dict) -> Side:
    if not isinstance(d, dict) or "model" not in d:
        raise ValueError(f"a side needs `model`, got {d!r}")
    return Side(str(d["model"]), str(d.get("guidance", "own")),
                tuple(sorted((str(k), str(v)) for k, v in (d.get("settings") or {}).items())))


def _primary(d: dict, claim: int) -> Primary:
    if "all" in d:
        parts = tuple(_primary(x, claim) for x in d["all"])
        return Primary("all", "all", "higher", parts=parts, description=str(d.get("description", "")))
    better = d.get("better")
    if better not in BETTER:
        raise ValueError(f"claim {claim}: primary `better` must be one of {', '.join(BETTER)}, got {better!r}")
    desc = str(d.get("description", ""))
    tasks = tuple(d.get("tasks") or ([d["task"]] if "task" in d else []))
    if "metric" in d:
        if not tasks:
            raise ValueError(f"claim {claim}: primary metric '{d['metric']}' needs `tasks`")
        return Primary("metric", str(d["metric"]), better, tasks, description=desc)
    if "measure" in d:
        return Primary("measure", str(d["measure"]), better, description=desc)
    if "convergence" in d:
        c = d["convergence"]
        return Primary("convergence", str(c["metric"]), better, (str(c["task"]),), level=float(c["at_least"]), description=desc)
    if "compute" in d:
        return Primary("compute", str(d["compute"]), better, scale=str(d["scale"]), description=desc)
    raise ValueError(f"claim {claim}: primary needs one of metric, measure, convergence, compute, all")


def _parse(raw: dict, path: str) -> StudySpec:
    if not isinstance(raw, dict):
        raise ValueError("not a mapping")
    claims = []
    for c in raw["claims"]:
        cid = int(c["id"])
        comps = tuple(Comparison(_side(x["treatment"]), _side(x["comparator"])) for x in c["comparisons"])
        if not comps:
            raise ValueError(f"claim {cid}: no comparisons")
        splits = tuple(Split(str(x["part"]), _side(x["treatment"]), _side(x["comparator"])) for x in c.get("splits") or ())
        claims.append(Claim(cid, str(c["name"]), str(c["claim"]), comps, _primary(c["primary"], cid),
                            tuple(c.get("secondary") or ()), tuple(str(x) for x in c.get("design") or ()), splits))
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids repeat: {ids}")
    boot = raw.get("bootstrap") or {}
    return StudySpec(str(raw["suite"]), tuple(claims), int(raw.get("min_seeds", 3)), int(boot.get("replicates", 2000)),
                     float(boot.get("level", 0.95)), int(boot.get("seed", 0)), dict(raw.get("own_guidance") or {}),
                     tuple(_caveat(x) for x in raw.get("cannot_show") or ()),
                     tuple(str(x) for x in raw.get("design") or ()), path)
