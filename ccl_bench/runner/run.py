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
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from ..distributed import barrier, device_for, world
from ..errors import CCLBenchError
from ..metrics import streams_read
from ..paths import checkpoint_dirs, portable, portable_options
from ..schema import SCHEMA_VERSION
from ..suites import build_suite, load_suite

TASKS = ("t2av", "a2v", "v2a", "t2v", "t2a")
# Which metrics a task's output can be judged by: the generated modality's distribution, and the
# synchrony wherever sound and picture belong together (A2V/V2A: the kept stream's known events).
# Per task: the streams it makes (scored) and the streams its clips hold (a metric must find all it reads there).
TASK_MAKES = {"t2av": {"video", "audio"}, "t2v": {"video"}, "t2a": {"audio"}, "a2v": {"video"}, "v2a": {"audio"}}
TASK_HOLDS = {"t2av": {"video", "audio"}, "t2v": {"video"}, "t2a": {"audio"}, "a2v": {"video", "audio"},
              "v2a": {"video", "audio"}}


def task_metrics(task: str, names) -> tuple[list[str], list[str]]:
    """Split a suite's metric names into (scored for `task`, not applicable: they read no stream it makes or a
    stream its clips lack)."""
    keep, skip = [], []
    for m in names:
        reads = streams_read(m)
        (keep if reads & TASK_MAKES[task] and reads <= TASK_HOLDS[task] else skip).append(m)
    return keep, skip


def find_checkpoint(suite: str, model: str) -> Path:
    for d in checkpoint_dirs():
        cand = d / suite / model
        if (cand / "ema.safetensors").is_file() and (cand / "config.json").is_file():
            return cand
    raise CCLBenchError(
        f"no checkpoint of model '{model}' for suite '{suite}' (looked in {', '.join(str(d) for d in checkpoint_dirs())}); "
        f"train one with `ccl-bench train --model {model} --suite {suite} --scale small --steps 1080 --out DIR` "
        "and pass `--checkpoint DIR`")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def suite_version(spec) -> str:
    """The suite spec's own `version` where it declares one, else `sha256:` + 16 hex digits of its YAML file
    (any edit of the spec changes it)."""
    declared = getattr(spec, "version", None)
    if declared:
        return str(declared)
    return "sha256:" + sha256(Path(spec.path))[:16] if spec.path and Path(spec.path).is_file() else "unknown"


class PeakMemory:
    """The peak memory of one generation, measured so that it cannot inherit an earlier model's:
    on CUDA `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`; on Linux CPU the peak
    resident set (`VmHWM`) after resetting it through `/proc/self/clear_refs` (it then still counts what
    this process holds when the generation starts, hence one process per model in `run_models`);
    elsewhere the process-lifetime peak (`ru_maxrss`), named as such."""

    def __init__(self, device: str):
        self.device = device
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            self.how = "torch.cuda.max_memory_allocated during this generation (reset before it)"
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
            self.how = "peak resident set (VmHWM) during this generation, reset before it; one process per model"
        except OSError:
            self.how = "process-lifetime peak resident set (ru_maxrss): includes everything this process ran before"

    def read(self) -> dict:
        if self.device.startswith("cuda"):
            return {"peak_gpu_mem_gb": torch.cuda.max_memory_allocated() / 1e9, "memory_measure": self.how}
        if self.how.startswith("peak resident set (VmHWM)"):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return {"peak_rss_gb": int(line.split()[1]) * 1024 / 1e9, "memory_measure": self.how}
        # ru_maxrss: KiB on Linux, bytes on macOS.
        scale = 1 if sys.platform == "darwin" else 1024
        return {"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9, "memory_measure": self.how}


def run_models(models: list[str], **kwargs) -> Iterator[dict]:
    """`run` for each model, each in a fresh process where there are several and this is one process
    (not torchrun): a model's peak memory and timings then cannot carry another model's. Yields each result."""
    if len(models) == 1 or world().size > 1:
        for m in models:
            yield run(m, **kwargs)
        return
    import multiprocessing as mp

    from .. import provenance

    kwargs = {**kwargs, "_command": provenance.command_argv()}
    ctx = mp.get_context("spawn")
    for m in models:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_run_child, args=(child, m, kwargs))
        proc.start()
        child.close()
        try:
            status, payload = parent.recv()
        except EOFError:
            status, payload = "died", None
        proc.join()
        if status == "ok":
            yield payload
        elif status == "error":
            raise payload
        else:
            raise CCLBenchError(f"run of model '{m}' ended without a result (exit code {proc.exitcode})")


