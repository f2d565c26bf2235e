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
        (tmp_path / "runs" / "ccl" / f"seed-{seed}" / "snapshots" / f"step-{step}").mkdir(parents=True)
    lines = claims_queue.snapshot_commands(tmp_path, ["ccl", "ccl-no-lct"], "M", "ucg", "cuda")
    assert [claims_queue.out_of(ln) for ln in lines] == ["M/seed0/step500", "M/seed0/step1000", "M/seed2/step500"]
    assert all("--model ccl " in ln and "--task t2av --guidance ucg" in ln for ln in lines)
    assert f"--checkpoint {tmp_path}/runs/ccl/seed-0/snapshots/step-1000 " in lines[1]
