"""Training throughput of a `small` model before and after the speed work, in one run on one GPU.

Variants (each a fresh model and Trainer in this process, the same data, batch and seed):
- `old`: today's step as it was: eager forward and backward replayed as CUDA graphs, bf16 autocast,
  fused AdamW, and a host sync after every step (the old loop's timing did one).
- `new`: the forward compiled by torch.compile (element-wise work fused) inside the CUDA graphs, no
  host sync outside logged steps, the batch drawn on the GPU.
- `new-nographs`: compiled, no CUDA graphs (what falls out if capture fails).
- `new-cdt`, `new-autotune`: `new` with Inductor's coordinate-descent tuning of each fused kernel's launch
  configuration (and max-autotune's matmul search): the same maths, a longer compile.
- `video-stream`, `audio-stream`: stage 1 (one stream alone, compiled and graphed), to size its runs.

Each variant runs `--warmup` steps (compilation, graph capture), then `--steps` timed steps between
two device syncs. Writes `throughput.json` and `throughput.md` (with provenance) into `--out`.

    python benchmarks/train_throughput.py --out $OUT --batch-size 512 --steps 30
    python benchmarks/train_throughput.py --out /tmp/tp --scale tiny --device cpu --variants old --steps 2   # CPU smoke

`--profile K` also profiles K steps of each variant after its timed steps (torch.profiler; kernels grouped
into families as `interaction_profile.py` groups them) and writes `throughput-profile.md` / `.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

VARIANTS = {
    "old": {"compile": False, "cuda_graphs": True, "sync_every_step": True},
    "new": {"compile": True, "cuda_graphs": True},
    "new-nographs": {"compile": True, "cuda_graphs": False},
    # Inductor searching its kernels' launch configurations (longer compile; the same maths).
    "new-cdt": {"compile": True, "cuda_graphs": True, "compile_options": {"coordinate_descent_tuning": True}},
    "new-autotune": {"compile": True, "cuda_graphs": True,
                     "compile_options": {"coordinate_descent_tuning": True, "max_autotune": True}},
    "video-stream": {"compile": True, "cuda_graphs": True, "streams": ("video",)},
    "audio-stream": {"compile": True, "cuda_graphs": True, "streams": ("audio",)},
}


def provenance(device: str) -> dict:
    from ccl_bench.provenance import git_commit

    commit = git_commit() or "unknown: not a git checkout and no $CCL_BENCH_COMMIT"
    return {"commit": commit, "torch": torch.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def load_data(scale: str, clips: int, model: str):
    """Render and encode `clips` training clips of av-sync tiny (the same for every variant)."""
    import reference_impl as R
    from ccl_bench.runner.data import encode_clips, render_split
    from ccl_bench.runner.models import build_for_rendering
    from ccl_bench.suites import load_suite
    from reference_impl.diffusion import LatentData
    from reference_impl.text import WordHashEncoder

    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    video, audio, metas = render_split(spec, "train", "tiny", clips, 0, show_progress=False)
    _, vc, ac = build_for_rendering(model, scale, rend, {})
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=R.resolve_config(model, scale).text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""])
    return LatentData(lv, la, text, mask, null_text, null_mask), rend


def measure(name: str, spec: dict, model: str, scale: str, data, rend, batch: int, warmup: int, steps: int,
            device: str, profile_steps: int = 0) -> dict:
    import torch._dynamo as dynamo

    from ccl_bench.runner.models import build_for_rendering
    from reference_impl.diffusion import TrainConfig, Trainer
    from reference_impl.diffusion.stages import StreamsModel, stage1_task_probs

    dynamo.reset()
    torch.manual_seed(0)
    cuda = device.startswith("cuda")
    streams = spec.get("streams")
    net, _, _ = build_for_rendering("none" if streams else model, scale, rend, {})
    if streams:
        net = StreamsModel(net.cfg, streams)
    cfg = TrainConfig(steps=10**9, batch_size=batch, seed=0, compile=spec["compile"] and cuda,
                      cuda_graphs=spec["cuda_graphs"], compile_options=spec.get("compile_options"),
                      checkpoint_seconds=1e9, checkpoint_every=10**9,
                      task_probs=stage1_task_probs(streams) if streams else None)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(net, data, cfg, tmp, device=device)
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for _ in range(warmup):
            tr.train_step(record_losses=False)
        sync()
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(steps):
            tr.train_step(record_losses=False)
            if spec.get("sync_every_step"):
                sync()
        sync()
        seconds = time.perf_counter() - t0
        last = tr.train_step(record_losses=True)
        kernels = None
        if profile_steps:
            from interaction_profile import profiled

            kernels = profiled(lambda: tr.train_step(record_losses=False), profile_steps, cuda)
    row = {"variant": name, "model": "+".join(streams) + " stream" if streams else model, "batch_size": batch,
            "steps_timed": steps, "seconds": round(seconds, 4), "ms_per_step": round(1e3 * seconds / steps, 3),
            "examples_per_s": round(batch * steps / seconds, 1), "warmup_s": round(warm_s, 2),
            "compiled": tr.use_compile, "cuda_graphs": tr.use_graphs, "loss": round(last["loss"], 5),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None}
    return row | {"kernels": kernels} if kernels else row


def write_profile(out: Path, rows: list[dict], meta: dict) -> None:
    """Per variant: ms per step by kernel family and the 15 costliest kernels."""
    from interaction_profile import by_family, family

    rows = [r for r in rows if r.get("kernels")]
    if not rows:
        return
    (out / "throughput-profile.json").write_text(json.dumps({"provenance": meta, "variants": {
        r["variant"]: r["kernels"] for r in rows}}, indent=1) + "\n")
    lines = [f"# Where a `{meta['scale']}` training step goes, by kernel family", "",
             f"{meta['device']}; torch {meta['torch']}; commit {meta['commit'][:12]}; device ms per step (mean of the "
             f"profiled steps); the step's wall time is the `ms/step` of `throughput.md`. Command: `{meta['command']}`"]
    for r in rows:
        fams = by_family(r["kernels"])
        lines += ["", f"## {r['variant']} ({r['model']}, batch {r['batch_size']}, {r['ms_per_step']} ms/step wall)", "",
                  "| family | ms | share |", "|---|---|---|"]
        total = sum(fams.values())
        lines += [f"| {f} | {ms:.2f} | {ms / total:.1%} |" for f, ms in fams.items()] + [f"| total | {total:.2f} | |"]
        top = sorted(r["kernels"].items(), key=lambda kv: -kv[1][0])[:15]
        lines += ["", "| kernel | family | ms | calls |", "|---|---|---|---|"]
        lines += [f"| `{k[:100]}` | {family(k)} | {v[0]:.3f} | {v[1]:g} |" for k, v in top]
    (out / "throughput-profile.md").write_text("\n".join(lines) + "\n")


def write_report(out: Path, rows: list[dict], meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = next((r for r in rows if r["variant"] == "old"), None)
    for r in rows:
        r["speedup_vs_old"] = round(r["examples_per_s"] / base["examples_per_s"], 2) if base else None
    (out / "throughput.json").write_text(json.dumps({"provenance": meta, "results": [
        {k: v for k, v in r.items() if k != "kernels"} for r in rows]}, indent=1))
    write_profile(out, rows, meta)
    lines = [f"# Training throughput, `{meta['scale']}` scale, av-sync tiny, one device", "",
             f"{meta['device']}; torch {meta['torch']}; commit {meta['commit'][:12]}; {meta['date_utc']}. "
             f"Each variant: {meta['warmup']} warm-up steps (compile, graph capture), then the timed steps between "
             "two device syncs; all variants in one process, one after another.", "",
             "| variant | model | batch | ms/step | examples/s | x old | compiled | CUDA graphs | warm-up s | peak GiB | loss |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['model']} | {r['batch_size']} | {r['ms_per_step']} | {r['examples_per_s']} | "
                     f"{r['speedup_vs_old'] if r['speedup_vs_old'] is not None else 'unavailable: no old row'} | "
                     f"{r['compiled']} | {r['cuda_graphs']} | {r['warmup_s']} | "
                     f"{r['peak_memory_gib'] if r['peak_memory_gib'] is not None else 'unavailable: CPU'} | {r['loss']} |")
    lines += ["", "Variants: " + "; ".join(f"`{k}` {v}" for k, v in VARIANTS.items() if k in {r['variant'] for r in rows}),
              "", f"Command: `{meta['command']}`", ""]
    (out / "throughput.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="ccl")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--variants", default="old,new")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--clips", type=int, default=512)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="also profile K steps of each variant")
    ap.add_argument("--cudnn-attention", action=argparse.BooleanOptionalAction, default=True,
                    help="let SDPA pick cuDNN's attention (off: flash / memory-efficient; compile with a fresh "
                         "TORCHINDUCTOR_CACHE_DIR, as a cached graph keeps the kernel it was compiled with)")
    args = ap.parse_args()
    torch.backends.cuda.enable_cudnn_sdp(args.cudnn_attention)
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    data, rend = load_data(args.scale, args.clips, args.model)
    meta = {**provenance(args.device), "scale": args.scale, "warmup": args.warmup,
            "command": "python benchmarks/train_throughput.py " + " ".join(
                (f"--{'' if v else 'no-'}{k.replace('_', '-')}" if isinstance(v, bool) else f"--{k.replace('_', '-')} {v}")
                for k, v in vars(args).items() if k != "out")}
    rows = []
    for name in names:
        row = measure(name, VARIANTS[name], args.model, args.scale, data, rend, args.batch_size, args.warmup, args.steps,
                      args.device, args.profile)
        print(json.dumps({k: v for k, v in row.items() if k != "kernels"}), flush=True)
        rows.append(row)
        write_report(Path(args.out), rows, meta)  # after each variant: a kill keeps what was measured
    print((Path(args.out) / "throughput.md").read_text())


if __name__ == "__main__":
    main()
