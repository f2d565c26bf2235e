"""Run the claims matrix's evaluations side by side: `ccl-bench run` lines (from `ccl-bench claims --plan`,
edited to what is missing) plus claim 6's snapshot evaluations, as concurrent processes.

Lines that write to the same `--out` folder run one after another (they share its reference clips); different
folders run at once, up to `--jobs`, each group with its own `$CCL_BENCH_HOME` and compile caches (numba,
TorchInductor, Triton: no two processes write one cache) and `cpu_count // jobs` threads. A line killed by a
signal (a crash, not an error it reports) runs again, up to `--retries` times, with Python's fault handler
on so its log shows where it died. Finished lines are recorded in `LOG/done.txt`: a rerun skips them
(resumable); each line's output is kept in `LOG/<n>.log`.

    ccl-bench claims --suite av-sync --plan checkpoints/av-sync/claims > plan.sh   # then keep the lines to run
    python benchmarks/claims_queue.py --commands plan.sh --jobs 6 --log /tmp/queue
    python benchmarks/claims_queue.py --snapshots CAMPAIGN --snapshot-models ccl,ccl-no-lct,ccl-no-dcr \\
        --runs results/claims/matrix --jobs 6 --log /tmp/queue
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path


def read_commands(path: Path) -> list[str]:
    """The `ccl-bench run` / script lines of a plan file; comments and blank lines dropped."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def snapshot_commands(campaign: Path, models: list[str], runs: str, guidance: str, device: str,
                      suite: str = "av-sync", task: str = "t2av") -> list[str]:
    """One evaluation per snapshot `CAMPAIGN/runs/<model>/seed-<k>/snapshots/step-<N>/`, written where
    `ccl-bench claims` reads it (`RUNS/seed<k>/step<N>/<suite>/<model>.json`), in step order."""
    lines = []
    for model in models:
        written = [p for p in (campaign / "runs" / model).glob("seed-*/snapshots/step-*") if (p / "config.json").is_file()]
        for snap in sorted(written,  # config.json is written last: a snapshot without it is still being written
                           key=lambda p: (int(p.parent.parent.name.split("-")[1]), int(p.name.split("-")[1]))):
            seed, step = int(snap.parent.parent.name.split("-")[1]), int(snap.name.split("-")[1])
            lines.append(f"ccl-bench run --model {model} --suite {suite} --checkpoint {snap} --task {task} "
                         f"--guidance {guidance} --device {device} --quiet --out {runs}/seed{seed}/step{step}")
    return lines


def out_of(line: str) -> str:
    """The `--out` folder a line writes to (its group); a line without one is its own group."""
    m = re.search(r"--out[ =](\S+)", line)
    return m.group(1) if m else line


