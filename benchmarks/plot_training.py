"""Pictures of a training matrix: loss curves of every run, and sample sheets (frames + spectrogram)
of chosen checkpoints next to the suite's own clips for the same prompts.

    python benchmarks/plot_training.py --runs results/training/av-sync-small --checkpoints checkpoints/av-sync \
        --sheets ccl,gated --out results/training/av-sync-small
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ccl_bench.plots import contact_sheet, loss_curves
from ccl_bench.runner.sample import generate
from ccl_bench.suites import build_suite, load_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True, help="folder of <model>/metrics.jsonl")
    ap.add_argument("--checkpoints", help="folder of <model>/{ema.safetensors,config.json}, for the sample sheets")
    ap.add_argument("--sheets", default="", help="models to draw samples of (comma-separated)")
    ap.add_argument("--num", type=int, default=5, help="prompts per sheet")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    runs = {p.parent.name: p.parent for p in sorted(Path(args.runs).glob("*/metrics.jsonl"))}
    out = Path(args.out)
    print(loss_curves(runs, out / "loss_curves.png", title=f"training losses ({', '.join(runs)})"))
    tmp = Path(tempfile.mkdtemp(prefix="ccl-sheets-"))
    for model in filter(None, args.sheets.split(",")):
        generate(Path(args.checkpoints) / model, "av-sync", "t2av", args.num, tmp / model, steps=args.steps,
                 show_progress=False)
        print(contact_sheet(tmp / model, out / f"samples_{model}_t2av.png", num_clips=args.num,
                            title=f"{model}: T2AV samples for the first {args.num} test prompts, UCG, {args.steps} Euler steps"))
    if args.sheets:
        build_suite(load_suite("av-sync"), tmp / "truth", split="test", rendering="tiny", num=args.num, show_progress=False)
        print(contact_sheet(tmp / "truth", out / "ground_truth_tiny.png", num_clips=args.num,
                            title="the suite's own clips for the same prompts"))


if __name__ == "__main__":
    main()
