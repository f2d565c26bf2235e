"""The training campaign of the claims study at `small` scale, resumable across sessions.

The plan (`plan.json`), in order:
1. stage 1: `streams-video` (the video stream alone on T2V) and `streams-audio` (the audio stream alone
   on T2A), one GPU each; when both are done they are joined into `streams/` (shipped as
   `checkpoints/av-sync/streams/`);
2. stage 2: every model of `--models` for every seed of `--seeds` (seed-major, so a partial campaign
   has whole comparisons), each started from `streams/`, all with the same data, steps and batch.

A run is done when its folder's `config.json` says `steps_done` >= its target and its weights are there, or
their checksum (`ema.sha256`, written by `join_session.py --weights` for a run evaluated on the GPU machine whose
weights were not kept). The script runs what
fits in `--budget-s` (one run per GPU of `--gpus`, as separate processes); when time is up each worker
gets SIGTERM, checkpoints the step it reached and leaves a small portable state (`state.safetensors`:
weights, AdamW moments only where they fit `--state-mib`) beside its `ema.safetensors` (bf16) and
`config.json`. The next session continues from those (`--resume-from` a committed copy of `--out`);
finished runs are never trained again.

`--export DIR` packs, for the transfer back from a GPU machine, the runs this session touched (portable
files only) as `campaign.tar.NN` parts (at most `--part-mib` each; join with `cat campaign.tar.* | tar -x`),
plus `summary.md`, the loss curves and sample sheets: at most 8 files.

    python benchmarks/train_small.py --out /tmp/camp --budget-s 420 --gpus 0,1 --only streams --export $OUT
    python benchmarks/train_small.py --out /tmp/camp --resume-from checkpoints/av-sync/campaign --budget-s 450 \\
        --gpus 0,1 --only models --seeds 0 --export $OUT
    python benchmarks/train_small.py --out /tmp/c --scale tiny --device cpu --budget-s 60 --steps 4 --stream-steps 4 \\
        --audio-stream-steps 4 --models ccl --seeds 0 --clips 8 --batch-size 2        # CPU smoke test
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

CLAIMS_MODELS = ("ccl", "ccl-no-tarp", "ccl-rope-only", "ccl-partition-only", "ccl-no-lct", "ccl-no-dcr", "gated", "ovi",
                 "ltx2", "joint", "none", "gated-mt", "ovi-mt", "ltx2-mt", "joint-mt")
PORTABLE = ("ema.safetensors", "config.json", "metrics.jsonl", "state.safetensors", "target.json")
WEIGHTS_SHA = "ema.sha256"  # a finished run kept without its weights: `sha256sum` format of its ema.safetensors


@dataclass(frozen=True)
class RunSpec:
    """One training run of the campaign: `name` is its folder under `runs/`."""

    name: str
    stage: str  # "streams" (stage 1) or "joint" (stage 2)
    model: str  # the model name ("none" for stage 1)
    seed: int
    steps: int
    batch_size: int
    streams: tuple[str, ...] = ()


def plan(models, seeds, steps: int, stream_steps: int, audio_stream_steps: int, batch_size: int,
         only: str = "all", order: str = "seed") -> list[RunSpec]:
    """The campaign's runs in the order they are started: stage 1, then stage 2 seed-major (`order="seed"`:
    a partial campaign has whole seeds) or model-major (`"model"`: a partial campaign has whole models, each
    with every seed, as a claim's comparison needs; consecutive runs also share compiled code)."""
    runs = []
    if only in ("all", "streams"):
        runs += [RunSpec("streams-video", "streams", "none", 0, stream_steps, batch_size, ("video",)),
                 RunSpec("streams-audio", "streams", "none", 0, audio_stream_steps, batch_size, ("audio",))]
    if only in ("all", "models"):
        pairs = [(m, s) for s in seeds for m in models] if order == "seed" else [(m, s) for m in models for s in seeds]
        runs += [RunSpec(f"{m}/seed-{s}", "joint", m, s, steps, batch_size) for m, s in pairs]
    return runs


def gpu_slots(gpus: str, per_gpu: int) -> list[str]:
    """Worker slots: `per_gpu` concurrent runs on each GPU index ("0", "0:1", "1", "1:1", ...). Two runs on
    one GPU overlap one's compile with the other's steps, but the GPU time-slices them: measured on an H200, no net
    gain over one run per GPU in model-major order (results/training/campaign/stage2-session-2026-11-26.md)."""
    return [g if k == 0 else f"{g}:{k}" for g in (x.strip() for x in gpus.split(",")) for k in range(per_gpu)]


def target_steps(folder: Path, spec: RunSpec) -> int:
    """The run's step target: the plan's, or where a stage-1 run was declared finished
    (`--streams-until-budget`, recorded in its `target.json`)."""
    override = folder / "target.json"
    return json.loads(override.read_text())["steps"] if override.is_file() else spec.steps


def run_state(folder: Path, spec: RunSpec) -> tuple[str, int]:
    """("done" | "partial" | "todo", steps reached) of a run folder."""
    cfg = folder / "config.json"
    step = 0
    if cfg.is_file() and ((folder / "ema.safetensors").is_file() or (folder / WEIGHTS_SHA).is_file()):
        step = json.loads(cfg.read_text()).get("steps_done", 0)
        if step >= target_steps(folder, spec):
            return "done", step
    if (folder / "checkpoint.pt").is_file() or (folder / "state.safetensors").is_file():
        return "partial", step
    return "todo", 0


def provenance(device: str) -> dict:
    from ccl_bench.provenance import git_commit

    commit = git_commit() or "unknown: not a git checkout and no $CCL_BENCH_COMMIT"
    return {"commit": commit, "torch": torch.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name() if device.startswith("cuda") and torch.cuda.is_available() else "cpu",
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# ---- data, rendered once per campaign folder ------------------------------------------------------
def data_path(out: Path, scale: str, clips: int) -> Path:
    return out / ".cache" / f"latents-{scale}-{clips}.pt"


def prepare_data(out: Path, scale: str, clips: int) -> Path:
    """Render and encode the training clips (data seed 0, the same for every run) once; workers load them."""
    from ccl_bench.runner.data import encode_clips, render_split
    from ccl_bench.runner.models import build_for_rendering
    from ccl_bench.suites import load_suite
    from reference_impl.text import WordHashEncoder

    path = data_path(out, scale, clips)
    if path.is_file():
        return path
    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    video, audio, metas = render_split(spec, "train", "tiny", clips, 0, show_progress=False)
    net, vc, ac = build_for_rendering("none", scale, rend, {})
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=net.cfg.text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"video": lv, "audio": la, "text": text, "text_mask": mask, "null_text": null_text, "null_mask": null_mask,
                "meta": {"video_codec": vc.to_dict(), "audio_codec": ac.to_dict(), "clips": clips,
                         "text_encoder": {"kind": "word-hash", "dim": enc.dim, "max_len": enc.max_len}}},
               path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)
    return path


