"""`ccl-bench compare`: paired differences over shared prompts, read from run tables and their per-clip
results; a working model against a broken one is significantly better, a run against itself is not."""

import json
import shutil

import pytest

from ccl_bench.compare import compare, load_entries
from ccl_bench.errors import CCLBenchError
from ccl_bench.evaluate import evaluate, save_results
from ccl_bench.suites import build_suite, load_suite
from tests.test_regress import shuffle_audio

SYNC = ["av-align", "event-sync", "event-hit"]


def write_run(root, model: str, clips, cache) -> None:
    """A `run`-shaped table of `clips` as `model`'s t2av output, with its per-clip results beside the clips."""
    res, pred, _ = evaluate(clips, metrics=SYNC, bootstrap=10, cache_dir=cache, show_progress=False, details=True)
    save_results(pred, clips / "per_clip.npz")
    table = {"suite": "av-sync", "model": model, "tasks": {"t2av": {
        "metrics": res["metrics"], "clips": str(clips.relative_to(root / "av-sync")), "reference": "clips/reference"}},
        "provenance": {**res["provenance"], "commit": f"commit-of-{model}", "checkpoint_sha256": f"sha-of-{model}"}}
    (root / "av-sync" / f"{model}.json").write_text(json.dumps(table))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    suite = root / "suite"
    build_suite(load_suite("av-sync"), suite, split="test", rendering="tiny", num=10, seed=0, show_progress=False)
    clips = root / "av-sync" / "clips"
    shutil.copytree(suite, clips / "reference")
    shutil.copytree(suite, clips / "good" / "t2av")
    shuffle_audio(suite, clips / "broken" / "t2av")
    for model in ("good", "broken"):
        write_run(root, model, clips / model / "t2av", root / "cache")
    return root


def test_a_working_model_is_significantly_better_than_a_broken_one(results):
    table = compare(load_entries(["good", "broken"], results), bootstrap=200, seed=0)
    rows = table["tasks"]["t2av"]["metrics"]
    good = json.loads((results / "av-sync" / "good.json").read_text())["tasks"]["t2av"]["metrics"]
    broken = json.loads((results / "av-sync" / "broken.json").read_text())["tasks"]["t2av"]["metrics"]
    assert table["tasks"]["t2av"]["shared_prompts"] == 10
    for metric in ("event-sync", "event-hit"):
        row = rows[metric]
        assert row["values"] == [good[metric]["value"], broken[metric]["value"]]
        assert row["deltas"][1] == pytest.approx(broken[metric]["value"] - good[metric]["value"])
        p = row["paired"][1]
        lo, hi = p["ci95"]
        # broken - good: event-sync (lower is better) grows, event-hit (higher is better) falls.
        assert p["significant"] and (lo > 0 if metric == "event-sync" else hi < 0), (metric, p)
        assert p["bootstrap"]["replicates"] == 200 and p["bootstrap"]["used"] + p["bootstrap"]["failed"] == 200


def test_a_run_against_itself_differs_by_nothing(results):
    table = compare(load_entries(["good", "good"], results), bootstrap=30)
    for metric, row in table["tasks"]["t2av"]["metrics"].items():
        assert row["deltas"][1] == 0, metric
        assert row["paired"][1]["ci95"] == [0.0, 0.0] and not row["paired"][1]["significant"], metric


def test_the_table_records_what_made_it(results):
    table = compare(load_entries(["good", "broken"], results), bootstrap=10, seed=3)
    prov = table["provenance"]
    assert prov["seed"] == 3 and "commit" in prov and "versions" in prov
    assert prov["tables"] == {"good": {"commit": "commit-of-good", "checkpoint_sha256": "sha-of-good"},
                              "broken": {"commit": "commit-of-broken", "checkpoint_sha256": "sha-of-broken"}}


def test_a_distance_metric_is_not_tested_without_the_tables_covariance_convention(results, tmp_path):
    shutil.copytree(results / "av-sync", tmp_path / "av-sync", symlinks=True)
    for model in ("good", "broken"):
        p = tmp_path / "av-sync" / f"{model}.json"
        t = json.loads(p.read_text())
        t["provenance"].pop("covariance_ddof")
        t["tasks"]["t2av"]["metrics"]["fad"] = {"value": 1.0, "better": "lower"}
        p.write_text(json.dumps(t))
    row = compare(load_entries(["good", "broken"], tmp_path), bootstrap=10)["tasks"]["t2av"]["metrics"]["fad"]
    assert row["paired"] is None and row["why_no_test"] == "a table records no covariance convention"


def test_refused_inputs(results, tmp_path):
    with pytest.raises(CCLBenchError, match="at least two"):
        compare(load_entries(["good"], results))
    other = json.loads((results / "av-sync" / "good.json").read_text())
    other["suite"] = "another"
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(CCLBenchError, match="different suites"):
        compare(load_entries(["good"], results) + load_entries([str(tmp_path / "other.json")]))
    with pytest.raises(CCLBenchError, match="result file not found"):
        load_entries(["nobody"], results)


def test_runs_of_one_model_are_told_apart_by_the_settings_they_differ_in(results, tmp_path):
    base = json.loads((results / "av-sync" / "good.json").read_text())
    paths = []
    for name, settings in (("a", {"guidance": "ucg"}), ("b", {"guidance": "ucg", "scales": "text=2"}),
                           ("c", {"guidance": "cfg"})):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "good.json")
        paths[-1].write_text(json.dumps({**base, "settings": settings}))
    labels = [e.label for e in load_entries([str(p) for p in paths])]
    assert labels == ["good (guidance ucg, scales default)", "good (guidance ucg, scales text=2)",
                      "good (guidance cfg, scales default)"]
    seeds = []
    for k in (0, 1):
        (tmp_path / f"s{k}").mkdir()
        seeds.append(tmp_path / f"s{k}" / "good.json")
        seeds[-1].write_text(json.dumps({**base, "settings": {"seed": k}}))
    assert [e.label for e in load_entries([str(p) for p in seeds])] == ["good (seed 0)", "good (seed 1)"]
    same = [e.label for e in load_entries([str(paths[0]), str(paths[0])])]
    assert len(set(same)) == 2 and same[0].startswith("good ")  # nothing differs: told apart by order
    assert [e.label for e in load_entries(["good", "broken"], results)] == ["good", "broken"]  # distinct: kept
