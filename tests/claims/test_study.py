"""`ccl-bench claims` over synthetic run matrices on disk: verdicts, pages, missing runs, the CI check."""

import json

import pytest

from ccl_bench.claims import load_study, run_claims
from ccl_bench.claims.report import VerdictsMoved
from ccl_bench.cli import main
from ccl_bench.errors import CCLBenchError

from .synthetic import write_matrix, write_run, write_spec


def _row(v):
    (c,) = v["claims"]
    (x,) = c["comparisons"]
    return x


def test_planted_ceiling_vs_floor_is_supported_and_swapped_is_contradicted(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    v = run_claims(write_spec(tmp_path / "s.yaml", "good", "bad"), runs, tmp_path / "out", compute=None, command="cmd")
    x = _row(v)
    assert x["status"] == "supported" and x["ci95"][0] > 0 and x["seeds"] == ["0", "1", "2"] and x["units"] == 36
    assert x["treatment_value"] > 0.8 and x["comparator_value"] < 0.5
    sec = x["secondary"][0]  # event-sync, lower is better: reported with its interval, no verdict decided by it
    assert sec["metric"] == "event-sync (t2av)" and sec["ci95"][1] < 0
    v2 = run_claims(write_spec(tmp_path / "s2.yaml", "bad", "good"), runs, tmp_path / "out2", compute=None, command="cmd")
    assert _row(v2)["status"] == "contradicted"
    assert _row(v2)["difference"] == pytest.approx(-x["difference"])


def test_pages_link_each_claim_its_table_plot_and_command(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    out = tmp_path / "out"
    assert main(["claims", "--suite", str(write_spec(tmp_path / "s.yaml", "good", "bad")), "--runs", str(runs),
                 "--out", str(out), "--compute", ""]) == 0
    readme = (out / "README.md").read_text()
    assert "| good vs bad | event-hit (t2av) (higher) |" in readme and "**supported**" in readme
    assert "[table](claim1-planted.md)" in readme and "[plot](claim1-planted.png)" in readme
    assert f"ccl-bench claims --suite {tmp_path / 's.yaml'} --runs {runs} --out {out}" in readme
    assert "synthetic test study" in readme and "[design] test reading" in readme and "[design] planted effect" in readme
    for ext in ("json", "csv", "md", "png"):
        assert (out / f"claim1-planted.{ext}").stat().st_size > 0
    csv_lines = (out / "claim1-planted.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and ",primary," in csv_lines[1] and ",secondary," in csv_lines[2]


def test_missing_runs_are_not_run_with_what_is_missing(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling"})
    write_run(runs, 0, "bad", "floor")
    write_run(runs, 1, "bad", "floor")
    v = run_claims(write_spec(tmp_path / "s.yaml", "good", "bad"), runs, tmp_path / "out", compute=None)
    x = _row(v)
    assert x["status"] == "not run" and x["difference"] is None and x["ci95"] is None
    assert "2 paired training seed(s), needs 3" in x["reason"] and "comparator seeds 0, 1" in x["reason"]
    v = run_claims(write_spec(tmp_path / "s.yaml", "good", "absent"), runs, tmp_path / "out", compute=None)
    assert _row(v)["status"] == "not run" and "no run of model 'absent'" in _row(v)["reason"]
    assert "**not run**" in (tmp_path / "out" / "README.md").read_text()


def test_runs_are_told_apart_by_guidance_and_a_duplicate_is_an_error(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    for s in range(3):  # the same model sampled with cfg, in a variant folder: not the ucg side's run
        write_run(runs, s, "good", "floor", guidance="cfg", variant="cfg")
    spec = tmp_path / "s.yaml"
    spec.write_text(write_spec(spec, "good", "bad").read_text().replace("{model: good}", "{model: good, guidance: cfg}"))
    assert _row(run_claims(spec, runs, tmp_path / "o", compute=None))["status"] == "inconclusive"
    spec.write_text(spec.read_text().replace("{model: good, guidance: cfg}", "{model: good}"))  # any guidance: two runs a seed
    with pytest.raises(CCLBenchError, match="a second run of good for seed 0"):
        run_claims(spec, runs, tmp_path / "o", compute=None)


def test_check_fails_when_a_verdict_or_bound_moves(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    spec = write_spec(tmp_path / "s.yaml", "good", "bad")
    run_claims(spec, runs, tmp_path / "base", compute=None)
    base = tmp_path / "base" / "verdicts.json"
    run_claims(spec, runs, tmp_path / "again", compute=None, check=base)  # recomputed: identical
    moved = json.loads(base.read_text())
    moved["claims"][0]["comparisons"][0]["ci95"][0] -= 0.05
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(VerdictsMoved, match="ci95 low"):
        run_claims(spec, runs, tmp_path / "again", compute=None, check=tmp_path / "moved.json")
    moved["claims"][0]["comparisons"][0]["status"] = "inconclusive"
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    assert main(["claims", "--suite", str(spec), "--runs", str(runs), "--out", str(tmp_path / "c"), "--compute", "",
                 "--check", str(tmp_path / "moved.json")]) == 1


def test_the_shipped_study_has_the_eight_claims_with_their_design_readings():
    s = load_study("av-sync")
    assert [c.id for c in s.claims] == list(range(1, 9))
    assert all(c.primary.better in ("higher", "lower") or c.primary.kind == "all" for c in s.claims)
    assert all(c.design for c in s.claims) and s.cannot_show and s.min_seeds == 3
    assert {p.name for p in s.claims[7].primary.parts} == {"event-hit-cc", "avsync-fvd", "avsync-fad"}


def test_a_caveat_about_one_run_matrix_is_shown_only_for_that_matrix():
    s = load_study("av-sync")
    fault = [c for c in s.cannot_show if c.runs]
    assert [c.runs for c in fault] == ["results/claims/matrix"] and "fault" in fault[0].text
    assert fault[0].applies("results/claims/matrix") and fault[0].applies("/home/u/ccl-bench/results/claims/matrix")
    assert not fault[0].applies("results/claims/matrix-v4") and not fault[0].applies("other/claims/matrix-v4")
    assert all(c.applies("results/claims/matrix-v4") for c in s.cannot_show if not c.runs)


def test_a_bad_caveat_names_the_study_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("suite: av-sync\ncannot_show: [{runs: results/claims/matrix}]\nclaims:\n  - {id: 1, name: x, claim: y, "
                 "comparisons: [{treatment: {model: a}, comparator: {model: b}}], primary: {metric: event-hit, "
                 "better: higher, tasks: [t2av]}}\n")
    with pytest.raises(CCLBenchError, match="bad.yaml: cannot_show entry"):
        load_study(str(p))


def test_a_bad_study_file_names_itself(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("suite: av-sync\nclaims:\n  - {id: 1, name: x, claim: y, comparisons: [{treatment: {model: a}, "
                 "comparator: {model: b}}], primary: {metric: event-hit, better: up, tasks: [t2av]}}\n")
    with pytest.raises(CCLBenchError, match="bad.yaml: claim 1: primary `better` must be"):
        load_study(str(p))


@pytest.mark.parametrize("setting,value", [("captions", "mismatched"), ("scales", "text=1")])
def test_a_run_with_other_captions_or_scales_matches_only_a_side_that_names_them(tmp_path, setting, value):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    for s in range(3):
        p = write_run(runs, s, "good", "floor", variant="other")
        res = json.loads(p.read_text())
        res["settings"][setting] = value
        p.write_text(json.dumps(res))
    spec = write_spec(tmp_path / "s.yaml", "good", "bad")
    assert _row(run_claims(spec, runs, tmp_path / "o", compute=None))["status"] == "supported"  # the study's own runs
    spec.write_text(spec.read_text().replace("{model: good}", f"{{model: good, settings: {{{setting}: {value}}}}}"))
    assert _row(run_claims(spec, runs, tmp_path / "o", compute=None))["status"] == "inconclusive"  # floor vs floor


def test_plan_prints_the_runs_every_claim_needs(capsys):
    assert main(["claims", "--suite", "av-sync", "--plan", "CK", "--runs", "R"]) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = [ln for ln in lines if ln.startswith("ccl-bench run")]
    trained = [ln for ln in runs if "--checkpoint" in ln]
    cascade = [ln for ln in runs if "--model cascade" in ln]  # a plugin: each seed's stage models, no checkpoint of its own
    assert len(trained) % 3 == 0 and len(cascade) == 3 and len(runs) == len(trained) + len(cascade) + 2
    # each run samples the tasks its claims read: claim 4's A2V/V2A; ccl's UCG runs serve claims 3, 5 and 8
    assert ("ccl-bench run --model ccl --suite av-sync --checkpoint CK/seed2/ccl --task a2v,v2a --guidance ucg-joint "
            "--captions mismatched --device cuda --quiet --out R/seed2/ucg-joint-captions-mismatched") in runs
    assert ("ccl-bench run --model ccl --suite av-sync --checkpoint CK/seed0/ccl --task t2av,a2v,v2a --guidance ucg "
            "--device cuda --quiet --out R/seed0/ucg") in runs
    assert all("--task all" in ln for ln in runs if "--out R/frame" in ln)
    assert any("--model gated" in ln and "--guidance cfg" in ln for ln in runs)  # a baseline samples its own way
    assert any(ln.startswith("python benchmarks/claims_measures.py") for ln in lines)
    assert "ccl-bench run --model floor --suite av-sync --task all --device cuda --quiet --out R/frame" in lines


def test_plan_missing_leaves_out_what_the_matrix_holds(tmp_path, capsys):
    runs = tmp_path / "R"
    done = runs / "seed1" / "ucg-joint-captions-mismatched" / "av-sync"
    done.mkdir(parents=True)
    (done / "ccl.json").write_text(json.dumps({"tasks": {"a2v": {}, "v2a": {}}}))
    part = runs / "seed2" / "ucg-joint-captions-mismatched" / "av-sync"
    part.mkdir(parents=True)
    (part / "ccl.json").write_text(json.dumps({"tasks": {"a2v": {}}}))  # a run without all its tasks is still missing
    assert main(["claims", "--suite", "av-sync", "--plan", "CK", "--runs", str(runs), "--missing"]) == 0
    joint = [ln for ln in capsys.readouterr().out.splitlines() if "ucg-joint" in ln]
    assert [ln.split("--out ")[1] for ln in joint] == [f"{runs}/seed{k}/ucg-joint-captions-mismatched" for k in (0, 2)]


def test_a_primary_of_several_metrics_needs_them_all_and_checks_each_part(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    spec = write_spec(tmp_path / "s.yaml", "good", "bad", replicates=100)
    spec.write_text(spec.read_text().replace(
        "primary: {metric: event-hit, better: higher, tasks: [t2av]}",
        "primary: {all: [{metric: event-hit, better: higher, tasks: [t2av]}, "
        "{metric: event-sync, better: lower, tasks: [t2av]}]}"))
    v = run_claims(spec, runs, tmp_path / "out", compute=None)
    x = _row(v)
    assert x["status"] == "supported" and [p["status"] for p in x["parts"]] == ["supported", "supported"]
    assert (tmp_path / "out" / "claim1-planted.png").stat().st_size > 0
    spec.write_text(spec.read_text().replace("{metric: event-sync, better: lower", "{metric: event-sync, better: higher"))
    assert _row(run_claims(spec, runs, tmp_path / "o2", compute=None))["status"] == "contradicted"
    moved = json.loads((tmp_path / "out" / "verdicts.json").read_text())
    moved["claims"][0]["comparisons"][0]["parts"][1]["ci95"][1] += 1.0
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    spec.write_text(spec.read_text().replace("{metric: event-sync, better: higher", "{metric: event-sync, better: lower"))
    with pytest.raises(VerdictsMoved, match=r"\[part 2\]: ci95 high"):
        run_claims(spec, runs, tmp_path / "o3", compute=None, check=tmp_path / "moved.json")


def test_a_metric_that_cannot_tell_ceiling_from_floor_decides_nothing(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    spec = write_spec(tmp_path / "s.yaml", "good", "bad", replicates=100)
    write_run(runs / "frame", 0, "ceiling", "ceiling")  # the frame rows, in any folder of the matrix
    write_run(runs / "frame", 0, "floor", "floor")
    v = run_claims(spec, runs, tmp_path / "out", compute=None)
    assert _row(v)["status"] == "supported" and v["frames"][0]["status"] == "supported"
    assert "| event-hit | t2av |" in (tmp_path / "out" / "README.md").read_text()
    write_run(runs / "frame", 0, "floor", "ceiling")  # a floor that scores like the ceiling: the metric fails the check
    v = run_claims(spec, runs, tmp_path / "out2", compute=None)
    assert v["frames"][0]["status"] == "inconclusive"
    x = _row(v)
    assert x["status"] == "inconclusive" and "does not separate the ceiling from the floor" in x["reason"]


def test_a_task_the_primary_pools_that_a_run_lacks_is_a_missing_run(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor"})
    spec = write_spec(tmp_path / "s.yaml", "good", "bad", replicates=50)
    spec.write_text(spec.read_text().replace("tasks: [t2av]", "tasks: [t2av, a2v]"))
    x = _row(run_claims(spec, runs, tmp_path / "o", compute=None))
    assert x["status"] == "not run" and "has no task a2v" in x["reason"]


def test_every_metric_the_shipped_study_names_is_a_registry_metric():
    from ccl_bench.metrics import METRICS

    study = load_study("av-sync")
    named = set()
    for c in study.claims:
        parts = c.primary.parts if c.primary.kind == "all" else (c.primary,)
        named |= {p.name for p in parts if p.kind in ("metric", "convergence")}
        named |= {s["metric"] for s in c.secondary if "metric" in s}
    assert named and not named - set(METRICS), sorted(named - set(METRICS))


def test_splits_chain_the_comparison_report_without_deciding_and_are_checked(tmp_path):
    runs = write_matrix(tmp_path / "runs", {"good": "ceiling", "bad": "floor", "mid": "ceiling"})
    spec = write_spec(tmp_path / "s.yaml", "good", "bad", replicates=100)
    spec.write_text(spec.read_text().replace('    design: ["[design] planted effect"]', '''    design: ["[design] planted effect"]
    splits:
      - {part: "first", treatment: {model: mid}, comparator: {model: bad}}
      - {part: "second", treatment: {model: good}, comparator: {model: mid}}'''))
    v = run_claims(spec, runs, tmp_path / "out", compute=None)
    x, (a, b) = _row(v), v["claims"][0]["splits"]
    assert (a["part"], b["part"]) == ("first", "second") and a["status"] == b["status"] == "reported"
    assert a["ci95"][0] > 0  # an interval that excludes 0 still decides nothing
    assert a["difference"] + b["difference"] == pytest.approx(x["difference"])  # same seeds and prompts: the parts add up
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "## Splits" in readme and "| 1 | first | mid vs bad |" in readme
    assert ",split: second," in (tmp_path / "out" / "claim1-planted.csv").read_text()
    moved = json.loads((tmp_path / "out" / "verdicts.json").read_text())
    moved["claims"][0]["splits"][1]["ci95"][0] -= 0.5
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(VerdictsMoved, match=r"\[split: second\]: ci95 low"):
        run_claims(spec, runs, tmp_path / "o2", compute=None, check=tmp_path / "moved.json")