# ---- one run (a worker process) --------------------------------------------------------------------
def work(out: Path, spec: RunSpec, args) -> int:
    """Train one run to its target, continuing from what its folder holds. Exit 0 done, 143 stopped."""
    from ccl_bench.runner.models import build_for_rendering
    from ccl_bench.runner.train import STAGE_LR, read_stage1
    from ccl_bench.suites import load_suite
    from reference_impl.diffusion import LatentData, TrainConfig, Trainer
    from reference_impl.diffusion.stages import StreamsModel, load_stage1_streams, stage1_task_probs, stream_fields
    from reference_impl.diffusion.train import TrainingInterrupted

    d = torch.load(data_path(out, args.scale, args.clips), weights_only=True)
    data = LatentData(d["video"], d["audio"], d["text"], d["text_mask"], d["null_text"], d["null_mask"])
    rend = load_suite("av-sync").rendering("tiny")
    torch.manual_seed(spec.seed)
    folder = out / "runs" / spec.name
    lrs = STAGE_LR["streams" if spec.stage == "streams" else "stage2"]
    init_from = None
    if spec.stage == "streams":
        net, _, _ = build_for_rendering(spec.model, args.scale, rend, {})
        net = StreamsModel(net.cfg, spec.streams)
    else:  # the model's streams take stage 1's shapes (a wider stage-1 stream makes a wider model)
        state, stage1_cfg, _ = read_stage1(out / "streams")
        net, _, _ = build_for_rendering(spec.model, args.scale, rend, stream_fields(stage1_cfg))
        load_stage1_streams(net, state)
        init_from = "streams"  # the campaign folder's own `streams/` (never the machine's path to it)
    cfg = TrainConfig(steps=spec.steps, batch_size=spec.batch_size, seed=spec.seed, lr=lrs["lr"], lr_cross=lrs["lr_cross"],
                      stage=spec.stage, init_from=init_from, log_every=args.log_every, checkpoint_every=10**9,
                      checkpoint_seconds=60.0, snapshot_every=args.snapshot_every,
                      task_probs=stage1_task_probs(spec.streams) if spec.streams else None)
    meta = {"suite": "av-sync", "rendering": "tiny", "scale": args.scale, "name": spec.name, "train_clips": args.clips,
            "data_seed": 0, **d["meta"], "campaign_run": asdict(spec), "provenance": provenance(args.device)}
    if spec.streams:
        meta["streams"] = list(spec.streams)
    tr = Trainer(net, data, cfg, folder, device=args.device, meta=meta)
    resume = (folder / "checkpoint.pt").is_file()
    if not resume and (folder / "state.safetensors").is_file():
        tr.load_portable(folder / "state.safetensors", folder / "ema.safetensors")
        resume = "portable"
    try:
        if resume == "portable":
            tr.out.mkdir(parents=True, exist_ok=True)
            tr.save_checkpoint()  # so fit's own resume continues exactly here
        tr.fit(resume=bool(resume))
    except TrainingInterrupted as stop:
        tr.export()
        if spec.stage == "streams" and args.streams_until_budget and tr.step > 0:
            # Stage 1 is shared, so its length need not match anything: declare it finished where it stands.
            (folder / "target.json").write_text(json.dumps({"steps": tr.step, "planned": spec.steps}))
            (folder / "state.safetensors").unlink(missing_ok=True)
            print(f"{spec.name}: finished at step {tr.step} (budget spent; planned {spec.steps})", flush=True)
            return 0
        kept = tr.save_portable(folder / "state.safetensors", args.state_mib * 2**20)
        print(f"{spec.name}: stopped at step {tr.step} of {spec.steps}; portable state {kept}", flush=True)
        return int(stop.code)
    (folder / "state.safetensors").unlink(missing_ok=True)  # done: the EMA is what ships
    print(f"{spec.name}: done, {tr.step} steps", flush=True)
    return 0


