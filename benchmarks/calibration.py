"""The calibration record: every metric on the av-sync suite's own clips (native and tiny renderings)
across the perturbation ladder (aligned; audio offsets of +-40, 80, 160, 320 and 640 ms; audio swapped
with another clip's by a seeded derangement; frozen video; silence; white noise), with intervals, a plot of each metric
against the offset, and the calibration of sync-offset's confidence threshold (aligned clips against
mismatched pairs).

    python benchmarks/calibration.py --renderings native:16,tiny:32 --out results/calibration

Writes `calibration.json` (provenance included), `calibration.md` and `calibration_offsets.png` under
`--out`. Distribution metrics (FVD, KVD, FAD, ...) are measured against the aligned clips of the same
rendering; without their weights they are recorded as unavailable with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from ccl_bench.evaluate import evaluate
from ccl_bench.io import AVClip, write_clip
from ccl_bench.metrics import METRICS, Context, sync_confidence_threshold
from ccl_bench.metrics.score import mismatched_pairs
from ccl_bench.metrics.sync import confidence
from ccl_bench.suites import build_suite, load_suite

OFFSETS_MS = (40, 80, 160, 320, 640)


def ladder(offsets_ms=OFFSETS_MS) -> dict[str, dict | None]:
    """Rung name -> perturbation (None: aligned; `noise`: white noise clips, made here)."""
    rungs: dict[str, dict | None] = {"aligned": None}
    for ms in offsets_ms:
        for sign in (-1, 1):
            rungs[f"offset={sign * ms:+d}ms"] = {"kind": "offset", "seconds": sign * ms / 1000}
    rungs.update({"swap": {"kind": "swap"}, "freeze": {"kind": "freeze"}, "silence": {"kind": "silence"},
                  "noise": {"kind": "noise"}})
    return rungs


def offset_of(rung: str) -> int | None:
    """`offset=-40ms` -> -40; `aligned` -> 0; other rungs -> None."""
    if rung == "aligned":
        return 0
    return int(rung[len("offset="):-2]) if rung.startswith("offset=") else None


def write_noise(spec, out: Path, rendering: str, num: int, seed: int) -> Path:
    """`num` clips of uniform random frames and white noise (std 0.1) in the rendering's shapes."""
    r = spec.rendering(rendering)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(num):
        rng = np.random.default_rng([seed, i, 0x9015E])
        video = rng.integers(0, 256, (r.num_frames, r.height, r.width, 3), dtype=np.uint8)
        audio = np.clip(0.1 * rng.standard_normal((r.channels, r.num_samples)), -1, 1).astype(np.float32)
        write_clip(AVClip(video, r.fps, audio, r.sample_rate), out / f"noise-{i:04d}.{r.format}")
    return out


def confidence_calibration(per_clip_sync: list[dict], set_size: int, draws: int = 200, seed: int = 0) -> dict:
    """sync-offset's confidence (peak - median of the mean curve) of `draws` sets of `set_size` aligned clips
    and of `draws` sets of `set_size` mismatched pairs, drawn from one aligned clip set -> percentiles
    and the midpoint between the pairs' 99th and the clips' 1st percentile."""
    m = METRICS["sync-offset"]
    ctx = Context()
    n = len(per_clip_sync)
    own = m.clip_states(per_clip_sync, ctx)
    pairs = mismatched_pairs(n, seed)
    kept: dict = {}
    rng = np.random.default_rng([seed, 0xCA1])
    size = min(set_size, n)

    def conf(states) -> float | None:
        merged = m.merge(states)
        return confidence(merged.curve / merged.clips) if merged.clips else None

    def pair(i, j):
        if (i, j) not in kept:
            kept[(i, j)] = m.state(per_clip_sync[i], per_clip_sync[j], None, None, ctx)
        return kept[(i, j)]

    aligned = [conf([own[i] for i in rng.choice(n, size, replace=False)]) for _ in range(draws)]
    mismatched = [conf([pair(*pairs[k]) for k in rng.choice(len(pairs), size, replace=False)]) for _ in range(draws)]
    aligned = np.array([c for c in aligned if c is not None])
    mismatched = np.array([c for c in mismatched if c is not None])
    pct = (1, 5, 50, 95, 99)
    out = {"set_size": size, "draws": draws,
           "aligned_percentiles": dict(zip(map(str, pct), np.percentile(aligned, pct).tolist(), strict=True)),
           "mismatched_percentiles": dict(zip(map(str, pct), np.percentile(mismatched, pct).tolist(), strict=True))}
    out["separating_midpoint"] = (out["aligned_percentiles"]["1"] + out["mismatched_percentiles"]["99"]) / 2
    need = sync_confidence_threshold(size)
    out["threshold_in_use"] = need
    out["aligned_below_threshold"] = float(np.mean(aligned < need))
    out["mismatched_at_or_above_threshold"] = float(np.mean(mismatched >= need))
    return out


