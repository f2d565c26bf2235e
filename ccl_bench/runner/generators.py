"""The registry `run --model` resolves through (`ccl_bench.generators` holds the interface), and the
harness's side of a plugin's run: prompt records in, the plugin's clips checked, written and listed in
a manifest as `runner.sample` writes a reference model's.

The harness's own entries: every reference model of `reference_impl`, the pseudo-models `ceiling` and
`floor`, and `cascade` (a plugin like any other: `runner.cascade.Cascade`, loaded by its "module:attr"
path through the same code as an installed distribution's entry point)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import CCLBenchError
from ..generators import (
    GENERATORS,
    MAKES_AUDIO,
    MAKES_VIDEO,
    TASKS,
    ClipFormat,
    GenerationRequest,
    GeneratorEntry,
    GeneratorRegistry,
    Prompt,
    check_clips,
)
from ..io import AVClip, write_clip
from ..paths import atomic_write, portable_options
from ..suites import Rendering, load_suite
from .pseudo import PSEUDO_MODELS
from .sample import Timing, caption_source, prompt_caption, read_suite_folder

CASCADE = "cascade"
CASCADE_DESCRIPTION = "T2V by one reference model, then V2A by another conditioned on that video (claim 8's cascade)"


def builtin_entries() -> list[GeneratorEntry]:
    """The harness's own names: reference models, pseudo-models, the cascade."""
    import reference_impl as R

    own = ("ccl-bench", __version__)
    return ([GeneratorEntry(n, "reference", n, *own, "reference model, sampled from a trained checkpoint")
             for n in R.list_models()]
            + [GeneratorEntry(n, "pseudo", n, *own, d) for n, d in PSEUDO_MODELS.items()]
            + [GeneratorEntry(CASCADE, "plugin", "ccl_bench.runner.cascade:Cascade", *own, CASCADE_DESCRIPTION)])


def registry() -> GeneratorRegistry:
    """Built-ins + this process's `register_generator` calls + the installed entry points."""
    return GeneratorRegistry(builtin_entries(), registered=GENERATORS._registered)


def resolve_model(model: str, checkpoint=None) -> GeneratorEntry:
    """`--model NAME` -> its entry. An ablation file (`.yaml`) is a reference model; so is any name given
    with `--checkpoint` that no entry holds (the checkpoint's config decides, the name labels the row)."""
    if str(model).endswith((".yaml", ".yml")):
        return GeneratorEntry(str(model), "reference", str(model), "ccl-bench", __version__, "reference model ablation file")
    reg = registry()
    if checkpoint is not None and model not in reg.names():
        return GeneratorEntry(model, "reference", model, "ccl-bench", __version__, "reference model from --checkpoint")
    return reg.get(model)


def plugin_tasks(entry: GeneratorEntry, factory) -> tuple[str, ...]:
    """The tasks a plugin's factory declares (its `tasks` attribute), default all five."""
    tasks = getattr(factory, "tasks", TASKS)
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks or [t for t in tasks if t not in TASKS]:
        raise CCLBenchError(f"generator '{entry.name}' ({entry.source}): declares tasks {list(tasks)} "
                            f"(known tasks: {', '.join(TASKS)})")
    return tasks


def check_options(entry: GeneratorEntry, factory, options: dict) -> None:
    """`--set` keys against the plugin's `options` attribute (the keys it reads), where it declares one:
    an unknown key is refused before any work."""
    known = getattr(factory, "options", None)
    if known is None:
        return
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise CCLBenchError(f"--set {unknown[0]}: generator '{entry.name}' ({entry.source}) takes "
                            f"{', '.join(known) or 'no options'}")


def clip_format(rend: Rendering) -> ClipFormat:
    return ClipFormat(rend.name, rend.width, rend.height, rend.fps, rend.sample_rate, rend.duration, rend.num_frames,
                      rend.num_samples)