# ---- the coordinator -------------------------------------------------------------------------------
def planned_stage1(out: Path) -> list[RunSpec]:
    """The stage-1 runs recorded in the campaign's `plan.json` (a session of `--only models` does not list them)."""
    plan_file = out / "plan.json"
    runs = json.loads(plan_file.read_text())["runs"] if plan_file.is_file() else []
    return [RunSpec(**{**r, "streams": tuple(r["streams"])}) for r in runs if r["stage"] == "streams"]


def merge_if_ready(out: Path, specs: list[RunSpec]) -> bool:
    from ccl_bench.runner.train import merge_streams

    parts = [s for s in specs if s.stage == "streams"] or planned_stage1(out)
    if (out / "streams" / "ema.safetensors").is_file():
        return True
    if parts and all(run_state(out / "runs" / s.name, s)[0] == "done" for s in parts):
        merge_streams([out / "runs" / s.name for s in parts], out / "streams")
        return True
    return False


def startable(out: Path, specs: list[RunSpec], busy: set[str], failed: set[str]) -> list[RunSpec]:
    """Runs that may start now, in plan order: not done, not running, not failed this session, and
    (stage 2) with the stage-1 streams ready."""
    have_streams = merge_if_ready(out, specs)
    return [s for s in specs if s.name not in busy | failed and run_state(out / "runs" / s.name, s)[0] != "done"
            and (s.stage == "streams" or have_streams)]


