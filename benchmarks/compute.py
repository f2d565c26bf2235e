"""The compute matrix of CCL and the baselines at Wan scale, in one GPU command (random weights):

1. wan-1.3b, train mode (forward + backward), bf16, batch 1, a 352x640 5 s clip (18,480 video tokens,
   157 audio tokens): ccl, gated, ovi, ltx2, joint, none;
2. wan-1.3b, sample mode, every guidance scheme (ucg, ucg-joint, cfg, ltx2), 50 steps;
3. wan-1.3b, train mode with 1,000 audio tokens (an audio latent at 200 Hz): ccl, gated, none;
4. wan-14b, sample mode, ucg: ccl, gated, none (what fits one card in bf16);
5. TARP's partitioned cross-attention against dense cross-attention at the same token counts.

Writes `OUT/*.json` (records + provenance) after each group, so a run cut short keeps what it
measured, then `OUT/compute.md` (tables and the floors checked) and `OUT/compute.png`.
`--plot-only` re-renders the table and plot from the JSON files.

    python benchmarks/compute.py --out results/compute
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

MODELS = ["ccl", "gated", "ovi", "ltx2", "joint", "none"]
SCHEMES = ["ucg", "ucg-joint", "cfg", "ltx2"]


def provenance() -> dict:
    from ccl_bench.provenance import provenance as common

    return common(0, {"cuda": torch.version.cuda, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                      "weights": "random (seed 0 inputs; parameters from each module's default initialisation)"},
                  command=["(benchmarks/compute.py)", *sys.argv[1:]])


def run(args) -> None:
    from ccl_bench.profiling import matmul_rate
    from ccl_bench.runner.profile import ClipSize, add_interaction_shares, profile_model, tarp_attention_bench

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rate = matmul_rate(device)
    prov = {**provenance(), "matmul_flops_per_s": rate}
    print(f"bf16 matmul: {rate / 1e12:.0f} TFLOP/s on {prov['device']}", flush=True)
    clip = ClipSize.parse(args.clip)
    t0 = time.time()

    def group(name: str, records: list[dict]) -> None:
        if records and "model" in records[0]:
            add_interaction_shares(records)
        (out / f"{name}.json").write_text(json.dumps({"provenance": prov, "records": records}, indent=1))
        print(f"[{time.time() - t0:5.0f} s] {name}: {len(records)} records", flush=True)

    def measure(model, scale, mode, **kw):
        recs = profile_model(model, scale, mode, device=device, clip=clip, matmul_flops=rate, repeats=args.repeats, **kw)
        if mode == "train" and any(r.get("status") == "oom" for r in recs):
            recs = profile_model(model, scale, mode, device=device, clip=clip, matmul_flops=rate, repeats=args.repeats,
                                 checkpointing=True, **kw)
        for r in recs:
            print("   ", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                         if k in ("model", "guidance", "step_ms", "mfu", "peak_mem_gb", "status", "checkpointing")}, flush=True)
        return recs

    scale = args.scale
    group(f"{scale}-train", [r for m in MODELS for r in measure(m, scale, "train")])
    group(f"{scale}-sample", [r for m in MODELS for r in measure(m, scale, "sample", guidance=SCHEMES, steps=args.steps)])
    group(f"{scale}-train-1000-audio-tokens",
          [r for m in ("ccl", "gated", "none") for r in measure(m, scale, "train", audio_rate=200.0)])
    group("tarp-attention", tarp_attention_bench(device=device))
    if not args.skip_14b:
        group("wan-14b-sample", [r for m in ("ccl", "gated", "none")
                                 for r in measure(m, "wan-14b", "sample", guidance=["ucg"], steps=args.steps)])
    report(out)


def load(out: Path) -> tuple[dict, list[dict], list[dict]]:
    prov, records, tarp = {}, [], []
    for f in sorted(out.glob("*.json")):
        d = json.loads(f.read_text())
        prov = d["provenance"]
        (tarp if f.stem == "tarp-attention" else records).extend(d["records"])
    return prov, records, tarp


def report(out: Path) -> None:
    prov, records, tarp = load(out)
    lines = [f"# Compute of CCL and the baselines ({prov.get('device')}, torch {prov.get('torch')}, commit "
             f"{str(prov.get('commit'))[:12]}, {prov.get('date_utc')})", "",
             f"Random weights; bf16; measured bf16 matmul rate {prov.get('matmul_flops_per_s', 0) / 1e12:.0f} TFLOP/s "
             "(the MFU denominator). Train = forward + backward (no optimiser), batch 1. Step times: CUDA events, median "
             "after warm-up. FLOPs: torch's counter (checked against the analytic count: `check`). "
             "Interaction share: (step - `none`'s step) / step.", ""]
    for key, title in (("train", "Training step"), ("sample", "Sampling (one guided step, all passes batched)")):
        rows = [r for r in records if r["mode"] == key]
        if not rows:
            continue
        lines += [f"## {title}", "", "| scale | model | audio tok | guidance | params (B) | TFLOP fwd | check | step ms | "
                  "peak GB | MFU | interaction share (fwd) | passes | NFE/clip | s/clip |", "|" + "---|" * 14]
        lines += [row(r) for r in rows]
        lines.append("")
    if tarp:
        lines += ["## TARP partitioned vs dense cross-attention (video queries over audio keys + 16 LCT)", "",
                  "| video tokens | audio tokens | window | kind | ms | GFLOP |", "|---|---|---|---|---|---|"]
        lines += [f"| {t['video_tokens']} | {t['audio_tokens']} | {t['window_tokens']} | {t['kind']} | {t['ms']:.3f} | "
                  f"{t['flops'] / 1e9:.1f} |" for t in tarp]
        lines.append("")
    ckpt = sorted({r["model"] for r in records if r.get("checkpointing")})
    if ckpt:
        lines += [f"Activation checkpointing (every layer) was needed to fit one 80 GB card for: {', '.join(ckpt)} "
                  "(their step recomputes the forward, so their MFU counts 3x the forward's FLOPs against ~4x the work).", ""]
    lines += ["## Floors", ""] + [f"- {c}" for c in floors(records)]
    (out / "compute.md").write_text("\n".join(lines) + "\n")
    plot(records, out / "compute.png")
    print("\n".join(lines))


def row(r: dict) -> str:
    pct = lambda x: "-" if x is None else f"{x:.1%}"  # noqa: E731
    head = (f"| {r['scale']} | {r['model']} | {r['audio_tokens']} | {r.get('guidance') or '-'} | "
            f"{r['params']['total'] / 1e9:.2f} |")
    if r.get("status") == "oom":
        return head + " | | out of memory | | | | | | |"
    ckpt = " (ckpt)" if r.get("checkpointing") else ""
    per_clip = (f"{r['passes_per_step']} | {r['nfe_per_clip']} | {r['sec_per_clip']:.1f} |" if r.get("sec_per_clip")
                else "- | - | - |")
    mem = "-" if r.get("peak_mem_gb") is None else f"{r['peak_mem_gb']:.1f}"
    share = pct(r.get("interaction_share")) + (f" ({pct(r['interaction_share_fwd'])})" if "interaction_share_fwd" in r else "")
    return (f"{head} {r['flops_fwd'] / 1e12:.1f} | {r['flops_check']:.3f} | {r['step_ms']:.1f}{ckpt} | "
            f"{mem} | {pct(r.get('mfu'))} | {share} | {per_clip}")


def floors(records: list[dict]) -> list[str]:
    """The issue's floors, each stated with the measured numbers and PASS / FAIL."""
    out = []
    train = {r["model"]: r for r in records if r["mode"] == "train" and r["scale"] == "wan-1.3b"
             and r["audio_tokens"] < 500 and "mfu" in r}
    for m in ("none", "ccl"):
        if m in train:
            r = train[m]
            ok = r["mfu"] >= 0.5 and not r.get("checkpointing")
            out.append(f"training MFU of {m} at wan-1.3b >= 50%: {r['mfu']:.1%}"
                       f"{' (with activation checkpointing)' if r.get('checkpointing') else ''} -> {'PASS' if ok else 'FAIL'}")
    if "ccl" in train and "gated" in train:
        c, g = train["ccl"], train["gated"]
        if c.get("interaction_share") is not None and g.get("interaction_share") is not None:
            cs, gs, what = c["interaction_share"], g["interaction_share"], "of the training step"
        else:  # a step needed activation checkpointing and `none`'s did not: compare the forward passes
            cs, gs, what = c["interaction_share_fwd"], g["interaction_share_fwd"], "of the forward pass"
        out.append(f"CCL interaction share {what} <= 1.1 x gated's: {cs:.1%} vs {gs:.1%} (limit {1.1 * gs:.1%}) -> "
                   f"{'PASS' if cs <= 1.1 * gs else 'FAIL'}")
    nfe = {r["guidance"]: r["nfe_per_clip"] for r in records if r["mode"] == "sample" and r["model"] == "ccl"
           and r.get("nfe_per_clip")}
    if "ucg" in nfe and "ltx2" in nfe:
        out.append(f"ucg NFE per clip <= 2/3 of ltx2's: {nfe['ucg']} vs {nfe['ltx2']} -> "
                   f"{'PASS' if nfe['ucg'] <= 2 / 3 * nfe['ltx2'] else 'FAIL'}")
    return out


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r["mode"] == "train" and r["scale"] == "wan-1.3b" and r["audio_tokens"] < 500
             and "step_ms" in r]
    sample = [r for r in records if r["mode"] == "sample" and r["scale"] == "wan-1.3b" and "sec_per_clip" in r]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    if train:
        names = [r["model"] for r in train]
        ax[0].bar(names, [r["step_ms"] for r in train], color=["C3" if n == "ccl" else "C0" for n in names])
        for i, r in enumerate(train):
            ax[0].text(i, r["step_ms"], f"MFU {r.get('mfu', 0):.0%}", ha="center", va="bottom", fontsize=8)
        ax[0].set_ylabel("forward + backward (ms)")
        ax[0].set_title("wan-1.3b training step, 18,480 video tokens, bf16")
    if sample:
        models = list(dict.fromkeys(r["model"] for r in sample))
        width = 0.8 / len(SCHEMES)
        for j, s in enumerate(SCHEMES):
            vals = [next((r["sec_per_clip"] for r in sample if r["model"] == m and r["guidance"] == s), 0) for m in models]
            ax[1].bar([i + j * width for i in range(len(models))], vals, width, label=s)
        ax[1].set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
        ax[1].set_ylabel("seconds per clip (50 steps)")
        ax[1].set_title("wan-1.3b sampling cost by guidance scheme")
        ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/compute")
    ap.add_argument("--scale", default="wan-1.3b")
    ap.add_argument("--clip", default="352x640x5s")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-14b", action="store_true")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    if args.plot_only:
        return report(Path(args.out))
    run(args)


if __name__ == "__main__":
    main()
