"""Train every reference model at `small` scale on the av-sync `tiny` rendering, with the same data,
steps and seed; prints a table and writes each run's folder (`metrics.jsonl`, `ema.safetensors`,
`config.json`, `checkpoint.pt`) and `summary.json`.

Two modes:
- `--steps N`: the models train one after another, N steps each.
- `--parallel --budget-s S`: every model trains in its own process at once (a small model leaves the
  GPU idle between its kernel launches, so several processes share it well). The coordinator keeps
  them in step: a worker may run at most `--window` steps ahead of the slowest and waits there, so
  the GPU goes to whoever is behind. After S seconds every worker finishes at the step the fastest
  has reached, so all models end with exactly the same number of steps. The learning-rate schedule
  does not depend on the total, so this equals having asked for that count up front.
  `--resume` continues the runs in `--out` (from their `checkpoint.pt`) for another S seconds.

    python benchmarks/train_small.py --out runs/small --parallel --budget-s 450
    python benchmarks/train_small.py --out runs/small --parallel --budget-s 450 --resume
    python benchmarks/train_small.py --out runs/small --steps 2000 --models ccl,gated
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

import reference_impl as R
from ccl_bench.runner.data import encode_clips, render_split
from ccl_bench.runner.models import build_for_rendering
from ccl_bench.suites import load_suite
from reference_impl.diffusion import LatentData, TrainConfig, Trainer
from reference_impl.text import WordHashEncoder

CONTROL = "control.json"  # {"target": step the workers may reach, "final": stop there}


def provenance(device: str) -> dict:
    from ccl_bench.provenance import provenance as common

    return common(0, {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"},
                  command=["(benchmarks/train_small.py)", *sys.argv[1:]])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(R.list_models()))
    ap.add_argument("--steps", type=int, help="steps for every model, trained one after another")
    ap.add_argument("--parallel", action="store_true", help="one process per model, kept in step, for --budget-s")
    ap.add_argument("--budget-s", type=float, default=450.0, help="seconds of training (parallel mode)")
    ap.add_argument("--window", type=int, default=100, help="steps a worker may run ahead of the slowest")
    ap.add_argument("--resume", action="store_true", help="continue the runs in --out")
    ap.add_argument("--scale", default="small", help="model scale (tiny: a CPU smoke test of this script)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--clips", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: train this one model, obey control.json
    args = ap.parse_args()
    models = args.models.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.parallel and not args.worker:
        return coordinate(args, models, out)
    if not args.parallel and args.steps is None:
        ap.error("give --steps N, or --parallel with --budget-s")

    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    t0 = time.time()
    video, audio, metas = render_split(spec, "train", "tiny", args.clips, args.seed, show_progress=False)
    _, vc, ac = build_for_rendering("none", args.scale, rend, {})
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=R.resolve_config("ccl", args.scale).text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""])
    data = LatentData(lv, la, text, mask, null_text, null_mask)
    print(f"rendered and encoded {args.clips} clips in {time.time() - t0:.1f} s", flush=True)

    def trainer(name: str, steps: int) -> Trainer:
        torch.manual_seed(args.seed)
        net, _, _ = build_for_rendering(name, args.scale, rend, {})
        cfg = TrainConfig(steps=steps, batch_size=args.batch_size, seed=args.seed, log_every=10, checkpoint_every=500)
        meta = {"suite": "av-sync", "rendering": "tiny", "scale": args.scale, "name": name, "train_clips": args.clips,
                "video_codec": vc.to_dict(), "audio_codec": ac.to_dict(),
                "text_encoder": {"kind": "word-hash", "dim": enc.dim, "max_len": enc.max_len},
                "provenance": provenance(args.device)}
        return Trainer(net, data, cfg, out / name, device=args.device, meta=meta)

    if args.worker:
        return work(trainer(args.worker, 10**9), out, args.resume)
    for name in models:
        trainer(name, args.steps).fit(resume=args.resume)
    summarise(args, models, out)


def read_control(out: Path) -> dict:
    try:
        return json.loads((out / CONTROL).read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or being replaced
        return {"target": 0, "final": False}


def work(tr: Trainer, out: Path, resume: bool) -> None:
    """Train one model as far as the coordinator's target allows; wait there until it moves or is final."""

    def obey(record):
        if record["step"] % tr.cfg.log_every:
            return
        while True:
            ctl = read_control(out)
            if ctl["final"]:
                tr.cfg.steps = max(ctl["target"], tr.step)
                return
            if tr.step < ctl["target"]:
                return
            time.sleep(0.5)

    tr.fit(resume=resume, on_step=obey)


