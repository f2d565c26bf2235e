"""Evaluation throughput: clips per second for decoding, for each per-clip analysis (the features) and
for the metrics (statistics with bootstrap intervals), measured separately on one set of av-sync clips.

Random weights stand in for I3D and VGGish (same architectures and preprocessing, so the same cost);
nothing here is a metric value. Prints a table; `--out FILE` writes it as JSON with provenance.

    python benchmarks/eval_throughput.py --clips 32 --device cpu --out results/eval_throughput/cpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from ccl_bench import weights as W
from ccl_bench.features import AVAlignAnalysis, FeatureCache, I3DFeatures, SyncAnalysis, VGGishFeatures
from ccl_bench.features.i3d import InceptionI3d
from ccl_bench.features.store import SetResults
from ccl_bench.features.vggish import VGGish
from ccl_bench.io import read_clip
from ccl_bench.io.clipset import load_clipset
from ccl_bench.metrics import METRICS, Context
from ccl_bench.provenance import provenance
from ccl_bench.scoring import compute_metric
from ccl_bench.suites import build_suite, load_suite


def random_weights(folder: Path) -> None:
    """Random I3D and VGGish files in the published layouts; the registry is told to expect them."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save({k: v for k, v in InceptionI3d().state_dict().items() if not k.endswith("num_batches_tracked")},
               folder / "i3d_pretrained_400.pt")
    torch.save(VGGish().state_dict(), folder / "vggish-10086976.pth")
    digest = W.sha256_of(folder / "vggish-10086976.pth")
    W.REGISTRY["vggish"] = dataclasses.replace(W.REGISTRY["vggish"], sha256_prefix=digest[:8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=32, help="native av-sync clips to build and evaluate")
    ap.add_argument("--folder", help="evaluate this folder instead of building clips")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8, help="I3D clips per forward")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--out")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ccl-eval-tp-"))
    folder = Path(args.folder) if args.folder else tmp / "clips"
    if not args.folder:
        build_suite(load_suite("av-sync"), folder, split="test", rendering="native", num=args.clips, seed=0,
                    show_progress=False)
    random_weights(tmp / "weights")
    items = load_clipset(folder).items
    rows = {}

    t = time.perf_counter()
    clips = [read_clip(i.video, audio_path=i.audio) for i in items]
    rows["decode"] = time.perf_counter() - t

    w = tmp / "weights"
    analyses = {"i3d": I3DFeatures("videogpt", w, args.device), "vggish": VGGishFeatures(w, args.device),
                "sync": SyncAnalysis(), "av-align": AVAlignAnalysis()}
    results = {}
    for kind, a in analyses.items():
        a.cache = FeatureCache(None)  # measure the work, not the cache
        if kind in ("i3d", "vggish"):
            a.load()
            a.compute(clips[0])  # warm-up (kernel selection, allocations)
        if args.device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        if a.batchable:
            res = []
            for s in range(0, len(clips), args.batch):
                feats = a.compute_batch([a.prepare(c)[0] for c in clips[s : s + args.batch]])
                res += [{"features": f[None]} for f in feats]
        else:
            res = [a.compute(c)[0] for c in clips]
        if args.device == "cuda":
            torch.cuda.synchronize()
        rows[f"analysis {kind}"] = time.perf_counter() - t
        results[kind] = res

    t = time.perf_counter()
    both = SetResults(ids=[i.id for i in items], items=items, results=results)  # the set against itself
    for name, m in METRICS.items():
        compute_metric(name, both, both if m.needs_ref else None, Context(), args.bootstrap, 0)
    rows[f"metrics (all {len(METRICS)}, {args.bootstrap} bootstrap replicates)"] = time.perf_counter() - t

    n = len(clips)
    print(f"| stage | seconds | clips/s |  ({n} native clips, {args.device})\n|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v:.2f} | {n / v:.2f} |")
    if args.out:
        dev = torch.cuda.get_device_name() if args.device == "cuda" else (platform.processor() or platform.machine())
        record = {"clips": n, "rendering": "native 224x224 25 fps 8 s", "device": args.device, "device_name": dev,
                  "cpu_threads": torch.get_num_threads(), "stages_s": rows,
                  "clips_per_s": {k: n / v for k, v in rows.items()}, "weights": "random (same architectures)",
                  "provenance": provenance(0, {"device": dev})}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