def coordinate_inline(args, out: Path, specs: list[RunSpec]) -> dict:
    """One run after another in this process (CPU tests and debugging); the budget is checked between runs."""
    t0 = time.time()
    prepare_data(out, args.scale, args.clips)
    touched, events = [], []
    while time.time() - t0 < args.budget_s - args.reserve_s:
        todo = startable(out, specs, set(), {e["run"] for e in events if e["exit"] not in (0, 143)})
        if not todo:
            break
        touched.append(todo[0].name)
        events.append({"run": todo[0].name, "slot": "inline", "exit": work(out, todo[0], args)})
    merge_if_ready(out, specs)
    return {"touched": touched, "events": events, "seconds": round(time.time() - t0, 1)}


def coordinate(args, out: Path, specs: list[RunSpec]) -> dict:
    """Start runs in plan order on free GPUs until the budget is spent; stop the rest with SIGTERM."""
    if args.inline:
        return coordinate_inline(args, out, specs)
    t0 = time.time()
    deadline = t0 + args.budget_s - args.reserve_s
    prepare_data(out, args.scale, args.clips)
    slots = gpu_slots(args.gpus, args.per_gpu) if args.device.startswith("cuda") else ["cpu"]
    running: dict[str, tuple[subprocess.Popen, RunSpec, float]] = {}
    touched, events = [], []
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str((out / ".cache" / "inductor").resolve()))
    stopping = False
    while True:
        for slot, (proc, spec, started) in list(running.items()):
            if proc.poll() is not None:
                events.append({"run": spec.name, "slot": slot, "exit": proc.returncode,
                               "seconds": round(time.time() - started, 1)})
                del running[slot]
        todo = startable(out, specs, {spec.name for _, spec, _ in running.values()},
                         {e["run"] for e in events if e["exit"] not in (0, 143)})
        left = deadline - time.time()
        if not stopping and left > args.min_run_s:
            for slot in slots:
                if slot in running or not todo:
                    continue
                spec = todo.pop(0)
                cmd = [sys.executable, __file__, "--worker", spec.name, "--out", str(out), "--scale", args.scale,
                       *(["--streams-until-budget"] if args.streams_until_budget else []),
                       "--clips", str(args.clips), "--state-mib", str(args.state_mib), "--log-every", str(args.log_every),
                       "--snapshot-every", str(args.snapshot_every),
                       "--device", "cuda" if slot != "cpu" else "cpu", "--plan-file", str(out / "plan.json")]
                wenv = dict(env, CUDA_VISIBLE_DEVICES=slot.split(":")[0]) if slot != "cpu" else env
                log = (out / "logs").joinpath(spec.name.replace("/", "_") + ".log")
                log.parent.mkdir(parents=True, exist_ok=True)
                proc = subprocess.Popen(cmd, env=wenv, stdout=log.open("a"), stderr=subprocess.STDOUT)
                running[slot] = (proc, spec, time.time())
                touched.append(spec.name)
                print(f"[{time.time() - t0:6.0f} s] start {spec.name} on {slot}", flush=True)
        if not running and (not todo or left <= args.min_run_s):
            break
        if left <= 0 and not stopping:
            stopping = True
            print(f"[{time.time() - t0:6.0f} s] budget spent: stopping {', '.join(s.name for _, s, _ in running.values())}",
                  flush=True)
            for proc, _, _ in running.values():
                proc.send_signal(signal.SIGTERM)
        if stopping and time.time() > deadline + args.reserve_s - 15:
            for proc, spec, _ in running.values():
                print(f"{spec.name}: did not stop in time; killed", flush=True)
                proc.kill()
        time.sleep(1.0)
    merge_if_ready(out, specs)
    return {"touched": list(dict.fromkeys(touched)), "events": events, "seconds": round(time.time() - t0, 1)}


