"""`benchmarks/calibration.py` at the smallest honest scale: every rung built and evaluated, the record
written with provenance, the Markdown table and the plot's data read back."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import calibration as C  # noqa: E402


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    record = C.run_calibration({"tiny": 4}, root / "work", offsets_ms=(160,), bootstrap=20,
                               metrics=["event-hit", "sync-offset"])
    paths = C.write_record(record, root / "out", {"commit": "abc", "seed": 0, "command": "python benchmarks/calibration.py"})
    return root / "out", paths


def test_every_rung_is_built_and_evaluated(written):
    out, paths = written
    rec = json.loads((out / "calibration.json").read_text())
    rungs = rec["renderings"]["tiny"]["rungs"]
    assert list(rungs) == ["aligned", "offset=-160ms", "offset=+160ms", "swap", "freeze", "silence", "noise"]
    assert rec["provenance"]["commit"] == "abc"
    for g in rungs.values():
        assert set(g["metrics"]) == {"event-hit", "sync-offset", "event-hit-cc", "sync-offset-cc"}
    assert rungs["aligned"]["metrics"]["event-hit"]["value"] > rungs["offset=+160ms"]["metrics"]["event-hit"]["value"]
    conf = rec["renderings"]["tiny"]["sync_confidence"]
    assert conf["set_size"] == 4 and conf["aligned_percentiles"]["50"] > conf["mismatched_percentiles"]["50"]


def test_table_and_plot_data_come_from_the_record(written):
    out, paths = written
    rec = json.loads((out / "calibration.json").read_text())
    md = (out / "calibration.md").read_text()
    hit = rec["renderings"]["tiny"]["rungs"]["swap"]["metrics"]["event-hit"]["value"]
    row = next(ln for ln in md.splitlines() if ln.startswith("| event-hit |"))
    assert row.count("|") == 7 + 2 and f"{hit:.3g}" in row.split("|")[4]
    x, y, ci = C.offset_series(rec, "tiny", "event-hit-cc")
    assert x == [-160, 0, 160] and y[1] == rec["renderings"]["tiny"]["rungs"]["aligned"]["metrics"]["event-hit-cc"]["value"]
    assert (out / "calibration_offsets.png").is_file() and "event-hit-cc" in C.plotted_metrics(rec)
