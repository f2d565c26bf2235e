"""How long the README's main command takes, as a new user meets it: `ccl-bench run --model ccl --suite
av-sync` in a fresh process, with an empty `$CCL_BENCH_HOME` (no cached features) and a fresh output
folder, after the install. Prints a table of the phases (from the result's own timings) and the wall
time against the README's budget.

    python benchmarks/main_job_time.py                      # the suite's defaults (the README command)
    python benchmarks/main_job_time.py --cpus 2             # as on a 2-core machine (CPU affinity + threads)
    python benchmarks/main_job_time.py -- --num-samples 16 --steps 25   # other settings, passed to `run`
    python benchmarks/main_job_time.py --out results/main_job_time/cpu.json

Wall time includes the interpreter's start and every import; "other" is what the phases leave:
starting, loading the suite and metrics, writing the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 180.0  # the README promises the main command within 3 minutes on a 2-core CPU


def measure(run_args: list[str], cpus: int | None) -> tuple[float, dict]:
    """-> (wall seconds of the whole command, its result JSON)."""
    with tempfile.TemporaryDirectory(prefix="ccl-main-job-") as tmp:
        env = {**os.environ, "CCL_BENCH_HOME": str(Path(tmp) / "home"), "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        preexec = None
        if cpus:
            env.update({k: str(cpus) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
            first = sorted(os.sched_getaffinity(0))[:cpus]
            preexec = (lambda: os.sched_setaffinity(0, first))
        cmd = [sys.executable, "-m", "ccl_bench", "run", "--model", "ccl", "--suite", "av-sync", "--out", str(Path(tmp) / "runs"),
               "--quiet", *run_args]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, preexec_fn=preexec, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"the main command failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return wall, json.loads((Path(tmp) / "runs" / "av-sync" / "ccl.json").read_text())


def phases(wall: float, result: dict) -> list[tuple[str, float]]:
    rows = [("reference clips (suite build)", result["reference_s"])]
    for task, t in result["tasks"].items():
        g = t["generation"]
        rows += [(f"{task}: load checkpoint", g["load_s"]), (f"{task}: read + encode conditions", g["condition_s"]),
                 (f"{task}: sampling ({g['clips']} clips)", g["sample_s"]), (f"{task}: decode + write clips", g["write_s"]),
                 (f"{task}: evaluation (analyses + intervals)", t["evaluation_s"])]
    rows.append(("other (start, imports, table)", wall - sum(s for _, s in rows)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpus", type=int, help="limit the command to this many CPU cores (affinity and BLAS threads)")
    ap.add_argument("--out", help="write the table as JSON with provenance")
    ap.add_argument("run_args", nargs="*", help="extra `ccl-bench run` options, after `--`")
    args = ap.parse_args()
    wall, result = measure(args.run_args, args.cpus)
    s = result["settings"]
    rows = phases(wall, result)
    print(f"main command: {s['num_samples']} clips, {s['steps']} {s['sampler']} steps, {s['guidance']}, "
          f"{args.cpus or os.cpu_count()} CPU cores")
    print("| phase | seconds |\n|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.1f} |")
    print(f"| **wall (whole command)** | **{wall:.1f}** |")
    print(f"{'within' if wall <= BUDGET_S else 'OVER'} the README's budget of {BUDGET_S:.0f} s")
    if args.out:
        sys.path.insert(0, str(ROOT))
        from ccl_bench.paths import atomic_write
        from ccl_bench.provenance import provenance

        record = {"wall_s": wall, "budget_s": BUDGET_S, "phases_s": dict(rows), "settings": s,
                  "cpus": args.cpus or os.cpu_count(),
                  "provenance": provenance(s["seed"], command=["(benchmarks/main_job_time.py)", *sys.argv[1:]])}
        atomic_write(args.out, json.dumps(record, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