def last_step(out: Path, name: str) -> int:
    """The last step a worker logged (0 before its first); a line being written is skipped."""
    log = out / name / "metrics.jsonl"
    for line in reversed(log.read_text().splitlines() if log.is_file() else []):
        try:
            return json.loads(line)["step"]
        except json.JSONDecodeError:
            continue
    return 0


def write_control(out: Path, target: int, final: bool) -> None:
    tmp = out / (CONTROL + ".tmp")
    tmp.write_text(json.dumps({"target": target, "final": final}))
    os.replace(tmp, out / CONTROL)


def coordinate(args, models: list[str], out: Path) -> None:
    start = {m: last_step(out, m) if args.resume else 0 for m in models}
    if len(set(start.values())) > 1:
        sys.exit(f"cannot resume: the runs in {out} are at different steps {start}")
    window = max(10, args.window // 10 * 10)  # workers check at logged steps (every 10), so targets are multiples of 10
    target = min(start.values()) + window
    write_control(out, target, final=False)
    base = [sys.executable, __file__, "--out", str(out), "--batch-size", str(args.batch_size), "--clips", str(args.clips),
            "--seed", str(args.seed), "--device", args.device, "--scale", args.scale, "--parallel"]
    base += ["--resume"] if args.resume else []
    procs = {m: subprocess.Popen(base + ["--worker", m], stdout=(out / f"{m}.log").open("a"), stderr=subprocess.STDOUT)
             for m in models}
    t0 = time.time()
    while time.time() - t0 < args.budget_s:
        time.sleep(2.0)
        if any(p.poll() is not None for p in procs.values()):
            break  # a worker died: stop the others where they stand, and report it
        target = max(target, min(last_step(out, m) for m in models) + window)
        write_control(out, target, final=False)
    # No worker passes the last target it was given, so every one can finish exactly there.
    write_control(out, target, final=True)
    print(f"after {time.time() - t0:.0f} s: every model finishes at step {target}", flush=True)
    for m, p in procs.items():
        p.wait()
        print(f"{m}: exit {p.returncode}", flush=True)
    summarise(args, models, out)


def summarise(args, models: list[str], out: Path) -> None:
    summary = {"scale": args.scale, "batch_size": args.batch_size, "clips": args.clips, "seed": args.seed,
               "parallel": args.parallel, "provenance": provenance(args.device), "models": {}}
    print("| model | steps | final loss (mean of last 10 logged) | ms/step | ema sha256 |\n|---|---|---|---|---|")
    for m in models:
        rows = [json.loads(ln) for ln in (out / m / "metrics.jsonl").read_text().splitlines()]
        final = sum(r["loss"] for r in rows[-10:]) / len(rows[-10:])
        ema = out / m / "ema.safetensors"
        entry = {"steps": rows[-1]["step"], "final_loss_mean_last10_logged": final,
                 "ms_per_step": 1e3 * rows[-1]["seconds"] / rows[-1]["step"],
                 "ema_sha256": sha256(ema) if ema.is_file() else None}
        summary["models"][m] = entry
        print(f"| {m} | {entry['steps']} | {final:.4f} | {entry['ms_per_step']:.1f} | {(entry['ema_sha256'] or '-')[:12]} |")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
