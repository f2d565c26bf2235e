"""Generator plugins: how `ccl-bench run --model NAME` finds what makes the clips, and the interface a
generator of your own implements (README, "Bring your own generator").

Every name `run --model` accepts is an entry of one registry, `GeneratorRegistry`:
- `reference`: the reference models of `reference_impl` (ccl, ccl-no-tarp, gated, none, ...), sampled from
  a trained checkpoint by `runner.sample`;
- `pseudo`: `ceiling` and `floor`, the frame of every table (`runner.pseudo`);
- `plugin`: anything else, the shipped `cascade` (`runner.cascade`) included: an object with a
  `generate(request)` method, found through the Python entry point group `ccl_bench.generators` of any
  installed distribution (or `register_generator` in this process).

The plugin interface (numpy only; no torch needed):

    # pyproject.toml of your package
    [project.entry-points."ccl_bench.generators"]
    mygen = "my_package.bench:MyGenerator"

    class MyGenerator:                       # called with no arguments, once per `run`
        tasks = ("t2av",)                    # optional: the tasks it can do (default: all five)
        options = ("ckpt",)                  # optional: the --set keys it reads (others are refused up front)
        def generate(self, request: GenerationRequest) -> list[GeneratedClip]: ...
        def provenance(self) -> dict: ...    # optional: JSON-able facts recorded with the table (weights' sha256)

`generate` gets one `GenerationRequest` per task: the suite's prompt records (`Prompt`: id, caption,
transcript, task, seed, and for V2A/A2V the conditioning stream) and the `ClipFormat` every clip must have
(frames, size, fps, samples, sample rate), plus the run's steps, guidance name, device and `--set KEY=VALUE`
options (strings, the plugin's to read). It returns one `GeneratedClip` per prompt, in the prompts' order,
holding the streams the task generates: video (T2AV, T2V, A2V) as uint8 `[num_frames, height, width, 3]`,
audio (T2AV, T2A, V2A) as float32 `[num_samples]` in [-1, 1]. The other stream is the suite's own (the
condition for A2V/V2A; the prompt's clip for T2V/T2A), as for the reference models. The harness checks
counts, shapes, dtypes and ranges (`check_clips`), refuses a clip that fails with one line naming the
plugin, writes the clips with its own clip writer and manifest, and evaluates them like any model's. The
table's provenance records the plugin's distribution name and version.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import CCLBenchError

ENTRY_POINT_GROUP = "ccl_bench.generators"
TASKS = ("t2av", "a2v", "v2a", "t2v", "t2a")
MAKES_VIDEO = ("t2av", "a2v", "t2v")
MAKES_AUDIO = ("t2av", "v2a", "t2a")
KINDS = ("reference", "pseudo", "plugin")
HOW_TO_REGISTER = (f"a generator of your own joins through the Python entry point group '{ENTRY_POINT_GROUP}' "
                   "(README: Bring your own generator)")


@dataclass(frozen=True)
class ClipFormat:
    """What every generated clip must be: the suite rendering's frame size (pixels), rate (frames/s),
    length (frames, samples) and audio rate (Hz); mono audio."""

    rendering: str
    width: int
    height: int
    fps: float
    sample_rate: int
    duration: float  # seconds
    num_frames: int
    num_samples: int

    @property
    def video_shape(self) -> tuple[int, int, int, int]:
        return (self.num_frames, self.height, self.width, 3)


@dataclass(frozen=True)
class Prompt:
    """One prompt record of the suite. `seed`: this prompt's own seed (from the run's seed and the index),
    so a clip does not depend on the batch it was drawn in. `condition_video` uint8 `[T, H, W, 3]` (V2A)
    or `condition_audio` float32 `[S]` (A2V): the kept stream, None for the other tasks."""

    index: int
    id: str
    caption: str
    transcript: str | None
    task: str
    seed: int
    condition_video: np.ndarray | None = None
    condition_audio: np.ndarray | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One task of one run: the prompts, the clip format and the run's settings. `guidance` and `steps`
    are the run's (`--guidance`, `--steps`); a generator without such notions may ignore them (and
    should say so in its provenance). `options`: the `--set KEY=VALUE` pairs, as strings."""

    suite: str
    task: str
    prompts: tuple[Prompt, ...]
    format: ClipFormat
    steps: int
    guidance: str
    seed: int
    device: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class GeneratedClip:
    """One generated clip: `video` uint8 `[num_frames, height, width, 3]` where the task makes video,
    `audio` float32 `[num_samples]` in [-1, 1] where it makes audio (None otherwise). `nfe`: network
    evaluations spent on this clip, where the generator knows it (None: not reported)."""

    video: np.ndarray | None = None
    audio: np.ndarray | None = None
    nfe: int | None = None


