"""Step 10's quality bar, read from the claims run matrix: each trained model's T2AV samples (its own guidance
scheme, its own captions), pooled over training seeds and prompts with the claims study's hierarchical
bootstrap, against the bar the issue sets for ccl (prompt accuracy >= 0.8 for video and audio, chance-corrected
event-hit >= 0.5). Prints the table; writes `quality.md` / `quality.json` into --out.

    python benchmarks/quality_bar.py --runs results/claims/matrix --out results/training
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

# The bar (Step 10, Deliver 4): model -> metric -> the level its pooled T2AV value must reach.
BAR = {"ccl": {"prompt-accuracy-video": 0.8, "prompt-accuracy-audio": 0.8, "event-hit-cc": 0.5}}
METRICS = ("prompt-accuracy-video", "prompt-accuracy-audio", "event-hit-cc")
TASK = "t2av"


def bar_status(value: float | None, ci: tuple[float, float] | None, level: float) -> str:
    """'met' (the interval lies above the level), 'met (point only)' (the point does, the interval does not),
    'not met' (the point is below), 'unavailable'."""
    if value is None:
        return "unavailable"
    if value < level:
        return "not met"
    return "met" if ci is not None and ci[0] >= level else "met (point only)"


def estimates(runs: Path, suite: str, replicates: int) -> dict[str, dict]:
    """model -> {seeds, metric -> (value, ci, units)} from the final runs sampled with the model's own scheme; a
    model trained only as claim 6's convergence runs (no final run) from each seed's last evaluation snapshot."""
    from ccl_bench.claims import load_study
    from ccl_bench.claims.matrix import read_matrix
    from ccl_bench.claims.spec import Side
    from ccl_bench.claims.study import Study
    from ccl_bench.claims.verdict import pooled_estimate

    spec, matrix = load_study(suite), read_matrix(runs, suite)
    study = Study(spec, matrix, None)
    finals = {r.model for r in matrix.runs if r.step is None and r.seed is not None}
    snapshot_only = {r.model for r in matrix.runs if r.step is not None and r.seed is not None} - finals
    out = {}
    for model in sorted(finals | snapshot_only):
        side, last = Side(model), model in snapshot_only
        found = matrix.last_snapshots(side, spec) if last else matrix.find(side, spec)
        records = [rec for (_, _), rec in sorted(found.items()) if TASK in rec.result["tasks"]]
        if not records:
            continue
        scheme = spec.guidance_of(side) or "any"
        if last:
            scheme += f" (step {', '.join(sorted({str(rec.step) for rec in records}))} snapshot)"
        row = {"seeds": sorted({rec.seed for rec in records}), "guidance": scheme, "metrics": {},
               "commits": sorted({rec.result.get("provenance", {}).get("commit", "?")[:7] for rec in records}),
               "devices": sorted({rec.result.get("provenance", {}).get("device", "?") for rec in records})}
        for metric in METRICS:
            stats, _ = study.metric_runs(side, metric, (TASK,), last_snapshot=last)  # the claims study's statistics
            e = pooled_estimate(stats, replicates=replicates)
            row["metrics"][metric] = {"value": e.value, "ci95": list(e.ci) if e.ci else None, "units": e.units,
                                      "seeds": e.seeds}
        out[model] = row
    return out


def render(rows: dict[str, dict], command: str, replicates: int) -> str:
    def cell(m: dict) -> str:
        if m["value"] is None:
            return "unavailable"
        ci = f" [{m['ci95'][0]:.2f}, {m['ci95'][1]:.2f}]" if m["ci95"] else ""
        return f"{m['value']:.3f}{ci}"

    lines = ["| model | guidance | seeds | " + " | ".join(METRICS) + " | bar |", "|---|---|---|" + "---|" * (len(METRICS) + 1)]
    for model, row in rows.items():
        bar = BAR.get(model)
        verdicts = ", ".join(f"{k} {bar_status(row['metrics'][k]['value'], row['metrics'][k]['ci95'], v)}"
                             for k, v in bar.items()) if bar else "-"
        lines.append(f"| {model} | {row['guidance']} | {', '.join(row['seeds'])} | "
                     + " | ".join(cell(row["metrics"][k]) for k in METRICS) + f" | {verdicts} |")
    return "\n".join([
        "# Quality bar: each trained model's T2AV samples", "",
        "Pooled over training seeds and the 32 test prompts of each run (hierarchical bootstrap: seeds, then prompts; "
        f"{replicates} replicates, 95% interval), from the claims run matrix. The bar (Step 10) is set for ccl: "
        + "; ".join(f"{k} >= {v}" for k, v in BAR["ccl"].items())
        + ". **met**: the interval lies above the level; **met (point only)**: the point does, the interval does not.", "",
        *lines, "", f"Command: `{command}`", ""])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="results/claims/matrix")
    ap.add_argument("--suite", default="av-sync")
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--out", help="folder for quality.md and quality.json (default: print only)")
    args = ap.parse_args(argv)
    from ccl_bench.provenance import provenance

    rows = estimates(Path(args.runs), args.suite, args.replicates)
    command = "python benchmarks/quality_bar.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = render(rows, command, args.replicates)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "quality.md").write_text(text)
        (out / "quality.json").write_text(json.dumps({"bar": BAR, "task": TASK, "models": rows,
                                                      "provenance": provenance(seed=0, command=command.split()[1:])},
                                                     indent=1))


if __name__ == "__main__":
    main()