def last_logged(log: Path) -> dict:
    """A run's `metrics.jsonl` -> the mean loss of its last 5 logged steps, and the last line's seconds (compile
    included) and partner-absent example count; None each where nothing is logged."""
    last = [json.loads(ln) for ln in log.read_text().splitlines()[-5:]] if log.is_file() else []
    return {"loss_mean_last5_logged": sum(r["loss"] for r in last) / len(last) if last else None,
            "seconds": last[-1]["seconds"] if last else None,
            "partner_absent_examples": last[-1].get("partner_absent_examples") if last else None}


def summarise(out: Path, specs: list[RunSpec], session: dict, args) -> str:
    rows = ["| run | stage | state | steps | target | last loss | s | partner-absent examples |",
            "|---|---|---|---|---|---|---|---|"]
    table = {}
    for s in specs:
        folder = out / "runs" / s.name
        state, step = run_state(folder, s)
        logged = last_logged(folder / "metrics.jsonl")
        loss, secs, absent = logged["loss_mean_last5_logged"], logged["seconds"], logged["partner_absent_examples"]
        target = target_steps(folder, s)
        table[s.name] = {"state": state, "steps": step, "target": target, "loss_mean_last5_logged": loss, "seconds": secs}
        rows.append(f"| {s.name} | {s.stage} | {state} | {step} | {target} | {f'{loss:.4f}' if loss is not None else '-'} | "
                    f"{secs if secs is not None else '-'} | {absent if absent is not None else '-'} |")
    summary = {"provenance": provenance(args.device), "session": session, "runs": table,
               "streams_ready": (out / "streams" / "ema.safetensors").is_file()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    text = "\n".join([f"# Training campaign ({args.scale}, av-sync tiny)", "", f"{summary['provenance']}", "",
                      f"This session: {session['seconds']} s; started {', '.join(session['touched']) or 'nothing'}.", "",
                      *rows, ""])
    (out / "summary.md").write_text(text)
    return text


# ---- pictures and the transfer package -----------------------------------------------------------
def sample_sheet(checkpoint: Path, out_png: Path, num: int, steps: int, device: str, title: str,
                 guidance: str | None = None) -> Path:
    """T2AV samples of the first `num` test prompts (generated row, then the suite's clip), frames and
    spectrogram, drawn in memory (no media files). guidance: default UCG for CCL with LCT, else CFG."""
    import numpy as np

    from ccl_bench.plots import _plt, _save
    from ccl_bench.runner.data import encode_clips, render_split
    from ccl_bench.runner.models import codecs_for, load_trained
    from ccl_bench.runner.sample import clip_noise
    from ccl_bench.suites import load_suite
    from reference_impl.diffusion import sample
    from reference_impl.text import WordHashEncoder

    model, info = load_trained(checkpoint, device)
    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    vc, ac = codecs_for(rend)
    video, audio, metas = render_split(spec, "test", "tiny", num, 0, show_progress=False)
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=model.cfg.text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""] * num)
    noise = [clip_noise(0, i, lv.shape[1:], la.shape[1:]) for i in range(num)]
    guidance = guidance or ("ucg" if model.cfg.interaction == "ccl" and model.cfg.lct else "cfg")
    with torch.no_grad():
        xv, xa, _ = sample(model, "t2av", text.to(device), mask.to(device), null_text.to(device), null_mask.to(device),
                           lv.shape, la.shape, steps=steps, guidance=guidance,
                           init_noise=(torch.stack([n[0] for n in noise]), torch.stack([n[1] for n in noise])))
    gen_v, gen_a = vc.decode(xv.cpu()).numpy(), ac.decode(xa.cpu(), rend.num_samples).numpy()
    plt = _plt()
    frames = 8
    fig, axes = plt.subplots(2 * num, frames + 1, figsize=(1.3 * frames + 4, 1.3 * 2 * num + 0.5),
                             gridspec_kw={"width_ratios": [1] * frames + [3]}, squeeze=False)
    for i in range(num):
        for r, (v, a, who) in enumerate(((gen_v[i], gen_a[i], "generated"), (video[i].numpy(), audio[i].numpy(), "suite"))):
            row = axes[2 * i + r]
            for ax, f in zip(row[:frames], np.linspace(0, len(v) - 1, frames).round().astype(int), strict=True):
                ax.imshow(v[f], interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            win, hop = np.hanning(512), 128
            seg = np.lib.stride_tricks.sliding_window_view(a.astype(np.float64), 512)[::hop] * win
            spec_db = 20 * np.log10(np.abs(np.fft.rfft(seg, axis=1)).T + 1e-6)
            row[-1].imshow(spec_db[:256], origin="lower", aspect="auto", cmap="magma", vmin=spec_db.max() - 70,
                           vmax=spec_db.max())
            row[-1].set_xticks([])
            row[-1].set_yticks([])
            row[-1].set_title(f"{who}: {metas[i]['caption'][:60]}", fontsize=6)
    fig.suptitle(title, fontsize=8)
    return _save(fig, out_png, dpi=80)


def export(out: Path, dest: Path, names: list[str], args) -> list[Path]:
    """The runs touched this session (portable files) and `streams/` as tar parts of at most `--part-mib`."""
    dest.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ["plan.json", "summary.json", "summary.md"]:
            if (out / name).is_file():
                tar.add(out / name, arcname=name)
        if (out / "streams").is_dir() and args.only != "models":  # stage 2 alone: the streams are already shipped
            for f in ("ema.safetensors", "config.json"):
                tar.add(out / "streams" / f, arcname=f"streams/{f}")
        for n in names:
            for f in PORTABLE:
                p = out / "runs" / n / f
                if p.is_file():
                    tar.add(p, arcname=f"runs/{n}/{f}")
    blob, part = buf.getvalue(), args.part_mib * 2**20
    paths = []
    for i in range(0, len(blob), part):
        p = dest / f"campaign.tar.{i // part:02d}"
        p.write_bytes(blob[i : i + part])
        paths.append(p)
    if len(paths) > args.max_parts:
        print(f"warning: the package needs {len(paths)} parts of {args.part_mib} MiB, more than --max-parts "
              f"{args.max_parts}: lower --state-mib or start fewer runs per session", flush=True)
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="campaign folder (runs/, streams/, plan.json, summary)")
    ap.add_argument("--resume-from", help="a committed campaign folder to continue (copied into --out first)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="wall seconds for this session, all included")
    ap.add_argument("--reserve-s", type=float, default=60.0, help="of the budget: stopping, export and pictures")
    ap.add_argument("--min-run-s", type=float, default=90.0, help="start no run with less time left (compile warm-up)")
    ap.add_argument("--gpus", default="0", help="GPU indices")
    ap.add_argument("--per-gpu", type=int, default=1, help="concurrent runs on each GPU (1: measured no slower)")
    ap.add_argument("--order", choices=["seed", "model"], default="seed", help="stage-2 order: seed-major or model-major")
    ap.add_argument("--only", choices=["all", "streams", "models"], default="all")
    ap.add_argument("--models", default=",".join(CLAIMS_MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=3000, help="stage-2 steps of every model and seed")
    ap.add_argument("--stream-steps", type=int, default=8000, help="stage-1 steps of the video stream")
    ap.add_argument("--audio-stream-steps", type=int, default=16000, help="stage-1 steps of the audio stream (cheaper)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--scale", default="small", help="model scale (tiny: a CPU smoke test)")
    ap.add_argument("--clips", type=int, default=2048)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--snapshot-every", type=int, default=0,
                    help="also export the EMA every N steps to runs/<run>/snapshots/step-<N>/ (claim 6; not exported)")
    ap.add_argument("--state-mib", type=int, default=12, help="portable state per run: AdamW moments only if they fit")
    ap.add_argument("--export", help="folder for the transfer package: tar parts, summary.md, loss curves, sample sheets")
    ap.add_argument("--export-runs", choices=["touched", "done"], default="touched",
                    help="export every run this session touched, or only the finished ones (the transfer limit; a "
                         "partial run then continues from the GPU machine's own folder in the next call)")
    ap.add_argument("--part-mib", type=int, default=15)
    ap.add_argument("--max-parts", type=int, default=5)
    ap.add_argument("--sheets", default="auto", help="sample sheets to draw into --export: auto (streams, ccl seed 0), none")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--streams-until-budget", action="store_true",
                    help="stage-1 runs stopped by the budget count as finished where they stand (then merged)")
    ap.add_argument("--inline", action="store_true", help="train the runs one after another in this process (CPU tests)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: train this one run
    ap.add_argument("--plan-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.worker:
        specs = [RunSpec(**{**r, "streams": tuple(r["streams"])}) for r in json.loads(Path(args.plan_file).read_text())["runs"]]
        sys.exit(work(out, next(s for s in specs if s.name == args.worker), args))
    models = [m for m in args.models.split(",") if m]
    import reference_impl as R

    unknown = [m for m in models if m not in R.list_models()]
    if unknown:
        ap.error(f"--models: unknown {', '.join(unknown)} (known: {', '.join(R.list_models())})")
    if args.resume_from and Path(args.resume_from).resolve() != out.resolve():
        src = Path(args.resume_from)
        if not (src / "plan.json").is_file():
            ap.error(f"--resume-from {src}: not a campaign folder (no plan.json)")
        shutil.copytree(src, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".cache", "logs"))
    out.mkdir(parents=True, exist_ok=True)
    specs = plan(models, [int(s) for s in args.seeds.split(",")], args.steps, args.stream_steps, args.audio_stream_steps,
                 args.batch_size, args.only, args.order)
    old = json.loads((out / "plan.json").read_text()) if (out / "plan.json").is_file() else {"runs": []}
    known = {r["name"]: r for r in old["runs"]}
    for s in specs:  # a run already begun keeps its target, batch and seed: equal footing across sessions
        if s.name in known and {k: v for k, v in known[s.name].items() if k != "streams"} != \
                {k: v for k, v in asdict(s).items() if k != "streams"}:
            ap.error(f"--out {out}: run {s.name} was planned as {known[s.name]}, now {asdict(s)}; keep its settings")
    merged = {**known, **{s.name: asdict(s) for s in specs}}
    (out / "plan.json").write_text(json.dumps({"scale": args.scale, "clips": args.clips, "runs": list(merged.values())},
                                              indent=1))
    session = coordinate(args, out, specs)
    print(summarise(out, specs, session, args), flush=True)
    if args.export:
        dest = Path(args.export)
        from ccl_bench.plots import loss_curves

        runs = {n: out / "runs" / n for n in session["touched"] if (out / "runs" / n / "metrics.jsonl").is_file()}
        if runs:
            loss_curves(runs, dest / "loss_curves.png", title="training losses of this session's runs")
        if args.sheets == "auto":
            if (out / "streams" / "ema.safetensors").is_file() and any(n.startswith("streams-") for n in session["touched"]):
                sample_sheet(out / "streams", dest / "samples_streams.png", 4, 25, args.device,
                             "stage-1 streams (T2V and T2A side by side): generated above the suite's clip")
            ccl = out / "runs" / "ccl" / "seed-0"
            if "ccl/seed-0" in session["touched"] and (ccl / "ema.safetensors").is_file():
                sample_sheet(ccl, dest / "samples_ccl.png", 4, 25, args.device, "ccl seed 0, T2AV (UCG)")
        shutil.copy(out / "summary.md", dest / "summary.md")
        names = session["touched"]
        if args.export_runs == "done":
            by_name = {sp.name: sp for sp in specs}
            names = [n for n in names if n in by_name and run_state(out / "runs" / n, by_name[n])[0] == "done"]
        parts = export(out, dest, names, args)
        print(f"exported {len(parts)} part(s) to {dest}; join with: cat campaign.tar.* | tar -x -C CAMPAIGN_FOLDER", flush=True)


if __name__ == "__main__":
    main()
