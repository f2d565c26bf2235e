"""The compute matrix of CCL and the baselines at Wan scale (random weights), and the floors of
issue 12 (Deliver 5) checked, each printed PASS / FAIL / unavailable:

1. `train`: wan-1.3b training step (forward + backward + AdamW), bf16, batch 1, a 352x640 5 s clip
   (18,480 video tokens, 157 audio tokens): ccl, gated, ovi, ltx2, joint, none. A model that does not
   fit is retried with selective activation checkpointing (half the layers), then every layer;
2. `sample`: one guided step of every model under every controlled scheme (ucg, ucg-joint, cfg, ltx2),
   plus `ovi-native` for ovi and `ltx2-native` for ltx2, 50 steps a clip;
3. `audio1000`: training with 1,000 audio tokens (an audio latent at 200 Hz): ccl, gated, none;
4. `tarp` (run first): TARP's windowed cross-attention on each path against dense attention, 157 and
   1,000 audio tokens, both directions;
5. `14b`: wan-14b (ccl, gated, none; train and ucg sampling) measured on the first `--layers-14b` layers
   and extrapolated linearly to its 40 (stated in every such row: `extrapolated_from_layers`).

`--compile` (default on a GPU) runs each model with compiled regions (`DualStreamModel.compile_blocks`);
a model whose compilation fails is measured eagerly and the row says so. One run writes three files:
`OUT/records-<groups>.json` (every record of the run + provenance), `OUT/compute.md` (tables, floors)
and `OUT/compute.png`, all rewritten after each group (a run cut short keeps what it measured).
`--groups` runs some groups (several commands can fill one folder: the tables read every JSON there);
`--schemes` limits the sampling schemes; `--budget-s` starts no new measurement after that many seconds
(each model's records are written as soon as they are measured); `--plot-only` re-renders from the
JSON files of a folder.

    python benchmarks/compute.py --out results/compute
    python benchmarks/compute.py --scale tiny --groups train,sample --out /tmp/c   # CPU smoke run
    python benchmarks/compute.py --groups tarp,sample --models ccl,joint,none --schemes ucg --no-compile --out /tmp/c
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

MODELS = ["ccl", "gated", "ovi", "ltx2", "joint", "none"]
SCHEMES = ["ucg", "ucg-joint", "cfg", "ltx2"]
NATIVE = {"ovi": "ovi-native", "ltx2": "ltx2-native"}  # each baseline's own recipe, beside the controlled ones
GROUPS = ("tarp", "train", "sample", "audio1000", "14b")


def provenance() -> dict:
    from ccl_bench.provenance import provenance as common

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return common(0, {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device,
                      "weights": "random (seed 0 inputs; parameters from each module's default initialisation)",
                      "cuda_allocator": os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or "default"},
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
    compile_blocks = args.compile if args.compile is not None else device == "cuda"
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    bad = sorted(set(groups) - set(GROUPS))
    if bad:
        raise SystemExit(f"--groups: unknown {', '.join(bad)} (known: {', '.join(GROUPS)})")
    schemes = [x.strip() for x in args.schemes.split(",") if x.strip()] if args.schemes else None
    t0 = time.time()
    path = out / f"records-{'-'.join(g for g in GROUPS if g in groups)}.json"  # one file per run (transfer limits)
    done: list[dict] = []

    def group(name: str, records: list[dict]) -> None:
        """Keep a group's (or one model's) records: the run's file and the tables rewritten."""
        for r in records:
            r["group"] = name
        done.extend(records)
        add_interaction_shares([r for r in done if "model" in r])  # against `none` wherever it was measured
        path.write_text(json.dumps({"provenance": prov, "records": done}, indent=1))
        print(f"[{time.time() - t0:5.0f} s] {name}: {len(records)} records", flush=True)
        report(out, quiet=True)

    def in_budget(what: str) -> bool:
        """--budget-s: start no new measurement after this many seconds (a device call has a hard limit)."""
        if args.budget_s and time.time() - t0 > args.budget_s:
            print(f"[{time.time() - t0:5.0f} s] {what}: not started (--budget-s {args.budget_s:g} spent)", flush=True)
            return False
        return True

    def profile(model, scale, mode, **kw):
        kw = {"device": device, "clip": clip, "matmul_flops": rate, "repeats": args.repeats, **kw}
        if not compile_blocks:
            return profile_model(model, scale, mode, **kw)
        try:
            return profile_model(model, scale, mode, compile_blocks=True, **kw)
        except Exception as exc:  # noqa: BLE001 - a compiler fault: measure eagerly and say so in the row
            recs = profile_model(model, scale, mode, **kw)
            for r in recs:
                r["compile_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return recs

    def measure(model, scale, mode, **kw):
        recs = profile(model, scale, mode, **kw)
        for fraction in (0.5, True):  # selective activation checkpointing, then every layer
            if mode != "train" or not any(r.get("status") == "oom" for r in recs):
                break
            recs = profile(model, scale, mode, checkpointing=fraction, **kw)
        for r in recs:
            print("   ", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                         if k in ("model", "guidance", "step_ms", "mfu", "peak_mem_gb", "status", "checkpointing",
                                  "compiled", "compile_error")}, flush=True)
        return recs

    scale = args.scale
    models = [m.strip() for m in args.models.split(",")]
    if "tarp" in groups:  # first: the shortest, so a run cut short still has it
        small = {} if device == "cuda" else {"video_tokens_grid": (21, 2, 2), "heads": 2, "head_dim": 16,
                                             "dtype": torch.float32, "repeats": 1}  # a CPU smoke run
        group("tarp-attention", tarp_attention_bench(device=device, **small))
    for m in models if "train" in groups else []:
        if in_budget(f"train {m}"):
            group(f"{scale}-train", measure(m, scale, "train"))
    for m in models if "sample" in groups else []:
        if in_budget(f"sample {m}"):
            group(f"{scale}-sample", measure(m, scale, "sample", steps=args.steps,
                                             guidance=schemes or SCHEMES + ([NATIVE[m]] if m in NATIVE else [])))
    for m in [m for m in ("ccl", "gated", "none") if m in models] if "audio1000" in groups else []:
        if in_budget(f"audio1000 {m}"):
            recs = measure(m, scale, "train", audio_rate=200.0)
            for r in recs:
                r["variant"] = "1000-audio-tokens"  # not the default clip's row (claims read the default first)
            group(f"{scale}-train-1000-audio-tokens", recs)
    if "14b" in groups and in_budget("14b"):
        layers, full = args.layers_14b, 40
        recs = [r for m in ("ccl", "gated", "none") if m in models
                for mode, kw in (("train", {}), ("sample", {"guidance": ["ucg"], "steps": args.steps}))
                for r in measure(m, "wan-14b", mode, overrides={"layers": layers}, **kw)]
        from reference_impl import parameter_counts

        for r in recs:
            r.update(extrapolated_from_layers=layers, layers=full, scale="wan-14b",
                     params=parameter_counts(r["model"], "wan-14b"), peak_mem_gb_measured=r.get("peak_mem_gb"),
                     peak_mem_gb=None)  # the memory of 40 layers was not measured
            if "step_ms" in r:  # the blocks are identical, so time and FLOPs grow with the depth; MFU stays
                r["step_ms_measured"] = r["step_ms"]
                r["step_ms"] *= full / layers
                for key in ("flops_fwd", "flops_fwd_analytic", "flops_guided_step"):
                    if key in r:
                        r[key] *= full / layers
                if r.get("sec_per_clip"):
                    r["sec_per_clip"] *= full / layers
        group("wan-14b", recs)
    report(out)