@runtime_checkable
class Generator(Protocol):
    def generate(self, request: GenerationRequest) -> Sequence[GeneratedClip]: ...


@dataclass(frozen=True)
class GeneratorEntry:
    """One registered name. `target`: for plugins a factory, a "module:attr" string or an entry point
    (loaded on first use); for reference and pseudo entries the name `runner.run` dispatches on.
    `distribution`/`version`: the installed distribution that provides it (recorded in provenance)."""

    name: str
    kind: str
    target: Any
    distribution: str
    version: str
    description: str = ""

    @property
    def source(self) -> str:
        return f"{self.distribution} {self.version}"

    def record(self) -> dict:
        """What a result's provenance says about this generator."""
        target = self.target
        where = (f"{target.module}:{target.attr}" if isinstance(target, metadata.EntryPoint)
                 else target if isinstance(target, str)
                 else f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}")
        return {"name": self.name, "kind": self.kind, "distribution": self.distribution, "version": self.version,
                "target": where}

    def load(self) -> Callable[[], Any]:
        """The plugin's factory (a class or zero-argument callable); a fault in loading is one line."""
        if self.kind != "plugin":
            raise CCLBenchError(f"generator '{self.name}' is a {self.kind} model, run by the harness itself")
        target = self.target
        try:
            if isinstance(target, metadata.EntryPoint):
                return target.load()
            if isinstance(target, str):
                module, _, attr = target.partition(":")
                obj = importlib.import_module(module)
                for part in attr.split("."):
                    obj = getattr(obj, part)
                return obj
        except Exception as exc:  # a broken plugin: any import-time fault is the plugin's, said in one line
            raise CCLBenchError(f"generator '{self.name}' ({self.source}): cannot load {self.record()['target']}: "
                                f"{type(exc).__name__}: {exc}") from None
        return target

    def instantiate(self) -> Generator:
        factory = self.load()
        try:
            gen = factory()
        except CCLBenchError:
            raise
        except Exception as exc:
            raise CCLBenchError(f"generator '{self.name}' ({self.source}): {self.record()['target']}() failed: "
                                f"{type(exc).__name__}: {exc}") from None
        if not callable(getattr(gen, "generate", None)):
            raise CCLBenchError(f"generator '{self.name}' ({self.source}): {self.record()['target']}() has no "
                                "generate(request) method")
        return gen


def _own_distribution() -> tuple[str, str]:
    from . import __version__

    return "ccl-bench", __version__


class GeneratorRegistry:
    """Names -> `GeneratorEntry`, from three sources: the entries given to the constructor (the harness's
    own), `register` calls in this process, and the entry point group `ccl_bench.generators` of the
    installed distributions (read on each lookup, so a package put on `sys.path` is seen). A name two
    sources claim is refused when asked for, naming both."""

    def __init__(self, builtin: Sequence[GeneratorEntry] = (), group: str = ENTRY_POINT_GROUP,
                 registered: dict[str, GeneratorEntry] | None = None):
        self.group = group
        self._builtin = {e.name: e for e in builtin}
        # Shared with `GENERATORS` by the runner, so `register_generator` reaches `run --model`.
        self._registered: dict[str, GeneratorEntry] = {} if registered is None else registered

    def register(self, name: str, target: Any = None, *, description: str = "",
                 distribution: str | None = None, version: str | None = None):
        """Register a plugin under `name`: `register("toy", "pkg.mod:Toy")`, or as a decorator
        `@register("toy")` on the class."""

        def store(obj):
            if name in self._builtin or name in self._registered:
                raise CCLBenchError(f"generator '{name}' is registered already "
                                    f"({(self._builtin.get(name) or self._registered[name]).source})")
            dist, ver = (distribution, version or "unknown") if distribution else ("unregistered (in-process)", "unknown")
            self._registered[name] = GeneratorEntry(name, "plugin", obj, dist, ver, description)
            return obj

        if target is not None:
            store(target)
            return None
        return store

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)

    def installed(self) -> list[GeneratorEntry]:
        """The entry points of the group, one entry each, with the distribution that declares it."""
        out = []
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            name = dist.metadata["Name"] if dist is not None else "unknown distribution"
            out.append(GeneratorEntry(ep.name, "plugin", ep, name, dist.version if dist is not None else "unknown",
                                      f"entry point {ep.value}"))
        return out

    def _claims(self) -> dict[str, list[GeneratorEntry]]:
        claims: dict[str, list[GeneratorEntry]] = {}
        for e in [*self._builtin.values(), *self._registered.values(), *self.installed()]:
            same = claims.setdefault(e.name, [])
            if not any(o.record() == e.record() for o in same):  # one distribution seen twice on sys.path
                same.append(e)
        return claims

    def names(self) -> list[str]:
        """Every name, the harness's own first (in their order), then plugins alphabetically."""
        claims = self._claims()
        return [n for n in self._builtin] + sorted(n for n in claims if n not in self._builtin)

    def entries(self) -> list[GeneratorEntry]:
        claims = self._claims()
        return [claims[n][0] for n in self.names()]

    def get(self, name: str) -> GeneratorEntry:
        claims = self._claims()
        if name not in claims:
            raise CCLBenchError(f"--model: unknown model '{name}' (known: {', '.join(self.names())}); {HOW_TO_REGISTER}")
        found = claims[name]
        if len(found) > 1:
            raise CCLBenchError(f"--model {name}: claimed by {' and '.join(e.source for e in found)}; uninstall one "
                                "or rename its entry point")
        return found[0]