def prompt_seed(seed: int, index: int) -> int:
    """Prompt `index`'s own seed: independent of batching and of which process draws it."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _frozen(x, dtype) -> np.ndarray:
    """A read-only copy: the kept stream the harness writes cannot be changed by the plugin it is lent to."""
    out = np.array(x, dtype=dtype)
    out.flags.writeable = False
    return out


def build_request(suite: str, task: str, video, audio, metas: list[dict], rend: Rendering, steps: int, guidance: str,
                  seed: int, device: str, options: dict, captions: str = "own") -> GenerationRequest:
    """The prompt records of a suite folder's first clips (video uint8 `[N, T, H, W, 3]`, audio `[N, S]`)."""
    prompts = tuple(Prompt(index=i, id=m["id"], caption=prompt_caption(metas, i, captions),
                           transcript=m.get("transcript"), task=task, seed=prompt_seed(seed, i),
                           condition_video=_frozen(video[i], np.uint8) if task == "v2a" else None,
                           condition_audio=_frozen(audio[i], np.float32) if task == "a2v" else None)
                    for i, m in enumerate(metas))
    return GenerationRequest(suite=suite, task=task, prompts=prompts, format=clip_format(rend), steps=steps,
                             guidance=guidance, seed=seed, device=device, options=dict(options))


def generate_plugin(entry: GeneratorEntry, gen, suite: str, task: str, num: int, out: str | Path, reference: str | Path,
                    rendering: str, steps: int, guidance: str, seed: int, device: str, options: dict | None = None,
                    captions: str = "own", split: str = "test", load_s: float = 0.0) -> dict:
    """Ask the plugin `gen` for the clips of the first `num` prompts of the suite folder `reference`,
    check them, write them into `out` with a manifest -> the manifest, `timing` added (`Timing` fields;
    `sample_s` is the plugin's `generate` call)."""
    spec = load_suite(suite)
    rend = spec.rendering(rendering)
    timing = Timing(load_s=load_s)
    t0 = time.perf_counter()
    video, audio, metas = read_suite_folder(Path(reference), spec.name, rend, num)
    request = build_request(spec.name, task, video.numpy(), audio.numpy(), metas, rend, steps, guidance, seed, device,
                            options or {}, captions)
    timing.condition_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clips = check_clips(entry, request, gen.generate(request))
    timing.sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    listed = []
    for i, (meta, clip) in enumerate(zip(metas, clips, strict=True)):
        v = clip.video if task in MAKES_VIDEO else video[i].numpy()
        a = clip.audio if task in MAKES_AUDIO else audio[i].numpy()
        path = write_clip(AVClip(v, rend.fps, np.asarray(a, np.float32)[None], rend.sample_rate),
                          out / f"{meta['id']}.{rend.format}")
        condition = {"a2v": {"modality": "audio", "source": meta["id"]},
                     "v2a": {"modality": "video", "source": meta["id"]}}.get(task)
        listed.append({"id": meta["id"], "video": path.name, "audio": None, "caption": request.prompts[i].caption,
                       "caption_label": metas[caption_source(metas, i, captions)]["label"], "label": meta["label"],
                       "events": meta["events"], "events_from": "condition" if condition else "prompt",
                       "perturbation": None, "condition": condition, "nfe": clip.nfe})
    nfes = {c.nfe for c in clips}
    manifest = {"suite": spec.name, "split": split, "rendering": rend.name, "seed": seed, "generated": True, "model": entry.name,
                "generator": entry.record(), "checkpoint": None, "task": task, "guidance": guidance, "captions": captions,
                "steps": steps, "options": portable_options(options or {}),
                # A plugin reports network evaluations per clip or nothing; passes per step are the sampler's own.
                "passes_per_step": None, "nfe_per_clip": nfes.pop() if len(nfes) == 1 and None not in nfes else None,
                "processes": 1, "ccl_bench_version": __version__, "clips": listed}
    timing.write_s = time.perf_counter() - t0
    manifest["timing"] = asdict(timing)  # in the file too: every process of a torchrun reads it there
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def plugin_provenance(entry: GeneratorEntry, gen, options: dict) -> dict:
    """The plugin's record for a table: the entry (distribution, version, target), the options, and what
    the plugin says of itself (`provenance()`, optional; must be JSON)."""
    record = {**entry.record(), "options": portable_options(options)}
    describe = getattr(gen, "provenance", None)
    if callable(describe):
        details = describe()
        try:
            json.dumps(details)
        except TypeError as exc:
            raise CCLBenchError(f"generator '{entry.name}' ({entry.source}): provenance() is not JSON ({exc})") from None
        record["details"] = details
    return record
