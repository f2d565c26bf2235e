"""The claims matrix's evaluation queue (benchmarks/claims_queue.py): lines writing to one `--out` folder run
in order, a rerun skips what finished, a failure is counted and not recorded, and snapshot folders map to
the layout `ccl-bench claims` reads (`seed<k>/step<N>`)."""

import importlib.util
import shlex
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("claims_queue", Path(__file__).parents[2] / "benchmarks" / "claims_queue.py")
claims_queue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(claims_queue)


def _append(path: Path, word: str, out: str, fail: bool = False) -> str:
    code = f"open({str(path)!r}, 'a').write({word!r} + chr(10)); raise SystemExit({int(fail)})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} --out {out}"


def test_groups_run_in_order_and_a_rerun_skips_what_finished(tmp_path):
    record = tmp_path / "order.txt"
    lines = [_append(record, w, "A") for w in ("a1", "a2", "a3")] + [_append(record, "b1", "B"),
                                                                      _append(record, "bad", "C", fail=True)]
    assert claims_queue.run(lines, jobs=3, log=tmp_path / "log") == 1
    words = record.read_text().split()
    assert sorted(words) == ["a1", "a2", "a3", "b1", "bad"]
    assert [w for w in words if w.startswith("a")] == ["a1", "a2", "a3"]  # one folder: one after another
    assert len((tmp_path / "log" / "done.txt").read_text().splitlines()) == 4  # the failure is not done
    record.unlink()
    assert claims_queue.run(lines, jobs=3, log=tmp_path / "log") == 1
    assert record.read_text().split() == ["bad"]  # only the failed line runs again
    assert len(list((tmp_path / "log").glob("*.log"))) == 6  # the second call's log did not overwrite the first's


def test_snapshot_lines_follow_the_claims_layout(tmp_path):
    for seed, step in ((0, 500), (0, 1000), (2, 500)):
        snap = tmp_path / "runs" / "ccl" / f"seed-{seed}" / "snapshots" / f"step-{step}"
        snap.mkdir(parents=True)
        (snap / "config.json").write_text("{}")
    (tmp_path / "runs" / "ccl" / "seed-2" / "snapshots" / "step-750").mkdir()  # being written: no config.json yet
    lines = claims_queue.snapshot_commands(tmp_path, ["ccl", "ccl-no-lct"], "M", "ucg", "cuda")
    assert [claims_queue.out_of(ln) for ln in lines] == ["M/seed0/step500", "M/seed0/step1000", "M/seed2/step500"]
    assert all("--model ccl " in ln and "--task t2av --guidance ucg" in ln for ln in lines)
    assert f"--checkpoint {tmp_path}/runs/ccl/seed-0/snapshots/step-1000 " in lines[1]


def _crash_once(marker: Path, record: Path, out: str) -> str:
    """A line that dies of SIGSEGV the first time (no marker yet) and then records its compile caches."""
    code = (f"import os, pathlib, signal; m = pathlib.Path({str(marker)!r})\n"
            f"if not m.exists(): m.touch(); os.kill(os.getpid(), signal.SIGSEGV)\n"
            f"open({str(record)!r}, 'a').write(os.environ['TORCHINDUCTOR_CACHE_DIR'] + ' '"
            f" + os.environ['TRITON_CACHE_DIR'] + ' ' + os.environ['PYTHONFAULTHANDLER'] + ' '"
            f" + os.environ['CUDA_VISIBLE_DEVICES'] + chr(10))")
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} --out {out}"


def test_a_crashed_line_runs_again_and_each_slot_has_its_own_compile_caches_and_gpu(tmp_path):
    record = tmp_path / "caches.txt"
    lines = [_crash_once(tmp_path / "m1", record, "A"), _crash_once(tmp_path / "m2", record, "B")]
    assert claims_queue.run(lines, jobs=2, log=tmp_path / "log", gpus=["0", "1"]) == 0  # each crashed once, then finished
    caches = [ln.split() for ln in record.read_text().splitlines()]
    assert len(caches) == 2 and caches[0][0] != caches[1][0] and caches[0][1] != caches[1][1]
    assert all(c[2] == "1" for c in caches)  # the fault handler was on
    assert sorted(c[3] for c in caches) == ["0", "1"]  # one GPU per slot
    # a line that crashes every time fails after its one retry, and is not recorded as done
    always = f"{shlex.quote(sys.executable)} -c 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)' --out C"
    assert claims_queue.run([always], jobs=1, log=tmp_path / "log2") == 1
    assert not (tmp_path / "log2" / "done.txt").exists()
    assert len(list((tmp_path / "log2").glob("*.log"))) == 2  # the first try and the retry
