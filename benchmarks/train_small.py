"""Train every reference model at `small` scale on the av-sync `tiny` rendering, with the same data,
steps and seed, in one GPU command; prints a table and writes each run's folder.

The step count is the same for every model. With `--steps` it is given. With `--budget-s` it is
measured: sequentially, from a short timing of each model before training; with `--parallel`, every
model trains in its own process at once (a small model leaves the GPU idle between its kernel
launches, so several processes share it well), and after `--probe-s` seconds the coordinator fixes
the step count that the slowest worker reaches within the budget; every worker stops exactly there
(the learning-rate schedule does not depend on the total, so this equals having asked for it).

    python benchmarks/train_small.py --out runs/small --budget-s 450 --parallel
    python benchmarks/train_small.py --out runs/small --steps 2000 --models ccl,gated
"""

from __future__ import annotations

import argparse
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


def provenance(device: str) -> dict:
    return {
        "commit": os.environ.get("CCL_BENCH_COMMIT", "unknown"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(R.list_models()))
    ap.add_argument("--steps", type=int, help="steps for every model (default: from --budget-s)")
    ap.add_argument("--budget-s", type=float, default=450.0, help="training seconds for all models together")
    ap.add_argument("--max-steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--clips", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--parallel", action="store_true", help="one process per model, step count fixed after --probe-s")
    ap.add_argument("--probe-s", type=float, default=90.0)
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: train this one model, obey target_steps.json
    args = ap.parse_args()
    models = args.models.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.parallel and not args.worker:
        return coordinate(args, models, out)

    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    t0 = time.time()
    video, audio, metas = render_split(spec, "train", "tiny", args.clips, args.seed, show_progress=False)
    _, vc, ac = build_for_rendering("none", "small", rend, {})
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=R.resolve_config("ccl", "small").text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""])
    data = LatentData(lv, la, text, mask, null_text, null_mask)
    print(f"rendered and encoded {args.clips} clips in {time.time() - t0:.1f} s", flush=True)

    def trainer(name: str, steps: int, folder: Path) -> Trainer:
        torch.manual_seed(args.seed)
        net, _, _ = build_for_rendering(name, "small", rend, {})
        cfg = TrainConfig(steps=steps, batch_size=args.batch_size, seed=args.seed, log_every=10, checkpoint_every=steps)
        meta = {"suite": "av-sync", "rendering": "tiny", "scale": "small", "name": name, "train_clips": args.clips,
                "video_codec": vc.to_dict(), "audio_codec": ac.to_dict(),
                "text_encoder": {"kind": "word-hash", "dim": enc.dim, "max_len": enc.max_len},
                "provenance": provenance(args.device)}
        return Trainer(net, data, cfg, folder, device=args.device, meta=meta)

    if args.worker:
        return work(args, trainer, out)
    steps, probe = args.steps, {}
    if steps is None:  # time each model briefly; the slowest sets one step count for all
        for name in models:
            tr = trainer(name, 10**9, out / "_probe")
            for _ in range(5):
                tr.train_step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(15):
                tr.train_step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            probe[name] = (time.perf_counter() - t) / 15
        per_step_all = sum(probe.values()) * 1.1
        steps = int(min(args.max_steps, args.budget_s / per_step_all) // 100 * 100)
        print(f"probe ms/step: { {k: round(v * 1e3, 1) for k, v in probe.items()} } -> {steps} steps each", flush=True)

    summary = {"steps": steps, "batch_size": args.batch_size, "clips": args.clips, "seed": args.seed,
               "probe_ms_per_step": {k: v * 1e3 for k, v in probe.items()}, "provenance": provenance(args.device),
               "models": {}}
    for name in models:
        t = time.time()
        tr = trainer(name, steps, out / name)
        tr.fit()
        (out / name / "checkpoint.pt").unlink(missing_ok=True)  # optimiser state: not shipped
        rows = [json.loads(ln) for ln in (out / name / "metrics.jsonl").read_text().splitlines()]
        final = sum(r["loss"] for r in rows[-10:]) / len(rows[-10:])
        summary["models"][name] = {"final_loss_mean_last10_logged": final, "seconds": round(time.time() - t, 1),
                                   "ms_per_step": 1e3 * tr.seconds / steps,
                                   "params": R.parameter_counts(name, "small", **{k: v for k, v in tr.model.cfg.to_dict().items()
                                                                                  if k in ("video_in_dim", "audio_in_dim")})}
        print(f"{name:12s} steps {steps}  final loss {final:.4f}  {summary['models'][name]['ms_per_step']:.1f} ms/step  "
              f"{summary['models'][name]['seconds']} s", flush=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("| model | final loss | ms/step |\n|---|---|---|")
    for name, m in summary["models"].items():
        print(f"| {name} | {m['final_loss_mean_last10_logged']:.4f} | {m['ms_per_step']:.1f} |")


TARGET = "target_steps.json"


def work(args, trainer, out: Path) -> None:
    """Train one model until the coordinator's target step count (or --max-steps)."""
    name = args.worker
    tr = trainer(name, args.max_steps, out / name)

    def obey(record):
        if record["step"] % 10 == 0 and (out / TARGET).is_file():
            tr.cfg.steps = json.loads((out / TARGET).read_text())["steps"]

    tr.fit(on_step=obey)
    (out / name / "checkpoint.pt").unlink(missing_ok=True)


def _progress(out: Path, name: str) -> tuple[int, float]:
    """(last logged step, seconds of training at it) of a worker."""
    log = out / name / "metrics.jsonl"
    if not log.is_file() or not log.read_text().strip():
        return 0, 0.0
    last = json.loads(log.read_text().splitlines()[-1])
    return last["step"], last["seconds"]


def coordinate(args, models: list[str], out: Path) -> None:
    t_start = time.time()
    base = [sys.executable, __file__, "--out", str(out), "--batch-size", str(args.batch_size), "--clips", str(args.clips),
            "--seed", str(args.seed), "--device", args.device, "--max-steps", str(args.max_steps)]
    procs = {m: subprocess.Popen(base + ["--worker", m], stdout=(out / f"{m}.log").open("w"), stderr=subprocess.STDOUT)
             for m in models}
    # Rates from two reads of the logs, so start-up (imports, rendering, CUDA init) is not counted.
    time.sleep(args.probe_s * 0.6)
    first = {m: (_progress(out, m)[0], time.time()) for m in models}
    time.sleep(args.probe_s * 0.4)
    rates, now = {}, {}
    for m in models:
        now[m] = _progress(out, m)[0]
        rates[m] = (now[m] - first[m][0]) / max(time.time() - first[m][1], 1e-9)
    remaining = args.budget_s - (time.time() - t_start)
    # Each worker reaches now + rate * remaining; the slowest such sets the common count (5% margin).
    reach = min(now[m] + 0.95 * rates[m] * remaining for m in models)
    steps = int(min(args.max_steps, reach) // 100 * 100)
    steps = max(steps, (max(now.values()) // 100 + 1) * 100)
    (out / TARGET).write_text(json.dumps({"steps": steps, "rates_steps_per_s": rates, "decided_at_s": time.time() - t_start}))
    print(f"rates (steps/s, all running): { {k: round(v, 2) for k, v in rates.items()} } -> {steps} steps each", flush=True)
    for m, p in procs.items():
        p.wait()
        print(f"{m}: exit {p.returncode}", flush=True)
    summary = {"steps": steps, "batch_size": args.batch_size, "clips": args.clips, "seed": args.seed, "parallel": True,
               "rates_steps_per_s_while_all_ran": rates, "provenance": provenance(args.device), "models": {}}
    print("| model | steps | final loss (mean of last 10 logged) | ms/step (all running) |\n|---|---|---|---|")
    for m in models:
        rows = [json.loads(ln) for ln in (out / m / "metrics.jsonl").read_text().splitlines()]
        final = sum(r["loss"] for r in rows[-10:]) / len(rows[-10:])
        summary["models"][m] = {"steps": rows[-1]["step"], "final_loss_mean_last10_logged": final,
                                "ms_per_step": 1e3 * rows[-1]["seconds"] / rows[-1]["step"]}
        print(f"| {m} | {rows[-1]['step']} | {final:.4f} | {summary['models'][m]['ms_per_step']:.1f} |")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
