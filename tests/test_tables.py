"""Result tables: each cell holds what the result says (value, interval with the replicates it rests on,
unavailable with its reason, FD-inf's fit r^2), every written file carries provenance and no machine path."""

import csv
import io
import json

import pytest

from ccl_bench import tables as T

PROV = {"commit": "0123456789abcdef0123", "date_utc": "2026-11-25T20:00:00Z", "seed": 7, "command": "ccl-bench eval --pred p",
        "versions": {"ccl_bench": "0.1.0", "torch": "2.14.1"}}
RESULT = {"metrics": {
    "event-sync": {"value": 18.25, "ci95": [14.75, 22.14], "interval": {"method": "bootstrap", "replicates": 200, "used": 197},
                   "n": 64, "unit": "ms", "better": "lower", "protocol": {"name": "ccl-event-sync-v1"}},
    "fad-inf": {"value": 3.5, "ci95": [3.0, 4.0], "interval": {"method": "half-sampling", "replicates": 50, "used": 50},
                "fit_r2": 0.987, "n": 600, "unit": "", "better": "lower", "protocol": {"analysis": "vggish"}},
    "fvd": {"status": "unavailable", "reason": "weights file i3d_pretrained_400.pt not found"},
    "event-hit": {"value": 0.5, "ci95": None, "interval": {"method": "bootstrap", "replicates": 20, "used": 0},
                  "n": 3, "unit": "", "better": "higher"},
}, "provenance": PROV}


def test_rows_carry_value_interval_and_replicates():
    rows = {r["metric"]: r for r in T.rows(RESULT)}
    es = rows["event-sync"]
    assert es["value"] == 18.25 and (es["ci95_low"], es["ci95_high"]) == (14.75, 22.14)
    assert (rows["event-sync"]["replicates_used"], rows["event-sync"]["replicates"]) == (197, 200)
    assert rows["fvd"]["status"] == "unavailable: weights file i3d_pretrained_400.pt not found" and rows["fvd"]["value"] is None
    assert rows["event-sync"]["commit"] == PROV["commit"] and rows["event-sync"]["seed"] == 7


def test_markdown_cells_and_provenance_line():
    md = T.to_markdown(RESULT, "demo").splitlines()
    cell = {ln.split("|")[2].strip(): [c.strip() for c in ln.split("|")[1:-1]] for ln in md if ln.startswith("| -")}
    assert cell["event-sync"] == ["-", "event-sync", "18.25 ms", "[14.75, 22.14] (197/200)", "64", "lower"]
    assert cell["fad-inf"][2] == "3.5 (fit r^2 0.987)"
    assert cell["fvd"][2:4] == ["unavailable", "weights file i3d_pretrained_400.pt not found"]
    assert cell["event-hit"][3] == "none (0/20 replicates)"  # an interval none of whose replicates had a value
    prov = md[-1]
    assert "commit `0123456789ab`" in prov and "seed 7" in prov and "`ccl-bench eval --pred p`" in prov and "torch 2.14.1" in prov


def test_csv_columns_round_trip():
    rows = list(csv.DictReader(io.StringIO(T.to_csv(RESULT))))
    assert list(rows[0]) == list(T.COLUMNS)
    es = next(r for r in rows if r["metric"] == "event-sync")
    assert (float(es["value"]), int(es["replicates_used"]), es["commit"]) == (18.25, 197, PROV["commit"])


def test_a_run_result_has_one_row_per_task_and_metric_and_its_generation_line():
    run = {"tasks": {"t2av": {"metrics": RESULT["metrics"], "generation": {
        "clips": 10, "sample_s": 20.0, "clips_per_s": 0.5, "load_s": 1.0, "condition_s": 0.5, "write_s": 2.0, "device": "cpu",
        "passes_per_step": 2, "nfe_per_clip": 20, "peak_rss_gb": 1.25, "memory_measure": "VmHWM reset"}},
        "a2v": {"metrics": {"fvd": RESULT["metrics"]["fvd"]}}}, "provenance": PROV}
    assert [(r["task"], r["metric"]) for r in T.rows(run)][-1] == ("a2v", "fvd") and len(T.rows(run)) == 5
    line = T.generation_lines({"tasks": {"t2av": run["tasks"]["t2av"]}})[0]
    assert line.startswith("t2av: 10 clips sampled in 20.0 s (0.50 clips/s on cpu; loading 1.0 s")
    assert "peak resident memory 1.25 GB (VmHWM reset)" in line


