"""How long `ccl-bench --help` takes, and what its start imports: each command in a fresh interpreter,
`--repeats` times; prints the times and the slowest imports (`python -X importtime`).

    python benchmarks/cli_startup.py                 # --help, list metrics, --version
    python benchmarks/cli_startup.py --repeats 10 --out results/cli_startup/cpu.json

The aim: under 1 s for `--help` on the CI machine, with neither torch nor `reference_impl` imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["--version"], ["list", "metrics"])
HEAVY = ("torch", "reference_impl", "librosa", "cv2", "matplotlib")


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def wall(args: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ccl_bench", *args], cwd=ROOT, env=env(), capture_output=True, check=True)
        out.append(time.perf_counter() - start)
    return out


def import_times(args: list[str]) -> list[tuple[str, float]]:
    """(top-level module, cumulative import seconds) of what `args` imports, slowest first."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "ccl_bench", *args], cwd=ROOT, env=env(),
                         capture_output=True, text=True, check=True)
    tops = {}
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        top = name.strip().split(".")[0]  # nested imports are indented; count each under its package
        tops[top] = max(tops.get(top, 0.0), int(cumulative) / 1e6)
    return sorted(tops.items(), key=lambda kv: -kv[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", help="write the numbers as JSON with provenance")
    args = ap.parse_args()
    record = {}
    print(f"| command | min s | median s | heavy imports |  ({args.repeats} fresh interpreters each)\n|---|---|---|---|")
    for cmd in COMMANDS:
        times = wall(cmd, args.repeats)
        heavy = [m for m, _ in import_times(cmd) if m in HEAVY]
        record[" ".join(cmd)] = {"min_s": min(times), "median_s": statistics.median(times), "heavy_imports": heavy}
        print(f"| ccl-bench {' '.join(cmd)} | {min(times):.3f} | {statistics.median(times):.3f} | {', '.join(heavy) or 'none'} |")
    print("\nslowest imports of `ccl-bench --help` (cumulative s):")
    for name, sec in import_times(["--help"])[:8]:
        print(f"  {name:<20} {sec:.3f}")
    help_s = record["--help"]["median_s"]
    print(f"\n--help: {help_s:.3f} s median, {'within' if help_s < 1 else 'OVER'} the 1 s aim")
    if args.out:
        sys.path.insert(0, str(ROOT))
        from ccl_bench.paths import atomic_write
        from ccl_bench.provenance import provenance

        record["provenance"] = provenance(None, command=["(benchmarks/cli_startup.py)", *sys.argv[1:]])
        atomic_write(args.out, json.dumps(record, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
