"""Claim-specific quantities: steps to a level from evaluation snapshots (claim 6) and profiler
costs (claim 7), alone and through the study."""

import json

import pytest

from ccl_bench.claims import run_claims
from ccl_bench.claims.compute import load_records, quantity
from ccl_bench.claims.convergence import steps_to_level

from .synthetic import write_run


def test_steps_to_level_takes_the_first_snapshot_reaching_it_and_censors_the_rest():
    assert steps_to_level([100, 200, 300], [0.1, 0.6, 0.4], 0.5) == (200.0, True)
    assert steps_to_level([300, 100, 200], [0.7, 0.1, 0.6], 0.5) == (200.0, True)  # order of the snapshots
    assert steps_to_level([100, 200, 300], [0.1, 0.2, 0.3], 0.5) == (400.0, False)  # one interval past the last
    assert steps_to_level([100, 200], [None, 30.0], 40.0, better="lower") == (200.0, True)
    with pytest.raises(ValueError):
        steps_to_level([100], [0.1, 0.2], 0.5)


CONVERGENCE = """
suite: av-sync
min_seeds: 3
bootstrap: {replicates: 100, level: 0.95, seed: 0}
claims:
  - id: 6
    name: speed
    claim: "fast converges sooner"
    comparisons: [{treatment: {model: fast}, comparator: {model: slow}}, {treatment: {model: fast}, comparator: {model: never}}]
    primary: {convergence: {metric: event-hit, task: t2av, at_least: 0.5}, better: lower}
    secondary: [{metric: event-hit, task: t2av}]
  - id: 7
    name: cost
    claim: "fast is cheaper"
    comparisons: [{treatment: {model: fast}, comparator: {model: slow}}, {treatment: {model: fast}, comparator: {model: gone}}]
    primary: {compute: flops_per_clip, scale: wan-1.3b, better: lower}
own_guidance: {fast: ucg, slow: cfg, gone: cfg, never: cfg}
"""


def test_convergence_and_compute_claims_through_the_study(tmp_path):
    runs = tmp_path / "runs"
    for seed in range(3):
        for step in (200, 400, 600):
            write_run(runs, seed, "fast", "ceiling" if step >= 400 else "floor", variant=f"step{step}", guidance="ucg", prompts=6)
            write_run(runs, seed, "slow", "ceiling" if step >= 600 else "floor", variant=f"step{step}", guidance="cfg", prompts=6)
            write_run(runs, seed, "never", "floor", variant=f"step{step}", guidance="cfg", prompts=6)
        # final runs made apart from the snapshots' training runs, the other way round: the final quality
        # of a convergence claim must come from the last snapshots (both at the ceiling), not from these
        write_run(runs, seed, "fast", "floor", variant="ucg", guidance="ucg", prompts=6)
        write_run(runs, seed, "slow", "ceiling", variant="cfg", guidance="cfg", prompts=6)
    compute = tmp_path / "compute"
    compute.mkdir()
    rec = lambda m, g, f: {"model": m, "scale": "wan-1.3b", "mode": "sample", "guidance": g,  # noqa: E731
                           "flops_guided_step": f, "sampling_steps": 50}
    (compute / "wan-1.3b-sample.json").write_text(json.dumps({"records": [
        rec("fast", "cfg", 1.0), rec("fast", "ucg", 3.0), rec("slow", "cfg", 4.0), rec("slow", "ucg", 2.0)]}))
    spec = tmp_path / "s.yaml"
    spec.write_text(CONVERGENCE)
    v = run_claims(spec, runs, tmp_path / "out", compute=compute)
    c6, c7 = v["claims"]
    x, never = c6["comparisons"]
    assert x["status"] == "supported" and x["treatment_value"] == 400 and x["comparator_value"] == 600
    assert x["difference"] == -200 and x["seeds"] == ["0", "1", "2"]
    assert "fast: 0 of 3 seeds never reached 0.5" in x["reason"]
    # the comparator never reaches the level: counted one interval past its last snapshot, and said so
    assert never["status"] == "supported" and never["comparator_value"] == 800
    assert "never: 3 of 3 seeds never reached 0.5" in never["reason"]
    final = x["secondary"][0]
    assert final["metric"] == "event-hit (t2av, last snapshot)"
    assert final["status"] == "inconclusive" and abs(final["difference"]) < 0.2  # step600: both at the ceiling
    assert (tmp_path / "out" / "claim6-speed.png").stat().st_size > 0  # the curves and the difference
    own, gone = c7["comparisons"]
    # Each model at its own guidance: fast with ucg (3.0 x 50), slow with cfg (4.0 x 50).
    assert own["status"] == "supported" and own["difference"] == -50.0 and own["ci95"] == [-50.0, -50.0]
    assert gone["status"] == "not run" and "comparator" in gone["reason"]


def test_profiler_records_prefer_the_default_clip_file(tmp_path):
    r = lambda tokens: {"records": [{"model": "ccl", "scale": "wan-1.3b", "mode": "train", "flops_fwd": tokens,  # noqa: E731
                                     "step_ms": 1.0}]}
    (tmp_path / "wan-1.3b-train.json").write_text(json.dumps(r(157)))
    (tmp_path / "wan-1.3b-train-1000-audio-tokens.json").write_text(json.dumps(r(1000)))
    recs = load_records(tmp_path)
    assert quantity(recs, "ccl", "wan-1.3b", "flops_fwd_train", None)[0] == 157
    assert quantity(recs, "ccl", "wan-14b", "flops_fwd_train", None) is None


def test_a_run_file_with_the_1000_token_variant_first_still_gives_the_default_clip(tmp_path):
    """benchmarks/compute.py writes one file a run; its variant rows (1,000 audio tokens) lose a tie."""
    rec = lambda ms, **kw: {"model": "ccl", "scale": "wan-1.3b", "mode": "train", "step_ms": ms, **kw}  # noqa: E731
    (tmp_path / "records-train-audio1000.json").write_text(json.dumps({"records": [
        rec(926.0, audio_tokens=1000, variant="1000-audio-tokens"), rec(901.0, audio_tokens=157)]}))
    value, path = quantity(load_records(tmp_path), "ccl", "wan-1.3b", "step_ms_train", None)
    assert value == 901.0 and path.name == "records-train-audio1000.json"


def test_a_later_run_of_the_same_measurement_stands(tmp_path):
    """A row re-measured at a later commit replaces the earlier one (as in benchmarks/compute.py's tables),
    whatever the files' names."""
    run = lambda ms, date: {"provenance": {"date_utc": date}, "records": [  # noqa: E731
        {"model": "ccl", "scale": "wan-1.3b", "mode": "train", "step_ms": ms}]}
    (tmp_path / "wan-1.3b-train.json").write_text(json.dumps(run(950.0, "2026-11-25T22:00:00Z")))
    (tmp_path / "records-train.json").write_text(json.dumps(run(881.0, "2026-11-26T00:24:00Z")))
    value, path = quantity(load_records(tmp_path), "ccl", "wan-1.3b", "step_ms_train", None)
    assert value == 881.0 and path.name == "records-train.json"