def run(lines: list[str], jobs: int, log: Path, stop_after_s: float | None = None, retries: int = 1,
        gpus: list[str] | None = None, threads: int | None = None) -> int:
    """Run `lines` (groups by output folder, `jobs` groups at once); returns how many failed. A line killed
    by a signal starts again, at most `retries` times. After `stop_after_s` no line starts (the running ones
    finish; the rest wait for the next call). `gpus`: slot i sees only GPU `gpus[i % len(gpus)]`; `threads`:
    each line's (default: the CPU cores shared out among the slots)."""
    log.mkdir(parents=True, exist_ok=True)
    done_file = log / "done.txt"
    done = set(done_file.read_text().splitlines()) if done_file.is_file() else set()
    todo = [ln for ln in dict.fromkeys(lines) if ln not in done]
    groups: dict[str, list[str]] = {}
    for ln in todo:
        groups.setdefault(out_of(ln), []).append(ln)
    queue = list(groups.values())
    threads = threads or max(1, (os.cpu_count() or 2) // max(1, jobs))
    running: dict[int, tuple[subprocess.Popen, str, list[str], int, float]] = {}  # slot -> (process, line, rest, n, start)
    crashes: dict[str, int] = {}  # line -> times it was killed by a signal
    failed, t0 = 0, time.time()
    started = first = len(list(log.glob("[0-9]*.log")))  # numbered on from an earlier call's logs, never over them
    print(f"{len(todo)} line(s) to run ({len(lines) - len(todo)} already done) in {len(queue)} group(s), "
          f"{jobs} at once, {threads} thread(s) each", flush=True)

    def start(slot: int, group: list[str]) -> None:
        nonlocal started
        line, n = group[0], started
        started += 1
        home = (log / f"home-{slot}").resolve()
        # on-disk compile caches (numba for librosa's helpers; Inductor and Triton for TARP's FlexAttention):
        # one per slot, so no two processes, nor a training run beside them, write the same one
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), CCL_BENCH_HOME=str(home),
                   NUMBA_CACHE_DIR=str(home / "numba"), TORCHINDUCTOR_CACHE_DIR=str(home / "inductor"),
                   TRITON_CACHE_DIR=str(home / "triton"), PYTHONFAULTHANDLER="1")
        if gpus:  # spread the slots over the GPUs (`--device cuda` is then the slot's own)
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        with (log / f"{n:03d}.log").open("w") as f:
            f.write(line + "\n")
            f.flush()
            proc = subprocess.Popen(shlex.split(line), env=env, stdout=f, stderr=subprocess.STDOUT)
        running[slot] = (proc, line, group[1:], n, time.time())

    for slot in range(min(jobs, len(queue))):
        start(slot, queue.pop(0))
    while running:
        time.sleep(0.5)
        for slot, (proc, line, rest, n, t) in list(running.items()):
            if proc.poll() is None:
                continue
            ok = proc.returncode == 0
            again = proc.returncode < 0 and crashes.get(line, 0) < retries  # killed by a signal: once more
            if ok:
                with done_file.open("a") as f:
                    f.write(line + "\n")
            elif again:
                crashes[line] = crashes.get(line, 0) + 1
                rest = [line, *rest]
            else:
                failed += 1
            verdict = "done" if ok else f"{'CRASHED, again' if again else 'FAILED'} ({proc.returncode}), see {n:03d}.log"
            print(f"[{time.time() - t0:6.0f} s] {verdict} in {time.time() - t:.0f} s: {line}", flush=True)
            del running[slot]
            if stop_after_s is not None and time.time() - t0 > stop_after_s:
                continue
            if rest:
                start(slot, rest)
            elif queue:
                start(slot, queue.pop(0))
    print(f"{started - first} line(s) run in {time.time() - t0:.0f} s, {failed} failed", flush=True)
    return failed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", help="a file of command lines (`ccl-bench claims --plan` output, edited)")
    ap.add_argument("--snapshots", help="a campaign folder whose runs hold snapshots/step-<N>/ (train_small --snapshot-every)")
    ap.add_argument("--snapshot-models", default="ccl,ccl-no-lct,ccl-no-dcr")
    ap.add_argument("--runs", default="results/claims/matrix", help="the run matrix the snapshot evaluations go to")
    ap.add_argument("--guidance", default="ucg", help="the snapshots' guidance (claim 6's, `ccl-bench claims --plan`)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--log", required=True, help="logs and done.txt (the resume record)")
    ap.add_argument("--stop-after-s", type=float, help="start no line after this many seconds (resume later)")
    ap.add_argument("--retries", type=int, default=1, help="runs again of a line killed by a signal")
    ap.add_argument("--threads", type=int, help="threads per line (default: cores / jobs; fewer leave cores to training)")
    ap.add_argument("--gpus", help="GPU indices the slots take in turn (e.g. 0,1,2,3); default: as the environment says")
    ap.add_argument("--dry-run", action="store_true", help="print the lines, run nothing")
    args = ap.parse_args(argv)
    lines = read_commands(Path(args.commands)) if args.commands else []
    if args.snapshots:
        lines += snapshot_commands(Path(args.snapshots), [m for m in args.snapshot_models.split(",") if m], args.runs,
                                   args.guidance, args.device)
    if not lines:
        ap.error("nothing to run: give --commands and/or --snapshots (with snapshots in it)")
    if args.dry_run:
        print("\n".join(lines))
        return
    sys.exit(1 if run(lines, args.jobs, Path(args.log), args.stop_after_s, args.retries,
                         args.gpus.split(",") if args.gpus else None, args.threads) else 0)


if __name__ == "__main__":
    main()
