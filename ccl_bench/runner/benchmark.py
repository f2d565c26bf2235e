"""`ccl-bench run --model PLUGIN --suite javisbench` (or verse-bench, javisbench-mini, t2av-compass): the
prompts come from the user's local copy of the benchmark (`suites.local_copy`), a generator plugin
(`ccl_bench.generators`) makes one T2AV clip per prompt, the clips are written under the benchmark's own
names (so the publisher's scripts read the same folder), and `evaluate_suite` scores them with the
benchmark's metric list and aggregation.

Layout under `--out` (default `runs/`):
    <suite>/<model>.json|csv|md        the table (headline and per-category rows per metric)
    <suite>/clips/<model>/             the generated clips, `<id>.mp4` (+ `<id>.wav` where the benchmark reads one)

Reference models are trained on the av-sync suite's clips and its word vocabulary; they are not asked
for a benchmark's open-ended prompts (a plugin is)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import CCLBenchError


def run_benchmark(model: str, suite: str, out: str | Path = "runs", bench_root: str | Path | None = None,
                  num_samples: int | None = None, steps: int | None = None, guidance: str | None = None,
                  seed: int | None = None, device: str | None = None, overrides: dict | None = None, bootstrap: int = 200,
                  weights_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                  show_progress: bool = True) -> dict:
    """Generate the first `num_samples` prompts of the benchmark (default: all) with the plugin `model`, evaluate
    them -> the result dict of `evaluate_suite` plus `model`, `settings` and `generation` (also written)."""
    from .. import validate
    from ..distributed import device_for, world
    from ..evaluate import evaluate_suite
    from ..io import AVClip, write_clip
    from ..suites import load_benchmark, read_local_copy
    from ..tables import write_result

    spec = load_benchmark(suite)
    root, items = read_local_copy(spec, bench_root)  # a missing copy is refused before any model loads
    from ..generators import HOW_TO_REGISTER, ClipFormat, GenerationRequest, Prompt, check_clips
    from .generators import plugin_provenance, plugin_tasks, prompt_seed, resolve_model

    num = len(items) if num_samples is None else validate.positive_int("--num-samples", num_samples)
    items = items[:num]
    entry = resolve_model(model)
    if entry.kind != "plugin":
        raise CCLBenchError(f"--model {model}: a {entry.kind} model generates only the av-sync suite's clips; {spec.name}'s "
                            f"prompts go to a generator plugin ({HOW_TO_REGISTER})")
    if "t2av" not in plugin_tasks(entry, entry.load()):
        raise CCLBenchError(f"--model {model} ({entry.source}): {spec.name} asks for T2AV clips; this generator does "
                            f"only {', '.join(plugin_tasks(entry, entry.load()))}")
    if world().size > 1:
        raise CCLBenchError(f"run --suite {spec.name}: one process generates a plugin's clips; run it without torchrun")
    r = {"width": 640, "height": 352, "fps": 24.0, "duration": 5.0, "sample_rate": 16000, "sound": "wav", **spec.run}
    frames, samples = round(r["duration"] * r["fps"]), round(r["duration"] * r["sample_rate"])
    fmt = ClipFormat(spec.name, int(r["width"]), int(r["height"]), float(r["fps"]), int(r["sample_rate"]),
                     float(r["duration"]), frames, samples)
    seed = 0 if seed is None else int(seed)
    steps = validate.positive_int("--steps", 25 if steps is None else steps)
    device = device_for(world(), device)
    root_out = validate.writable_folder("--out", Path(out)) / spec.name
    clip_dir = root_out / "clips" / model
    prompts = tuple(Prompt(index=i, id=it.id, caption=it.text["caption"], transcript=it.text.get("transcript"), task="t2av",
                           seed=prompt_seed(seed, i)) for i, it in enumerate(items))
    request = GenerationRequest(suite=spec.name, task="t2av", prompts=prompts, format=fmt, steps=steps,
                                guidance=guidance or "default", seed=seed, device=device, options=dict(overrides or {}))
    t0 = time.perf_counter()
    gen = entry.instantiate()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clips = check_clips(entry, request, gen.generate(request))
    sample_s = time.perf_counter() - t0
    clip_dir.mkdir(parents=True, exist_ok=True)
    for p, c in zip(prompts, clips, strict=True):
        write_clip(AVClip(c.video, fmt.fps, np.asarray(c.audio, np.float32)[None], fmt.sample_rate), clip_dir / f"{p.id}.mp4",
                   sidecar="wav" if r["sound"] == "wav" else None)
    start = time.perf_counter()
    result = evaluate_suite(spec.name, clip_dir, root, device=device, weights_dir=weights_dir, cache_dir=cache_dir,
                            bootstrap=bootstrap, seed=seed, show_progress=show_progress)
    result["model"] = model
    result["settings"] = {"num_samples": num, "steps": steps, "guidance": request.guidance, "seed": seed,
                          "metrics": [m.name for m in spec.metrics], "protocol": spec.fvd_protocol, "format": vars(fmt),
                          "options": dict(overrides or {})}
    result["generation"] = {"clips": len(clips), "clips_folder": str(clip_dir.relative_to(root_out)), "load_s": load_s,
                            "sample_s": sample_s, "clips_per_s": len(clips) / sample_s if sample_s > 0 else None,
                            "evaluation_s": time.perf_counter() - start, "device": device}
    result["provenance"]["generator"] = plugin_provenance(entry, gen, overrides or {})
    write_result(result, root_out / f"{model}.json")
    return result