def _run_child(conn, model: str, kwargs: dict) -> None:
    from ..provenance import set_command

    command = kwargs.pop("_command")
    if command is not None:
        set_command(command)
    try:
        conn.send(("ok", run(model, **kwargs)))
    except CCLBenchError as exc:
        conn.send(("error", exc))
    except BaseException as exc:
        import traceback

        conn.send(("error", RuntimeError(f"run of model '{model}' failed:\n{traceback.format_exc()}")))
        raise SystemExit(1) from exc
    finally:
        conn.close()


def run(model: str, suite: str, out: str | Path = "runs", task: str | None = None, guidance: str | None = None,
        num_samples: int | None = None, steps: int | None = None, seed: int | None = None, device: str | None = None,
        checkpoint: str | Path | None = None, overrides: dict | None = None, bootstrap: int = 200,
        weights_dir: str | Path | None = None, cache_dir: str | Path | None = None, show_progress: bool = True,
        captions: str = "own", scales: str | None = None) -> dict:
    """The main job for one model on one suite -> the result dict (also written to disk). `model` is a name of
    the generator registry (`runner.generators`): a reference model (a checkpoint), a pseudo-model
    (`ceiling`, `floor`: `runner.pseudo`) or a plugin (`ccl_bench.generators`; `overrides` are its options).
    `scales`: the guidance scales of a reference model, `text=2,modality=1` (`sample.parse_scales`)."""
    from .. import validate
    from ..evaluate import evaluate, save_results
    from ..tables import write_result
    from .generators import check_options, generate_plugin, plugin_provenance, plugin_tasks, resolve_model
    from .pseudo import PSEUDO_MODELS, generate_pseudo
    from .sample import generate, parse_scales, scales_label

    spec = load_suite(suite)
    cfg_run = {"rendering": "tiny", "split": "test", "num_samples": 16, "steps": 25, "sampler": "euler", "guidance": "ucg",
               "tasks": ["t2av"], "seed": 0, **spec.run}
    # A value given is used or refused, never replaced by the suite's default (0 is no "not given").
    num = validate.positive_int("--num-samples", cfg_run["num_samples"] if num_samples is None else num_samples)
    steps = validate.positive_int("--steps", cfg_run["steps"] if steps is None else steps)
    bootstrap = validate.positive_int("--bootstrap", bootstrap, allow_zero=True)
    entry = resolve_model(model, checkpoint)  # the registry: reference, pseudo or plugin
    pseudo, plugin = entry.kind == "pseudo", entry.kind == "plugin"
    can = TASKS
    if plugin:
        if checkpoint is not None:
            raise CCLBenchError(f"--model {model} is a generator plugin ({entry.source}): it takes no --checkpoint; "
                                "pass its options as --set KEY=VALUE")
        factory = entry.load()
        can = plugin_tasks(entry, factory)  # class attributes: known before the plugin loads any weights
        check_options(entry, factory, overrides or {})
    tasks = list(can) if task == "all" else list(dict.fromkeys(task.split(","))) if task else list(cfg_run["tasks"])
    for t in tasks:
        if t not in TASKS:
            raise CCLBenchError(f"unknown task '{t}' (known: {', '.join(TASKS)}, all)")
        if t not in can:
            raise CCLBenchError(f"--task {t}: generator '{model}' ({entry.source}) does only {', '.join(can)}")
    guidance = guidance or cfg_run["guidance"]
    seed = int(cfg_run["seed"] if seed is None else seed)
    device = device_for(world(), device)
    guidance_scales = parse_scales(scales)
    if scales and (pseudo or plugin):
        raise CCLBenchError(f"--scales: --model {model} is a {'pseudo-model' if pseudo else 'generator plugin'}; only a "
                            "reference model is sampled with ccl-bench's guidance" + ("" if pseudo else
                            " (pass a plugin's own settings as --set KEY=VALUE)"))
    if pseudo and (checkpoint is not None or overrides or captions != "own"):
        raise CCLBenchError(f"--model {model} is a pseudo-model ({PSEUDO_MODELS[model]}): it takes no --checkpoint, --set "
                            "or other captions")
    if pseudo or plugin:
        ck_info = {}
    elif checkpoint is None:
        import reference_impl

        # The model name, its file and every --set field are checked first, so a typo says what it is.
        reference_impl.resolve_config(model, "tiny", **(overrides or {}))
        if overrides or str(model).endswith((".yaml", ".yml")):
            raise CCLBenchError(f"model '{model}' with {overrides or 'a model file'} has no shipped checkpoint; train one "
                                f"with `ccl-bench train --model {model} --suite {suite} --scale small --steps 1080 --out DIR"
                                + "".join(f" --set {k}={v}" for k, v in (overrides or {}).items())
                                + "` and pass `--checkpoint DIR`")
        checkpoint = find_checkpoint(spec.name, model)
    if not (pseudo or plugin):
        checkpoint = Path(checkpoint)
        ck_info = json.loads((checkpoint / "config.json").read_text()) if (checkpoint / "config.json").is_file() else {}
    rendering = ck_info.get("rendering", cfg_run["rendering"])

    validate.home()
    root = validate.writable_folder("--out", Path(out)) / spec.name
    ref_dir = root / "clips" / "reference"
    w = world()
    start = time.perf_counter()
    if w.main:  # one writer; the others wait for the reference clips
        build_suite(spec, ref_dir, split=cfg_run["split"], rendering=rendering, num=num, seed=seed, show_progress=False)
    barrier(w)
    reference_s = time.perf_counter() - start
    result: dict = {"schema_version": SCHEMA_VERSION, "suite": spec.name, "suite_version": suite_version(spec), "model": model,
                    "tasks": {}, "reference_s": reference_s, "settings": {
        "rendering": rendering, "split": cfg_run["split"], "num_samples": num, "steps": steps, "sampler": cfg_run["sampler"],
        "guidance": guidance, "seed": seed, "metrics": spec.metrics, "protocol": spec.protocol,
        "overrides": portable_options(overrides or {}), "captions": captions}}
    if scales_label(guidance_scales):  # recorded only when not the defaults, so a default run's settings stay as they were
        result["settings"]["scales"] = scales_label(guidance_scales)
    gen = None
    for t in tasks:
        clip_dir = root / "clips" / model / t
        peak = PeakMemory(device)
        if plugin:
            if w.main:  # one process generates a plugin's clips; the others wait for them
                load_s = 0.0
                if gen is None:  # loaded once, inside the first task's memory and time, as a checkpoint is
                    start = time.perf_counter()
                    gen = entry.instantiate()
                    load_s = time.perf_counter() - start
                generate_plugin(entry, gen, spec.name, t, num, clip_dir, ref_dir, rendering, steps, guidance, seed, device,
                                options=overrides, captions=captions, split=cfg_run["split"], load_s=load_s)
            barrier(w)
            manifest = json.loads((clip_dir / "manifest.json").read_text())
        elif pseudo:
            if w.main:
                generate_pseudo(model, spec.name, t, num, clip_dir, reference=ref_dir, rendering=rendering, seed=seed,
                                split=cfg_run["split"])
            barrier(w)
            manifest = json.loads((clip_dir / "manifest.json").read_text())
        else:
            manifest = generate(checkpoint, spec.name, t, num, clip_dir, guidance=guidance, steps=steps,
                                sampler=cfg_run["sampler"], seed=seed, split=cfg_run["split"], device=device,
                                show_progress=show_progress, overrides=overrides, reference=ref_dir,
                                captions=captions, scales=guidance_scales)
        memory = peak.read()
        timing = manifest["timing"]
        names, _ = task_metrics(t, spec.metrics)
        start = time.perf_counter()
        res, pred_res, ref_res = evaluate(clip_dir, ref_dir, metrics=names, protocol=spec.protocol, device=device,
                                          weights_dir=weights_dir, cache_dir=cache_dir, bootstrap=bootstrap, seed=seed,
                                          show_progress=show_progress, details=True)
        evaluation_s = time.perf_counter() - start
        if w.main:
            save_results(pred_res, clip_dir / "per_clip.npz")  # what `ccl-bench compare` pairs prompt by prompt
            if ref_res is not None:
                save_results(ref_res, ref_dir / "per_clip.npz", keep_other_analyses=True)  # one file, every task's
        # Paths relative to the table's folder, so a committed table still finds its per-clip results.
        result["tasks"][t] = {"metrics": res["metrics"], "clips": str(clip_dir.relative_to(root)),
                              "reference": str(ref_dir.relative_to(root)),
                              # clips_per_s: over the sampler's time alone; loading, conditions and writing apart.
                              "generation": {"clips": num, **timing, "clips_per_s": num / timing["sample_s"],
                                             "passes_per_step": manifest["passes_per_step"],
                                             "nfe_per_clip": manifest["nfe_per_clip"], "device": device, **memory},
                              "evaluation_s": evaluation_s, "excluded": res["clips"]["pred"]["excluded"]}
        prov = res["provenance"]
    if plugin:
        prov["generator"] = plugin_provenance(entry, gen, overrides or {}) if w.main else entry.record()
    else:
        prov["generator"] = entry.record()
    if pseudo:
        prov["pseudo_model"] = PSEUDO_MODELS[model]
    elif not plugin:
        prov.update({"checkpoint": portable(checkpoint), "checkpoint_sha256": sha256(checkpoint / "ema.safetensors"),
                     "checkpoint_train": {k: ck_info.get(k) for k in ("steps_done", "train_clips", "provenance")
                                          if k in ck_info}})
    result["provenance"] = {**prov, "processes": w.size}
    if w.main:
        path = root / f"{model}.json"
        result = keep_other_tasks(_read_result(path), result)
        write_result(result, path)
    return result


def _read_result(path: Path) -> dict | None:
    """A table already at `path`, or None (absent or unreadable: it is then written over, as before)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def keep_other_tasks(old: dict | None, new: dict) -> dict:
    """`new` with the tasks of `old` (the table already at its path) that `new` did not run, where both are
    the same checkpoint (sha256) sampled and scored with the same settings: adding A2V to a T2AV table keeps
    the T2AV rows. Each kept task carries the provenance it was measured with (commit, device, versions).
    Anything else (another checkpoint, other settings, a pseudo-model or plugin) -> `new` alone, as written."""
    sha = new.get("provenance", {}).get("checkpoint_sha256")
    if (not old or sha is None or old.get("provenance", {}).get("checkpoint_sha256") != sha
            or old.get("model") != new.get("model") or old.get("settings") != new.get("settings")
            or old.get("suite_version") != new.get("suite_version")):
        return new
    kept = {t: {**row, "provenance": row.get("provenance", old["provenance"])}
            for t, row in old.get("tasks", {}).items() if t not in new["tasks"]}
    return {**new, "tasks": {**kept, **new["tasks"]}}
