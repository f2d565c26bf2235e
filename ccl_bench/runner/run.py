"""`ccl-bench run --model NAME --suite NAME`: the main job. Resolve the model's checkpoint for the suite,
sample every task, write the clips, evaluate the suite's metrics against the suite's own clips for the
same prompts, profile the generation, and write `<out>/<suite>/<model>.json` (+ `.csv`, `.md`).

Layout under `--out` (default `runs/`):
    <suite>/<model>.json|csv|md             the table (one row per task and metric)
    <suite>/clips/<model>/<task>/            generated clips + manifest.json + per_clip.npz
    <suite>/clips/reference/                 the suite's clips for the same prompts (shared by models)
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from pathlib import Path

import torch

from .. import __version__
from ..distributed import barrier, device_for, world
from ..errors import CCLBenchError
from ..metrics import METRICS
from ..suites import build_suite, load_suite

TASKS = ("t2av", "a2v", "v2a", "t2v", "t2a")
# Which metrics a task's output can be judged by: the generated modality's distribution, and the
# synchrony wherever sound and picture belong together (A2V/V2A: the kept stream's known events).
TASK_READS = {"t2av": {"i3d", "vggish", "sync", "av-align", "avsync-video", "avsync-audio"}, "t2v": {"i3d", "avsync-video"},
              "t2a": {"vggish", "avsync-audio"}, "a2v": {"i3d", "sync", "av-align", "avsync-video"},
              "v2a": {"vggish", "sync", "av-align", "avsync-audio"}}


def checkpoint_dirs() -> list[Path]:
    """Where shipped and user checkpoints are looked up: `$CCL_BENCH_CHECKPOINTS` (os.pathsep-separated),
    `./checkpoints`, the source tree's `checkpoints/`, `$CCL_BENCH_HOME/checkpoints`."""
    dirs = [Path(p) for p in os.environ.get("CCL_BENCH_CHECKPOINTS", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "checkpoints", Path(__file__).resolve().parents[2] / "checkpoints"]
    if os.environ.get("CCL_BENCH_HOME"):
        dirs.append(Path(os.environ["CCL_BENCH_HOME"]) / "checkpoints")
    return dirs


def find_checkpoint(suite: str, model: str) -> Path:
    for d in checkpoint_dirs():
        cand = d / suite / model
        if (cand / "ema.safetensors").is_file() and (cand / "config.json").is_file():
            return cand
    raise CCLBenchError(
        f"no checkpoint of model '{model}' for suite '{suite}' (looked in {', '.join(str(d) for d in checkpoint_dirs())}); "
        f"train one with `ccl-bench train --model {model} --suite {suite} --scale small --steps 1080 --out DIR` "
        "and pass `--checkpoint DIR`")


def _relative(p: Path) -> Path:
    """A path under the working directory as a relative one, so tables carry no machine's paths."""
    try:
        return p.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return p


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def peak_memory_gb(device: str) -> dict:
    if device.startswith("cuda"):
        return {"peak_gpu_mem_gb": torch.cuda.max_memory_allocated() / 1e9}
    # Linux reports ru_maxrss in KiB: the process's peak resident memory, everything loaded included.
    return {"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9}


def run(model: str, suite: str, out: str | Path = "runs", task: str | None = None, guidance: str | None = None,
        num_samples: int | None = None, steps: int | None = None, seed: int | None = None, device: str | None = None,
        checkpoint: str | Path | None = None, overrides: dict | None = None, bootstrap: int = 200,
        weights_dir: str | Path | None = None, cache_dir: str | Path | None = None, show_progress: bool = True) -> dict:
    """The main job for one model on one suite -> the result dict (also written to disk). `model` may be a
    pseudo-model (`ceiling`, `floor`: `runner.pseudo`), which needs no checkpoint."""
    from ..evaluate import evaluate, save_results
    from ..tables import write_result
    from .pseudo import PSEUDO_MODELS, generate_pseudo
    from .sample import generate

    spec = load_suite(suite)
    cfg_run = {"rendering": "tiny", "split": "test", "num_samples": 16, "steps": 25, "sampler": "euler", "guidance": "ucg",
               "tasks": ["t2av"], "seed": 0, **spec.run}
    tasks = list(TASKS) if task == "all" else [task] if task else list(cfg_run["tasks"])
    for t in tasks:
        if t not in TASKS:
            raise CCLBenchError(f"unknown task '{t}' (known: {', '.join(TASKS)}, all)")
    guidance = guidance or cfg_run["guidance"]
    num = num_samples or int(cfg_run["num_samples"])
    steps = steps or int(cfg_run["steps"])
    seed = int(cfg_run["seed"] if seed is None else seed)
    device = device_for(world(), device)
    pseudo = model in PSEUDO_MODELS
    if pseudo and (checkpoint is not None or overrides):
        raise CCLBenchError(f"--model {model} is a pseudo-model ({PSEUDO_MODELS[model]}): it takes no --checkpoint or --set")
    if pseudo:
        ck_info = {}
    elif checkpoint is None:
        if overrides or str(model).endswith((".yaml", ".yml")):
            raise CCLBenchError(f"model '{model}' with {overrides or 'a model file'} has no shipped checkpoint; train one "
                                f"with `ccl-bench train --model {model} --suite {suite} --scale small --steps 1080 --out DIR"
                                + "".join(f" --set {k}={v}" for k, v in (overrides or {}).items())
                                + "` and pass `--checkpoint DIR`")
        checkpoint = find_checkpoint(spec.name, model)
    if not pseudo:
        checkpoint = _relative(Path(checkpoint))
        ck_info = json.loads((checkpoint / "config.json").read_text()) if (checkpoint / "config.json").is_file() else {}
    rendering = ck_info.get("rendering", cfg_run["rendering"])

    root = Path(out) / spec.name
    ref_dir = root / "clips" / "reference"
    w = world()
    if w.main:  # one writer; the others wait for the reference clips
        build_suite(spec, ref_dir, split=cfg_run["split"], rendering=rendering, num=num, seed=seed, show_progress=False)
    barrier(w)
    result: dict = {"suite": spec.name, "model": model, "tasks": {}, "settings": {
        "rendering": rendering, "split": cfg_run["split"], "num_samples": num, "steps": steps, "sampler": cfg_run["sampler"],
        "guidance": guidance, "seed": seed, "metrics": spec.metrics, "protocol": spec.protocol, "overrides": overrides or {}}}
    for t in tasks:
        clip_dir = root / "clips" / model / t
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        if pseudo:
            if w.main:
                generate_pseudo(model, spec.name, t, num, clip_dir, rendering=rendering, seed=seed, split=cfg_run["split"])
            barrier(w)
            manifest = json.loads((clip_dir / "manifest.json").read_text())
        else:
            manifest = generate(checkpoint, spec.name, t, num, clip_dir, guidance=guidance, steps=steps,
                                sampler=cfg_run["sampler"], seed=seed, split=cfg_run["split"], device=device,
                                show_progress=show_progress, overrides=overrides)
        seconds = time.perf_counter() - start
        names = [m for m in spec.metrics if METRICS[m].analysis in TASK_READS[t]]
        res, pred_res, ref_res = evaluate(clip_dir, ref_dir, metrics=names, protocol=spec.protocol, device=device,
                                          weights_dir=weights_dir, cache_dir=cache_dir, bootstrap=bootstrap, seed=seed,
                                          show_progress=show_progress, details=True)
        if w.main:
            save_results(pred_res, clip_dir / "per_clip.npz")  # what `ccl-bench compare` pairs prompt by prompt
            if ref_res is not None:
                save_results(ref_res, ref_dir / "per_clip.npz")
        # Paths relative to the table's folder, so a committed table still finds its per-clip results.
        result["tasks"][t] = {"metrics": res["metrics"], "clips": str(clip_dir.relative_to(root)),
                              "reference": str(ref_dir.relative_to(root)),
                              "generation": {"clips": num, "seconds": seconds, "clips_per_s": num / seconds,
                                             "passes_per_step": manifest["passes_per_step"],
                                             "nfe_per_clip": manifest["nfe_per_clip"], "device": device,
                                             **peak_memory_gb(device)},
                              "excluded": res["clips"]["pred"]["excluded"]}
        prov = res["provenance"]
    if pseudo:
        prov.update({"pseudo_model": PSEUDO_MODELS[model], "ccl_bench": __version__})
    else:
        prov.update({"checkpoint": str(checkpoint), "checkpoint_sha256": sha256(checkpoint / "ema.safetensors"),
                     "checkpoint_train": {k: ck_info.get(k) for k in ("steps_done", "train_clips", "provenance")
                                          if k in ck_info},
                     "ccl_bench": __version__})
    result["provenance"] = {**prov, "processes": w.size}
    if w.main:
        write_result(result, root / f"{model}.json")
    return result