def test_written_files_name_no_machine_folder(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CCL_BENCH_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    res = json.loads(json.dumps(RESULT))
    res["metrics"]["fvd"]["reason"] = f"weights file x.pt not found: place it at {home}/weights/x.pt"
    res["clips"] = {"pred": {"folder": str(tmp_path / "clips" / "a"), "excluded": [{"path": str(tmp_path / "b.mp4")}]}}
    paths = T.write_result(res, tmp_path / "out" / "r.json")
    assert [p.name for p in paths] == ["r.json", "r.csv", "r.md"]
    text = "".join(p.read_text() for p in paths)
    assert str(tmp_path) not in text
    back = json.loads(paths[0].read_text())
    assert back["metrics"]["fvd"]["reason"].endswith("place it at $CCL_BENCH_HOME/weights/x.pt")
    assert back["clips"]["pred"]["folder"] == "./clips/a"
    assert back["provenance"] == PROV  # the file says what made it


COMPARE = {"suite": "av-sync", "entries": ["ccl", "none"], "bootstrap": 100, "provenance": {
    **PROV, "command": "ccl-bench compare ccl none", "tables": {"ccl": {"commit": "aaaa", "checkpoint_sha256": "bbbb"},
                                                            "none": {"commit": "cccc", "checkpoint_sha256": "dddd"}}},
    "tasks": {"t2av": {"shared_prompts": 10, "metrics": {
        "event-sync": {"values": [40.0, 120.0], "deltas": [0.0, 80.0], "better": "lower", "unit": "ms", "paired": [
            None, {"ci95": [50.0, 110.0], "significant": True, "bootstrap": {"replicates": 100, "used": 98, "failed": 2}}]},
        "event-hit": {"values": [0.5, 0.45], "deltas": [0.0, -0.05], "better": "higher", "unit": "", "paired": [
            None, {"ci95": [-0.1, 0.02], "significant": False, "bootstrap": {"replicates": 100, "used": 100, "failed": 0}}]},
        "fvd": {"values": [None, None], "deltas": [None, None], "better": "lower", "unit": "", "paired": None,
                "why_no_test": "a value is unavailable"}}}}}


@pytest.mark.parametrize(("metric", "cells"), [
    ("event-sync", ["40", "120 (+80, significantly worse, 98/100)"]),
    ("event-hit", ["0.5", "0.45 (-0.05, not significant, 100/100)"]),
    ("fvd", ["unavailable", "unavailable"]),
])
def test_compare_markdown_cells(metric, cells):
    md = T.compare_markdown(COMPARE)
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| t2av | {metric} ("))
    assert [c.strip() for c in line.split("|")[3:-1]] == cells


def test_compare_markdown_names_its_provenance_and_the_tables_compared():
    md = T.compare_markdown(COMPARE)
    assert "`ccl-bench compare ccl none`" in md and "seed 7" in md
    assert "ccl (commit `aaaa`, checkpoint sha256 `bbbb`)" in md and "none (commit `cccc`" in md
    tables = {"floor": {"commit": "eeee", "checkpoint_sha256": None}}
    floor = {**COMPARE, "provenance": {**COMPARE["provenance"], "tables": tables}}
    assert "floor (commit `eeee`, no checkpoint)" in T.compare_markdown(floor)  # a pseudo-model: not `None`


def test_listing_tables():
    from ccl_bench.metrics import METRICS

    t = T.metrics_table(METRICS.values())
    assert t.row_count == len(METRICS) and [c.header for c in t.columns][:2] == ["metric", "reads"]
    assert list(t.columns[0].cells) == list(METRICS)
