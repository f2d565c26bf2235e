"""Per scene family: every metric also on each family's clips alone, in the result and its tables."""

import csv
import io
import json
import shutil

import pytest

from ccl_bench.evaluate import evaluate
from ccl_bench.suites import build_suite, load_suite
from ccl_bench.tables import to_csv, to_markdown

METRICS = ["event-hit", "event-sync", "sync-offset"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    d = tmp_path_factory.mktemp("family") / "set"
    build_suite(load_suite("av-sync"), d, split="test", rendering="tiny", num=10, seed=0, show_progress=False)
    return d


def test_each_family_scores_as_its_clips_alone(suite, tmp_path):
    res = evaluate(suite, metrics=METRICS, cache_dir=tmp_path / "cache", bootstrap=30, show_progress=False)
    manifest = json.loads((suite / "manifest.json").read_text())
    families = sorted({c["label"] for c in manifest["clips"]})
    assert len(families) == 5
    for name in METRICS + ["event-hit-cc"]:
        assert sorted(res["metrics"][name]["per_family"]) == families
    # flash-beep's clips in a folder of their own give the same numbers as its breakdown entry.
    alone = tmp_path / "flash"
    alone.mkdir()
    clips = [c for c in manifest["clips"] if c["label"] == "flash-beep"]
    for c in clips:
        shutil.copy(suite / c["video"], alone)
    solo = evaluate(alone, metrics=METRICS, cache_dir=tmp_path / "cache", bootstrap=30, show_progress=False)["metrics"]
    for name in METRICS + ["event-sync-cc"]:
        fam = res["metrics"][name]["per_family"]["flash-beep"]
        assert fam["n"] == len(clips) == 2
        assert fam["value"] == pytest.approx(solo[name]["value"]), name
        assert fam["ci95"] == pytest.approx(solo[name]["ci95"]), name


def test_tables_carry_the_breakdown(suite, tmp_path):
    res = evaluate(suite, metrics=["event-hit"], cache_dir=tmp_path / "cache", bootstrap=20, show_progress=False)
    rows = list(csv.DictReader(io.StringIO(to_csv(res))))
    hit = {r["family"]: r for r in rows if r["metric"] == "event-hit"}
    assert set(hit) == {"all", "bouncing-ball", "flash-beep", "multi-object", "continuous-pitch", "background-object"}
    assert float(hit["flash-beep"]["value"]) == pytest.approx(res["metrics"]["event-hit"]["per_family"]["flash-beep"]["value"])
    md = to_markdown(res)
    head, fams = md.split("Per scene family")
    assert head.count("| event-hit |") == 1
    line = next(ln for ln in fams.splitlines() if ln.startswith("| - | event-hit |"))
    assert line.count("|") == 2 + 5 + 1 and "(2)" in line