def _record_key(r: dict) -> tuple:
    """What one measurement is of: a later run's record of the same thing replaces an earlier one."""
    if "kind" in r:  # TARP attention: `auto (<path>)` is one measurement whichever path the rule took
        return ("tarp", r.get("direction"), r["kind"].split(" ")[0], r.get("query_tokens"), r.get("key_tokens"))
    # The clip variant is in the token counts (older runs did not name it).
    return (r.get("scale"), r.get("model"), r.get("mode"), r.get("guidance"), r.get("video_tokens"), r.get("audio_tokens"),
            r.get("extrapolated_from_layers"))


def load(out: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(provenance of each run kept, model records, TARP attention records) of every JSON in `out`. Runs are
    taken oldest first by their provenance date, so where two runs measured the same thing the newer one stands;
    a run whose every record was replaced is dropped from the provenance list."""
    runs = []
    for f in out.glob("*.json"):
        d = json.loads(f.read_text())
        if isinstance(d, dict) and isinstance(d.get("records"), list):
            runs.append((str((d.get("provenance") or {}).get("date_utc")), f.name, d))
    latest: dict[tuple, tuple[int, dict]] = {}
    for i, (_, _, d) in enumerate(sorted(runs, key=lambda t: t[:2])):
        commit = str((d.get("provenance") or {}).get("commit"))[:12]
        for r in d["records"]:
            latest[_record_key(r)] = (i, {**r, "commit": commit})
    ordered = sorted(runs, key=lambda t: t[:2])
    used = sorted({i for i, _ in latest.values()})
    provs = [{**(ordered[i][2].get("provenance") or {}), "file": ordered[i][1]} for i in used]
    kept = [r for _, r in latest.values()]
    return provs, [r for r in kept if "kind" not in r], [r for r in kept if "kind" in r]


def report(out: Path, quiet: bool = False) -> None:
    provs, records, tarp = load(out)
    prov = provs[-1] if provs else {}
    rates = ", ".join(f"{p.get('matmul_flops_per_s', 0) / 1e12:.0f}" for p in provs)
    lines = [f"# Compute of CCL and the baselines ({prov.get('device')})", "",
             "Runs (where two measured the same thing, the newer row stands):", "",
             *[f"- `{p['file']}`: commit {str(p.get('commit'))[:12]}, {p.get('date_utc')}, {p.get('device')}, torch "
               f"{p.get('torch') or (p.get('versions') or {}).get('torch')}: `{p.get('command')}`" for p in provs], "",
             f"Random weights; bf16; each run's own measured bf16 matmul rate ({rates} TFLOP/s, in the order above) "
             "is the MFU denominator of its rows (MFU = model FLOPs / step time, training counting 3x the forward). "
             "Train = forward + backward + AdamW, batch 1. Step times: CUDA events, median after warm-up. "
             "FLOPs: torch's counter (checked against the analytic count: `check`). "
             "Time share: (step - `none`'s step) / step; FLOP share: the "
             "interaction's analytic FLOPs / the model's. `(c)`: compiled regions; `(ckpt p)`: activation checkpointing "
             "of a fraction p of the layers. wan-14b rows marked `extrap. from k layers` were measured on the first k "
             "layers and scaled to 40.", ""]
    for key, title in (("train", "Training step"), ("sample", "Sampling (one guided step, all passes batched)")):
        rows = [r for r in records if r["mode"] == key]
        if not rows:
            continue
        lines += [f"## {title}", "", "| scale | model | audio tok | scheme | params (B) | interaction params (M) | TFLOP fwd "
                  "| check | step ms | peak GB | MFU | time share (fwd) | FLOP share | passes | NFE/clip | s/clip |",
                  "|" + "---|" * 16]
        lines += [row(r) for r in rows]
        lines.append("")
    if tarp:
        lines += ["## TARP's windowed cross-attention on each path vs dense (queries over the partner + 16 LCT)", "",
                  "Device time per call: each path compiled as one region (as inside the model's compiled blocks; "
                  "`(eager)`: compiling failed or the row predates it), 20 calls captured as one CUDA graph and replayed "
                  "(so a path whose host work outlasts its kernels is timed by its kernels, as inside a model; `(queued)`: "
                  "capture failed, the calls were queued back to back instead). `varlen`: one variable-length flash call, "
                  "each run of queries sharing a window (a video frame) a sequence over its packed keys (LCT, then the window); "
                  "`flex`: one FlexAttention call with a block mask; "
                  "`gather`: per group on gathered keys; `dense-masked`: one call with the windows as a mask; `auto`: "
                  "the path the model takes without gradients (sampling); `dense`: every partner token, no mask (the flash "
                  "kernel). GFLOP: the scores each path computes. Where gradients flow, a flex plan with fewer than 16 key "
                  "blocks (video queries over up to ~2,000 audio tokens) trains on the gather path instead: FlexAttention's "
                  "backward would walk every query block in a few programs.", "",
                  "| queries | video tokens | audio tokens | window | kind | ms | GFLOP | max rel. error vs reference |",
                  "|---|---|---|---|---|---|---|---|"]
        timed, grads = [t for t in tarp if "ms" in t], [t for t in tarp if "ms" not in t]
        err = lambda t: "-" if t.get("max_rel_error") is None else f"{t['max_rel_error']:.1e}"  # noqa: E731
        queued = lambda t: " (queued)" if t.get("timing") == "queued" else ""  # noqa: E731
        lines += [f"| {t.get('direction', 'video')} | {t['video_tokens']} | {t['audio_tokens']} | {t['window_tokens']} | "
                  f"{t['kind']}{' (unfused: compile failed)' if t.get('flex_unfused') else ''}{queued(t)}"
                  f"{'' if t.get('compiled') else ' (eager)'} | {t['ms']:.3f} | {t['flops'] / 1e9:.1f} | {err(t)} |"
                  for t in timed]
        if grads:
            lines += ["", "Training's case on each path with a backward (two examples, one without its partner): the "
                      "largest relative error of the gradients (queries, keys, values, LCT) against the masked reference "
                      "in float32, on the same bf16 inputs, and the device time of forward + backward.", "",
                      "| queries | audio tokens | path | forward + backward ms | max rel. error |", "|---|---|---|---|---|"]
            lines += [f"| {t['direction']} | {t['audio_tokens']} | {t['kind'][5:]}{queued(t)} "
                      f"| {t.get('train_ms', float('nan')):.3f} | "
                      f"{err(t)} |" for t in grads]
        unfused = sorted({t["flex_unfused"] for t in tarp if t.get("flex_unfused")})
        if unfused:
            lines += ["", f"FlexAttention ran unfused (its compilation failed): {'; '.join(unfused)}."]
        lines.append("")
    ckpt = sorted({r["model"] for r in records if r.get("checkpointing")})
    if ckpt:
        lines += [f"Activation checkpointing was needed to fit one 80 GB card for: {', '.join(ckpt)} "
                  "(their step recomputes part of the forward: the recomputation counts as it costs, MFU still counts "
                  "3x the forward's FLOPs).", ""]
    failed = sorted({f"{r['model']} ({r['compile_error']})" for r in records if r.get("compile_error")})
    if failed:
        lines += [f"Compilation failed, measured eagerly: {'; '.join(failed)}.", ""]
    lines += ["## Floors (issue 12, Deliver 5)", ""] + [f"- {c}" for c in floors(records, tarp)]
    (out / "compute.md").write_text("\n".join(lines) + "\n")
    plot(records, out / "compute.png")
    if not quiet:
        print("\n".join(lines))


def row(r: dict) -> str:
    pct = lambda x: "-" if x is None else f"{x:.1%}"  # noqa: E731
    scale = r["scale"] + (f" (extrap. from {r['extrapolated_from_layers']} layers)" if r.get("extrapolated_from_layers") else "")
    head = (f"| {scale} | {r['model']} | {r['audio_tokens']} | {r.get('guidance') or '-'} | "
            f"{r['params']['total'] / 1e9:.2f} | {r['params']['interaction'] / 1e6:.1f} |")
    if r.get("status") == "oom":
        return head + " | | out of memory | | | | | | | |"
    marks = (" (c)" if r.get("compiled") else "") + (f" (ckpt {r['checkpointing']})" if r.get("checkpointing") else "")
    per_clip = (f"{r['passes_per_step']} | {r['nfe_per_clip']} | {r['sec_per_clip']:.1f} |" if r.get("sec_per_clip")
                else "- | - | - |")
    mem = "-" if r.get("peak_mem_gb") is None else f"{r['peak_mem_gb']:.1f}"
    share = pct(r.get("interaction_share")) + (f" ({pct(r['interaction_share_fwd'])})" if "interaction_share_fwd" in r else "")
    return (f"{head} {r['flops_fwd'] / 1e12:.1f} | {r['flops_check']:.3f} | {r['step_ms']:.1f}{marks} | "
            f"{mem} | {pct(r.get('mfu'))} | {share} | {pct(r.get('flop_share'))} | {per_clip}")


def verdict(ok: bool | None) -> str:
    return "PASS" if ok else "FAIL"


def floors(records: list[dict], tarp: list[dict] | None = None) -> list[str]:
    """Deliver 5's floors at wan-1.3b (157 audio tokens), each with the measured numbers and PASS / FAIL,
    or `unavailable` with the reason when its rows were not measured."""
    out = []
    rows = [r for r in records if r["scale"] == "wan-1.3b" and r["audio_tokens"] < 500 and "mfu" in r]
    train = {r["model"]: r for r in rows if r["mode"] == "train"}
    for models, floor in ((("none",), 0.50), (("ccl", "gated"), 0.45)):
        for m in models:
            if m not in train:
                out.append(f"training step MFU of {m} >= {floor:.0%}: unavailable (no wan-1.3b train row)")
                continue
            r = train[m]
            how = f" (activation checkpointing {r['checkpointing']})" if r.get("checkpointing") else ""
            out.append(f"training step MFU of {m} >= {floor:.0%}: {r['mfu']:.1%}{how} -> {verdict(r['mfu'] >= floor)}")
    sample = [r for r in rows if r["mode"] == "sample"]
    if not sample:
        out.append("sampling step MFU >= 50% for every model: unavailable (no wan-1.3b sample rows)")
    for m in dict.fromkeys(r["model"] for r in sample):
        worst = min((r for r in sample if r["model"] == m), key=lambda r: r["mfu"])
        out.append(f"sampling step MFU of {m} >= 50% (every scheme; lowest: {worst['guidance']}, measured at commit "
                   f"{worst.get('commit', '?')}): {worst['mfu']:.1%} "
                   f"-> {verdict(worst['mfu'] >= 0.5)}")
    c = train.get("ccl")
    if c is None or c.get("interaction_share") is None:
        out.append("CCL's time share over none <= 1.2 x its FLOP share: unavailable (needs ccl and none train rows "
                   "measured the same way)")
    else:
        ts, fs = c["interaction_share"], c["flop_share"]
        out.append(f"CCL's time share over none <= 1.2 x its FLOP share: {ts:.1%} vs {fs:.1%} (limit {1.2 * fs:.1%}) -> "
                   f"{verdict(ts <= 1.2 * fs)}")
    nfe = {r["guidance"]: r["nfe_per_clip"] for r in records if r["mode"] == "sample" and r["model"] == "ccl"
           and r.get("nfe_per_clip")}
    if "ucg" in nfe and "ltx2" in nfe:
        out.append(f"ucg NFE per clip <= 2/3 of ltx2's: {nfe['ucg']} vs {nfe['ltx2']} -> "
                   f"{verdict(nfe['ucg'] <= 2 / 3 * nfe['ltx2'])}")
    # TARP: the model's automatic path against plain dense attention, for the video queries alone and per layer
    # (both ways: video queries over audio, audio queries over video; score matrices of one size).
    rows = {(t.get("direction", "video"), t["audio_tokens"], t["kind"].split(" ")[0]): t for t in tarp or [] if "ms" in t}
    for na in sorted({na for d, na, _ in rows if d == "video"}):
        if ("video", na, "auto") not in rows or ("video", na, "dense") not in rows:
            continue
        auto, d = rows[("video", na, "auto")], rows[("video", na, "dense")]["ms"]
        a, path = auto["ms"], auto["kind"].partition(" ")[2].strip("()") or "?"
        if na >= 1000:
            out.append(f"TARP partitioned (automatic path: {path}) faster than dense at {na} audio tokens: {a:.3f} vs "
                       f"{d:.3f} ms -> {verdict(a < d)}")
        out.append(f"TARP's automatic path ({path}) at most as slow as dense at {na} audio tokens: {a:.3f} vs {d:.3f} ms "
                   f"-> {verdict(a <= 1.05 * d)} (5% timing tolerance)")
    for na in sorted({na for _, na, _ in rows}):
        if not all((d, na, k) in rows for d in ("video", "audio") for k in ("auto", "dense")):
            continue
        a = rows[("video", na, "auto")]["ms"] + rows[("audio", na, "auto")]["ms"]
        d = rows[("video", na, "dense")]["ms"] + rows[("audio", na, "dense")]["ms"]
        out.append(f"TARP per layer (video + audio queries, automatic paths) at most as slow as dense at {na} audio "
                   f"tokens: {a:.3f} vs {d:.3f} ms -> {verdict(a <= 1.05 * d)} (5% timing tolerance)")
        if na >= 1000:
            out.append(f"TARP per layer (video + audio queries, automatic paths) faster than dense at {na} audio "
                       f"tokens: {a:.3f} vs {d:.3f} ms -> {verdict(a < d)}")
    if not any(r["scale"] == "wan-14b" for r in records):
        out.append("wan-14b rows: unavailable (group 14b not run)")
    return out


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = "wan-1.3b" if any(r["scale"] == "wan-1.3b" for r in records) else (records[0]["scale"] if records else "")
    train = [r for r in records if r["mode"] == "train" and r["scale"] == scale and r["audio_tokens"] < 500
             and "step_ms" in r]
    sample = [r for r in records if r["mode"] == "sample" and r["scale"] == scale and "sec_per_clip" in r
              and r["guidance"] in SCHEMES]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    if train:
        names = [r["model"] for r in train]
        ax[0].bar(names, [r["step_ms"] for r in train], color=["C3" if n == "ccl" else "C0" for n in names])
        for i, r in enumerate(train):
            ax[0].text(i, r["step_ms"], f"MFU {r.get('mfu', 0):.0%}", ha="center", va="bottom", fontsize=8)
        ax[0].set_ylabel("forward + backward + AdamW (ms)")
        ax[0].set_title(f"{scale} training step, bf16")
    if sample:
        models = list(dict.fromkeys(r["model"] for r in sample))
        width = 0.8 / len(SCHEMES)
        for j, s in enumerate(SCHEMES):
            vals = [next((r["sec_per_clip"] for r in sample if r["model"] == m and r["guidance"] == s), 0) for m in models]
            ax[1].bar([i + j * width for i in range(len(models))], vals, width, label=s)
        ax[1].set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
        ax[1].set_ylabel("seconds per clip (50 steps)")
        ax[1].set_title(f"{scale} sampling cost by guidance scheme")
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
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"some of {', '.join(GROUPS)}")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--schemes", default=None, help=f"sampling schemes (default: {', '.join(SCHEMES)} and each "
                    "baseline's native one)")
    ap.add_argument("--layers-14b", type=int, default=4, help="wan-14b layers measured (the rows extrapolate to 40)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="compiled regions (default: on a GPU)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="start no new measurement after this many seconds (what was measured is kept)")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    if args.plot_only:
        return report(Path(args.out))
    run(args)


if __name__ == "__main__":
    main()