def run_calibration(renderings: dict[str, int], work: Path, offsets_ms=OFFSETS_MS, bootstrap: int = 200, seed: int = 0,
                    metrics: list[str] | None = None, show_progress: bool = False) -> dict:
    """Build every rung of every rendering under `work`, evaluate it -> the record (without provenance)."""
    spec = load_suite("av-sync")
    record: dict = {"suite": spec.name, "split": "test", "seed": seed, "bootstrap": bootstrap, "offsets_ms": list(offsets_ms),
                    "renderings": {}}
    cache = work / "cache"
    for rendering, num in renderings.items():
        rungs = ladder(offsets_ms)
        base = work / rendering
        out: dict = {"clips": num, "rungs": {}}
        for rung, pert in rungs.items():
            d = base / rung
            if pert is not None and pert["kind"] == "noise":
                write_noise(spec, d, rendering, num, seed)
            else:
                build_suite(spec, d, split="test", rendering=rendering, num=num, seed=seed, perturbation=pert,
                            show_progress=show_progress)
            res, pred, _ = evaluate(d, base / "aligned", metrics=metrics, cache_dir=cache, bootstrap=bootstrap, seed=seed,
                                    show_progress=show_progress, details=True)
            out["rungs"][rung] = {"offset_ms": offset_of(rung), "perturbation": pert, "metrics": res["metrics"]}
            if rung == "aligned" and "sync" in pred.results:
                out["sync_confidence"] = confidence_calibration(pred.results["sync"], min(16, num), seed=seed)
            print(f"{rendering} {rung}: " + ", ".join(f"{k} {v['value']:.3g}" for k, v in res["metrics"].items()
                                                       if "value" in v and k.endswith("-cc")))
        record["renderings"][rendering] = out
    return record


def _cell(e: dict) -> str:
    if "value" not in e:
        return "unavailable"
    ci = e.get("ci95")
    return f"{e['value']:.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else "")


def markdown(record: dict, provenance: dict | None = None) -> str:
    lines = [f"# Calibration record: {record['suite']} ({record['split']} split, seed {record['seed']}, "
             f"{record['bootstrap']} bootstrap replicates)", ""]
    for rendering, r in record["renderings"].items():
        rungs = list(r["rungs"])
        names = list(next(iter(r["rungs"].values()))["metrics"])
        lines += [f"## {rendering} ({r['clips']} clips per rung)", "", "value [95% CI]; unavailable where the metric "
                  "has no value (the reason is in calibration.json)", "",
                  "| metric | " + " | ".join(rungs) + " |", "|---|" + "---|" * len(rungs)]
        for n in names:
            lines.append(f"| {n} | " + " | ".join(_cell(r["rungs"][g]["metrics"][n]) for g in rungs) + " |")
        reasons = {(n, r["rungs"][g]["metrics"][n]["reason"]) for g in rungs for n in names
                   if "reason" in r["rungs"][g]["metrics"][n]}
        if reasons:
            lines += ["", "Unavailable: " + "; ".join(f"{n}: {why}" for n, why in sorted(reasons))]
        if "sync_confidence" in r:
            c = r["sync_confidence"]
            lines += ["", f"sync-offset confidence of sets of {c['set_size']} ({c['draws']} draws each): aligned clips "
                      f"1st/50th percentile {c['aligned_percentiles']['1']:.3f} / {c['aligned_percentiles']['50']:.3f}; "
                      f"mismatched pairs 50th/99th {c['mismatched_percentiles']['50']:.3f} / "
                      f"{c['mismatched_percentiles']['99']:.3f}; threshold in use {c['threshold_in_use']:.3g} (aligned sets "
                      f"below it: {c['aligned_below_threshold']:.1%}, mismatched sets at or above: "
                      f"{c['mismatched_at_or_above_threshold']:.1%})."]
        lines.append("")
    if provenance:
        from ccl_bench.tables import provenance_line

        lines.append(provenance_line(provenance))
    return "\n".join(lines) + "\n"


