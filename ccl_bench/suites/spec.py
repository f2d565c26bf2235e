"""Suite specs: declarative YAML files, addressed by name through a registry."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CCLBenchError, UnknownNameError

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Rendering:
    """How scenes become clips: frame size in pixels, fps, Hz, channels, seconds, container."""

    name: str
    width: int
    height: int
    fps: float
    sample_rate: int
    channels: int
    duration: float
    format: str = "mp4"

    @property
    def num_frames(self) -> int:
        return round(self.duration * self.fps)

    @property
    def num_samples(self) -> int:
        return round(self.duration * self.sample_rate)


@dataclass
class SuiteSpec:
    name: str
    description: str
    generator: str
    families: list[str]
    splits: dict[str, int]
    renderings: dict[str, Rendering]
    defaults: dict[str, Any] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)  # `ccl-bench run` defaults
    protocol: str = "videogpt"  # FVD/KVD preset
    path: str = ""

    def rendering(self, name: str) -> Rendering:
        if name not in self.renderings:
            raise UnknownNameError(f"rendering of suite {self.name}", name, list(self.renderings))
        return self.renderings[name]

    def split_id(self, name: str) -> int:
        if name not in self.splits:
            raise UnknownNameError(f"split of suite {self.name}", name, list(self.splits))
        return int(self.splits[name])

    def family_table(self) -> dict:
        """The generator's `FAMILIES`, restricted to (and ordered as) this spec's families."""
        module = importlib.import_module(self.generator)
        table = getattr(module, "FAMILIES", None)
        if table is None:
            raise CCLBenchError(f"{self.path}: generator {self.generator} has no FAMILIES table")
        missing = [f for f in self.families if f not in table]
        if missing:
            raise CCLBenchError(f"{self.path}: families {missing} are not in {self.generator}")
        return {f: table[f] for f in self.families}


def spec_dirs() -> list[Path]:
    """Where suite YAML files are looked up, first match wins: `$CCL_BENCH_SUITES` (os.pathsep
    separated), `./benchmarks/suites`, the copy installed with the package, the source tree's."""
    dirs = [Path(p) for p in os.environ.get("CCL_BENCH_SUITES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "benchmarks" / "suites")
    dirs.append(Path(__file__).resolve().parent.parent / "suite_specs")
    dirs.append(Path(__file__).resolve().parents[2] / "benchmarks" / "suites")
    return dirs


def _spec_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in spec_dirs():
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.suffix in SPEC_SUFFIXES:
                    found.setdefault(f.stem, f)
    return found


def list_suites() -> list[str]:
    return sorted(_spec_files())


def load_suite(name_or_path: str) -> SuiteSpec:
    """A procedural suite (rendered clips) by registry name (`av-sync`) or by the path of its YAML file."""
    spec = load_any_suite(name_or_path)
    if not isinstance(spec, SuiteSpec):
        raise CCLBenchError(f"suite '{spec.name}' is a benchmark read from your local copy, not rendered: evaluate your "
                            f"clips with `ccl-bench eval --suite {spec.name} --pred DIR --bench-root COPY`")
    return spec


def load_benchmark(name_or_path: str):
    """A benchmark suite (`kind: benchmark`, read from the user's local copy: `local_copy.BenchmarkSpec`)."""
    spec = load_any_suite(name_or_path)
    if isinstance(spec, SuiteSpec):
        raise CCLBenchError(f"suite '{spec.name}' is rendered by ccl-bench, not read from a local copy: drop --bench-root")
    return spec


def load_any_suite(name_or_path: str):
    """A suite of either kind by name or YAML path: a `SuiteSpec` (procedural) or a `local_copy.BenchmarkSpec`."""
    import yaml

    from .local_copy import benchmark_spec, is_benchmark

    p = Path(name_or_path)
    if p.suffix in SPEC_SUFFIXES:
        if not p.is_file():
            raise CCLBenchError(f"{p}: suite file not found")
        path = p
    else:
        files = _spec_files()
        if name_or_path not in files:
            raise UnknownNameError("suite", name_or_path, sorted(files))
        path = files[name_or_path]
    try:
        raw = yaml.safe_load(path.read_text())
        if is_benchmark(raw):
            base = raw.get("extends")
            return benchmark_spec(raw, path, _raw_spec(str(base), yaml) if base else None)
        renderings = {k: Rendering(name=k, **v) for k, v in raw["renderings"].items()}
        return SuiteSpec(
            name=raw["name"],
            description=" ".join(str(raw.get("description", "")).split()),
            generator=raw["generator"],
            families=list(raw["families"]),
            splits=dict(raw["splits"]),
            renderings=renderings,
            defaults=dict(raw.get("defaults", {})),
            metrics=list(raw.get("metrics", [])),
            run=dict(raw.get("run", {})),
            protocol=str(raw.get("protocol", "videogpt")),
            path=str(path),
        )
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CCLBenchError(f"{path}: not a valid suite spec ({type(exc).__name__}: {exc})") from None


def _raw_spec(name: str, yaml) -> dict:
    """The YAML mapping of the suite `name` (a benchmark spec's `extends` base)."""
    files = _spec_files()
    if name not in files:
        raise UnknownNameError("suite (extends)", name, sorted(files))
    return yaml.safe_load(files[name].read_text())