def check_clips(entry: GeneratorEntry, request: GenerationRequest, clips: Any) -> list[GeneratedClip]:
    """The plugin's answer, checked against the request: one `GeneratedClip` per prompt, each holding
    exactly the streams the task generates, of the format's shapes, dtypes and ranges. -> the clips as a
    list; else one `CCLBenchError` line naming the plugin, the clip and the fault."""
    who = f"generator '{entry.name}' ({entry.source})"
    try:
        clips = list(clips)
    except TypeError:
        raise CCLBenchError(f"{who}: generate() returned {type(clips).__name__}, not a list of GeneratedClip") from None
    n = len(request.prompts)
    if len(clips) != n:
        raise CCLBenchError(f"{who}: returned {len(clips)} clips for {n} prompts of task {request.task}")
    fmt = request.format
    for prompt, clip in zip(request.prompts, clips, strict=True):
        where = f"{who}: clip {prompt.index} ('{prompt.id}', task {request.task})"
        if not isinstance(clip, GeneratedClip):
            raise CCLBenchError(f"{where}: is a {type(clip).__name__}, not a GeneratedClip")
        for stream, makes, shape in (("video", MAKES_VIDEO, fmt.video_shape), ("audio", MAKES_AUDIO, (fmt.num_samples,))):
            value = getattr(clip, stream)
            if request.task not in makes:
                if value is not None:
                    raise CCLBenchError(f"{where}: holds a {stream} stream, which task {request.task} keeps from the suite "
                                        f"(leave it None)")
                continue
            if not isinstance(value, np.ndarray):
                raise CCLBenchError(f"{where}: {stream} is {type(value).__name__}, a numpy array of shape {shape} expected")
            if value.shape != shape:
                raise CCLBenchError(f"{where}: {stream} has shape {value.shape}, {shape} expected "
                                    f"({fmt.rendering} rendering: {fmt.num_frames} frames of {fmt.height}x{fmt.width} at "
                                    f"{fmt.fps:g} fps, {fmt.num_samples} samples at {fmt.sample_rate} Hz)")
            if stream == "video" and value.dtype != np.uint8:
                raise CCLBenchError(f"{where}: video has dtype {value.dtype}, uint8 expected")
            if stream == "audio":
                if not np.issubdtype(value.dtype, np.floating):
                    raise CCLBenchError(f"{where}: audio has dtype {value.dtype}, float32 in [-1, 1] expected")
                if not np.all(np.isfinite(value)) or np.abs(value).max(initial=0.0) > 1.0:
                    raise CCLBenchError(f"{where}: audio holds values outside [-1, 1] or not finite")
        if clip.nfe is not None and (not isinstance(clip.nfe, int | np.integer) or clip.nfe < 0):
            raise CCLBenchError(f"{where}: nfe is {clip.nfe!r}, a count >= 0 (or None) expected")
    return clips


# In-process registrations (a script or notebook that defines a generator without packaging it). Seen by
# `runner.run.run` in this process; `run --model a,b` runs each model in a fresh process, which sees
# only installed entry points.
GENERATORS = GeneratorRegistry()
register_generator = GENERATORS.register