def offset_series(record: dict, rendering: str, metric: str) -> tuple[list[int], list[float | None], list]:
    """(offsets ms ascending, values, [lo, hi] or None) of one metric along the offset rungs."""
    rungs = record["renderings"][rendering]["rungs"]
    pts = sorted((g["offset_ms"], g["metrics"].get(metric, {})) for g in rungs.values() if g["offset_ms"] is not None)
    return [p[0] for p in pts], [p[1].get("value") for p in pts], [p[1].get("ci95") for p in pts]


def offsets_figure(record: dict, metrics: list[str]):
    from ccl_bench.plots import _plt

    plt = _plt()
    cols = 3
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, metrics, strict=False):
        for rendering in record["renderings"]:
            x, y, ci = offset_series(record, rendering, name)
            keep = [i for i, v in enumerate(y) if v is not None]
            if not keep:
                continue
            xs, ys = np.array(x)[keep], np.array(y, float)[keep]
            err = np.array([[ys[k] - ci[i][0], ci[i][1] - ys[k]] if ci[i] else [0, 0] for k, i in enumerate(keep)]).T
            ax.errorbar(xs, ys, yerr=np.clip(err, 0, None), marker="o", ms=3, capsize=2, label=rendering)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("audio offset (ms; positive: sound late)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.axvline(0, color="0.8", lw=0.5)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle("av-sync suite: each metric against the audio offset (95% intervals)", fontsize=9)
    return fig


def plotted_metrics(record: dict) -> list[str]:
    """Metrics with a value on some offset rung of some rendering."""
    names: list[str] = []
    for r in record["renderings"].values():
        for g in r["rungs"].values():
            if g["offset_ms"] is None:
                continue
            names += [n for n, e in g["metrics"].items() if "value" in e and n not in names]
    return names


def write_record(record: dict, out: Path, provenance: dict) -> list[Path]:
    from ccl_bench.paths import atomic_write, scrub
    from ccl_bench.plots import _save

    out.mkdir(parents=True, exist_ok=True)
    record = scrub({**record, "provenance": provenance})
    paths = [atomic_write(out / "calibration.json", json.dumps(record, indent=1, default=float)),
             atomic_write(out / "calibration.md", markdown(record, provenance))]
    paths.append(_save(offsets_figure(record, plotted_metrics(record)), out / "calibration_offsets.png", 120, provenance))
    return paths


def parse_renderings(text: str) -> dict[str, int]:
    out = {}
    for part in filter(None, text.split(",")):
        name, _, num = part.partition(":")
        out[name] = int(num or 16)
        if out[name] < 2:
            raise SystemExit(f"--renderings {part}: at least 2 clips per rung (swap and chance levels pair clips)")
    return out


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renderings", default="native:16,tiny:32", help="RENDERING:CLIPS per rung, comma-separated")
    ap.add_argument("--offsets", default=",".join(map(str, OFFSETS_MS)), help="offsets in ms (each also negative)")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", help="folder for the built clips and the feature cache (default: a temporary one)")
    ap.add_argument("--out", default="results/calibration")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    from ccl_bench.provenance import provenance

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ccl-calibration-"))
    offsets = tuple(int(x) for x in args.offsets.split(",") if x)
    record = run_calibration(parse_renderings(args.renderings), work, offsets, args.bootstrap, args.seed,
                             show_progress=args.progress)
    args_used = list(argv if argv is not None else sys.argv[1:])
    if "--work" in args_used:  # where the clips were built changes nothing recorded, and names this machine
        k = args_used.index("--work")
        del args_used[k : k + 2]
    prov = {**provenance(args.seed), "command": " ".join(["python", "benchmarks/calibration.py", *args_used])}
    paths = write_record(record, Path(args.out), prov)
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
