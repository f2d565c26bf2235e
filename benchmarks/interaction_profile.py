"""Where a model's training step spends its device time, kernel by kernel (torch.profiler over the compiled
step of `benchmarks/compute.py`'s train group), and what a model adds to `none`: the evidence behind CCL's
time share over its FLOP share (issue 12's floor). Prints the tables; writes `<out>/interaction-profile.json`
and `.md`.

    python benchmarks/interaction_profile.py --models none,ccl --out results/compute/experiments
    python benchmarks/interaction_profile.py --models none,ccl --scale tiny --no-compile --out /tmp/p   # CPU smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Kernel families, first match wins (after Inductor's fused kernels, told apart as pointwise or reduction):
# attention (before matrix products: flash kernels name cutlass types), matrix products, the optimizer, copies.
FAMILIES = (("attention", r"flash|fmha|attention|varlen|sdpa|dot_do_o|convert_dq"),
            ("matmul", r"gemm|cutlass|nvjet|sm90_xmma|cublas|splitK|aten::(addmm|mm|bmm|linear)$"),
            ("optimizer", r"adam|multi_tensor"),
            ("copy / gather", r"copy|index|gather|scatter|cat|elementwise_kernel.*direct_copy"))


def family(name: str) -> str:
    if name.startswith("triton_"):  # Inductor's kernels: triton_poi (pointwise), triton_red / triton_per (reductions)
        return "fused pointwise" if name.startswith("triton_poi") else "fused reduction"
    for fam, pattern in FAMILIES:
        if re.search(pattern, name, re.I):
            return fam
    return "other"


def profile_step(model_name: str, scale: str, compile_blocks: bool, steps: int, device: str) -> dict:
    """{kernel name: [device ms per step, calls per step]} of one training step (forward, backward, AdamW)."""

    from ccl_bench.runner.profile import ClipSize, inputs, model_and_shapes

    on_gpu = device.startswith("cuda")
    torch._dynamo.reset()  # the previous model's compiled graphs (and the weights they hold) go
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
    param_dtype = torch.bfloat16 if scale.startswith("wan") and on_gpu else torch.float32
    model, shapes = model_and_shapes(model_name, scale, {}, ClipSize(352, 640, 5.0), 31.25, device, param_dtype)
    x = inputs(model, shapes, 1, device)
    if compile_blocks:
        model.compile_blocks()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True if on_gpu else None)

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            pv, pa = model(x["video"], x["audio"], x["t_video"], x["t_audio"], x["text"])
            loss = pv.float().square().mean() + pa.float().square().mean()
        loss.backward()
        opt.step()

    for _ in range(3):  # compile and warm-up
        step()
    return profiled(step, steps, on_gpu)


def profiled(step, steps: int, on_gpu: bool) -> dict:
    """{kernel name: [device ms per step, calls per step]} over `steps` calls of `step`."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA] if on_gpu else [ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
        if on_gpu:
            torch.cuda.synchronize()
    out = {}
    for e in prof.key_averages():
        ms = (e.device_time_total if on_gpu else e.self_cpu_time_total) / 1e3 / steps
        if ms > 0:  # a GPU: kernels (device time); a CPU (smoke runs): operators (their own time)
            out[e.key] = [ms, e.count / steps]
    return out


def by_family(kernels: dict) -> dict:
    fam: dict[str, float] = {}
    for name, (ms, _) in kernels.items():
        fam[family(name)] = fam.get(family(name), 0.0) + ms
    return dict(sorted(fam.items(), key=lambda kv: -kv[1]))


def render(result: dict, base: str) -> str:
    models = list(result["models"])
    fams = {m: by_family(k) for m, k in result["models"].items()}
    names = sorted({f for f in fams.values() for f in f}, key=lambda f: -max(fams[m].get(f, 0) for m in models))
    lines = [f"# Training step by kernel family ({result['provenance']['device']}, {result['scale']})", "",
             f"Commit {result['provenance']['commit']}, torch {result['provenance']['torch']}, "
             f"{'compiled regions' if result['compiled'] else 'eager'}, batch 1, bf16 autocast; "
             f"{'device ms of each kernel' if result['provenance']['device'] != 'cpu' else 'CPU ms of each operator'} per step, "
             f"mean of {result['steps']} profiled steps after 3 warm-up steps. Command: `{result['provenance']['command']}`", "",
             "| family | " + " | ".join(models) + "".join(f" | {m} - {base}" for m in models if m != base) + " |",
             "|---|" + "---|" * (len(models) + len(models) - 1)]
    for f in names + ["total"]:
        vals = [sum(fams[m].values()) if f == "total" else fams[m].get(f, 0.0) for m in models]
        ref = vals[models.index(base)]
        lines.append(f"| {f} | " + " | ".join(f"{v:.2f}" for v in vals)
                     + "".join(f" | {v - ref:+.2f}" for m, v in zip(models, vals, strict=True) if m != base) + " |")
    for m in models:
        if m == base:
            continue
        extra = {k: v[0] - result["models"][base].get(k, [0.0])[0] for k, v in result["models"][m].items()}
        top = sorted(extra.items(), key=lambda kv: -kv[1])[:25]
        lines += ["", f"## The kernels {m} spends most on beyond {base} (ms per step)", "",
                  "| kernel | family | ms | calls per step |", "|---|---|---|---|"]
        lines += [f"| `{k[:110]}` | {family(k)} | {v:+.3f} | {result['models'][m][k][1]:g} |" for k, v in top]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from ccl_bench.provenance import provenance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="none,ccl", help="comma list; the first is the base the others are compared with")
    ap.add_argument("--scale", default="wan-1.3b")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="default: on a GPU")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    compiled = args.device.startswith("cuda") if args.compile is None else args.compile
    models = args.models.split(",")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    prov = provenance(0, {"torch": torch.__version__, "device": device_name},
                      command=["(benchmarks/interaction_profile.py)", *(argv if argv is not None else sys.argv[1:])])
    result = {"provenance": prov, "scale": args.scale, "compiled": compiled, "steps": args.steps,
              "models": {m: profile_step(m, args.scale, compiled, args.steps, args.device) for m in models}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "interaction-profile.json").write_text(json.dumps(result, indent=1) + "\n")
    text = render(result, models[0])
    (out / "interaction-profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
