"""Step 10's quality bar (benchmarks/quality_bar.py) on a synthetic run matrix: a model whose clips are
ceiling-like meets the event-hit bar, floor-like ones do not, and a metric without features is unavailable."""

import importlib.util
import json
from pathlib import Path

from tests.claims.synthetic import write_matrix, write_run

_spec = importlib.util.spec_from_file_location("quality_bar", Path(__file__).parents[2] / "benchmarks" / "quality_bar.py")
quality_bar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality_bar)


def test_the_bar_separates_ceiling_from_floor(tmp_path):
    good, bad = write_matrix(tmp_path / "good", {"ccl": "ceiling"}), write_matrix(tmp_path / "bad", {"ccl": "floor"})
    hit = quality_bar.estimates(good, "av-sync", replicates=200)["ccl"]
    miss = quality_bar.estimates(bad, "av-sync", replicates=200)["ccl"]
    assert hit["seeds"] == ["0", "1", "2"] and hit["guidance"] == "ucg"
    e = hit["metrics"]["event-hit-cc"]
    assert quality_bar.bar_status(e["value"], e["ci95"], 0.5) == "met"
    f = miss["metrics"]["event-hit-cc"]
    assert quality_bar.bar_status(f["value"], f["ci95"], 0.5) == "not met"
    assert hit["metrics"]["prompt-accuracy-video"]["value"] is None  # the synthetic runs carry no suite features
    quality_bar.main(["--runs", str(good), "--replicates", "100", "--out", str(tmp_path / "out")])
    saved = json.loads((tmp_path / "out" / "quality.json").read_text())
    assert saved["models"]["ccl"]["metrics"]["event-hit-cc"]["value"] == e["value"]
    assert "event-hit-cc met" in (tmp_path / "out" / "quality.md").read_text()


def test_bar_status_reads_the_interval():
    assert quality_bar.bar_status(0.9, (0.85, 0.95), 0.8) == "met"
    assert quality_bar.bar_status(0.82, (0.7, 0.9), 0.8) == "met (point only)"
    assert quality_bar.bar_status(0.7, (0.6, 0.85), 0.8) == "not met"
    assert quality_bar.bar_status(None, None, 0.8) == "unavailable"


def test_a_model_with_only_convergence_snapshots_is_read_at_its_last_snapshot(tmp_path):
    runs = tmp_path / "runs"
    for seed in range(3):
        write_run(runs, seed, "ccl-no-lct", "floor", variant="step250")
        write_run(runs, seed, "ccl-no-lct", "ceiling", variant="step500")  # the last: the run's final weights
    row = quality_bar.estimates(runs, "av-sync", replicates=200)["ccl-no-lct"]
    assert row["guidance"] == "ucg (step 500 snapshot)" and row["seeds"] == ["0", "1", "2"]
    e = row["metrics"]["event-hit-cc"]
    assert quality_bar.bar_status(e["value"], e["ci95"], 0.5) == "met"  # the ceiling, not the step-250 floor
