"""benchmarks/compute.py states every floor of issue 12 with PASS / FAIL, or unavailable with the reason."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("compute", Path(__file__).parents[2] / "benchmarks" / "compute.py")
compute = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compute)


def rec(model, mode, mfu, share=None, flop_share=0.1, guidance=None, checkpointing=False):
    return {"model": model, "mode": mode, "scale": "wan-1.3b", "audio_tokens": 157, "mfu": mfu, "guidance": guidance,
            "interaction_share": share, "flop_share": flop_share, "checkpointing": checkpointing,
            "nfe_per_clip": {"ucg": 100, "ltx2": 200}.get(guidance)}


def test_floors_pass_and_fail_on_the_numbers():
    records = [rec("none", "train", 0.55, 0.0, 0.0), rec("ccl", "train", 0.46, 0.11, 0.10), rec("gated", "train", 0.40),
               rec("ccl", "sample", 0.52, guidance="ucg"), rec("ccl", "sample", 0.49, guidance="ltx2"),
               rec("none", "sample", 0.6, guidance="ucg")]
    tarp = [{"audio_tokens": 1000, "kind": "flex", "ms": 0.2}, {"audio_tokens": 1000, "kind": "dense", "ms": 0.5},
            {"audio_tokens": 1000, "kind": "auto (flex)", "ms": 0.21},
            {"audio_tokens": 157, "kind": "dense", "ms": 0.1}, {"audio_tokens": 157, "kind": "auto (flex)", "ms": 0.11},
            # the audio queries' rows: floored with the video queries' per layer, not alone
            {"audio_tokens": 157, "kind": "dense", "ms": 0.01, "direction": "audio"},
            {"audio_tokens": 157, "kind": "auto (gather)", "ms": 0.5, "direction": "audio"},
            {"audio_tokens": 1000, "kind": "dense", "ms": 0.3, "direction": "audio"},
            {"audio_tokens": 1000, "kind": "auto (gather)", "ms": 0.1, "direction": "audio"}]
    lines = compute.floors(records, tarp)
    verdicts = {line.split(":")[0]: line.rsplit("-> ", 1)[-1] for line in lines}
    assert verdicts["training step MFU of none >= 50%"] == "PASS"
    assert verdicts["training step MFU of ccl >= 45%"] == "PASS"
    assert verdicts["training step MFU of gated >= 45%"] == "FAIL"
    assert verdicts["sampling step MFU of ccl >= 50% (every scheme; lowest"] == "FAIL"  # ltx2's 49% is the lowest
    assert verdicts["sampling step MFU of none >= 50% (every scheme; lowest"] == "PASS"
    assert verdicts["CCL's time share over none <= 1.2 x its FLOP share"] == "PASS"
    assert verdicts["ucg NFE per clip <= 2/3 of ltx2's"] == "PASS"
    assert verdicts["TARP partitioned (automatic path"] == "PASS"  # flex, 0.21 < 0.5 ms at 1,000 tokens
    auto = [line for line in lines if line.startswith("TARP's automatic path (flex) at most as slow")]
    assert len(auto) == 2 and "1000 audio tokens" in auto[1] and auto[1].endswith("PASS (5% timing tolerance)")
    assert "157 audio tokens" in auto[0] and "-> FAIL" in auto[0]  # 0.11 > 1.05 x 0.10 ms
    layer = [line for line in lines if line.startswith("TARP per layer")]
    assert "157 audio tokens: 0.610 vs 0.110 ms -> FAIL" in layer[0]  # the audio queries' slow path counts
    assert "1000 audio tokens: 0.310 vs 0.800 ms -> PASS" in layer[1] and layer[2].endswith("PASS")
    assert any("wan-14b rows: unavailable" in line for line in lines)


@pytest.mark.parametrize("share,verdict", [(0.12, "PASS"), (0.13, "FAIL")])
def test_time_share_floor_is_1_2_times_the_flop_share(share, verdict):
    lines = compute.floors([rec("ccl", "train", 0.5, share, 0.10)])
    assert next(line for line in lines if line.startswith("CCL's time share")).endswith(verdict)


def test_missing_rows_are_unavailable_not_passed():
    lines = compute.floors([])
    assert all("unavailable" in line for line in lines) and not any("PASS" in line for line in lines)


def test_tarp_bench_runs_every_path_and_the_partition_computes_less():
    import torch

    from ccl_bench.runner.profile import tarp_attention_bench

    rows = tarp_attention_bench(video_tokens_grid=(21, 2, 2), audio_tokens=(157, 1000), heads=2, head_dim=16, lct=4,
                                device="cpu", dtype=torch.float32, repeats=1)
    timed = [r for r in rows if not r["kind"].startswith("grad:")]
    kinds = {(r["direction"], r["audio_tokens"], r["kind"].split(" ")[0]): r for r in timed}
    assert {k for *_, k in kinds} == {"gather", "dense-masked", "auto", "dense"}  # flex, varlen: GPU kernels only
    assert {d for d, *_ in kinds} == {"video", "audio"}
    for na in (157, 1000):  # the window's scores only, against every partner token's
        assert kinds[("video", na, "gather")]["flops"] < kinds[("video", na, "dense")]["flops"] / 4
    assert kinds[("video", 1000, "auto")]["kind"] == "auto (gather)"
    assert all(r["ms"] > 0 for r in timed)
    # each path's output, and its gradients with one example's partner absent, equal the masked reference
    assert all(r["max_rel_error"] < 1e-5 for r in timed if r["kind"] != "dense")
    assert kinds[("video", 157, "dense")]["max_rel_error"] is None  # (it reads other keys by design)
    grads = {(r["direction"], r["audio_tokens"], r["kind"]): r["max_rel_error"] for r in rows if r["kind"].startswith("grad:")}
    assert {k for *_, k in grads} >= {"grad:gather", "grad:dense-masked"} and len(grads) == 12
    assert all(e < 1e-5 for e in grads.values())
    assert all(r["train_ms"] > 0 for r in rows if r["kind"].startswith("grad:"))


def test_a_run_writes_one_record_file_and_names_its_torch(tmp_path):
    """The GPU machine returns at most 8 files: a run writes one JSON (all its groups), the table and the plot."""
    import argparse

    import torch

    args = argparse.Namespace(out=str(tmp_path), scale="tiny", clip="352x640x5s", steps=2, repeats=1, groups="tarp",
                              models="ccl,none", layers_14b=1, compile=False, plot_only=False, schemes=None,
                              budget_s=None)
    compute.run(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compute.md", "compute.png", "records-tarp.json"]
    md = (tmp_path / "compute.md").read_text()
    assert f"torch {torch.__version__}:" in md  # the runs list names each run's torch
    assert "| video | 84 | 1000 |" in md and "| audio | 84 | 157 |" in md


def test_a_newer_run_replaces_the_rows_it_measured_again_and_each_row_keeps_its_commit(tmp_path):
    import json

    def run(name, commit, date, records):
        (tmp_path / name).write_text(json.dumps({"provenance": {"commit": commit, "date_utc": date, "command": name},
                                                 "records": records}))

    # File names sort against the dates: the provenance date decides, not the name or the file time.
    run("a-new.json", "new", "2026-11-26T00:00:00Z", [rec("joint", "sample", 0.55, guidance="ucg")])
    run("z-old.json", "old", "2026-11-25T00:00:00Z", [rec("joint", "sample", 0.29, guidance="ucg"),
                                                       rec("joint", "sample", 0.31, guidance="cfg")])
    provs, records, tarp = compute.load(tmp_path)
    got = {(r["guidance"], r["commit"]): r["mfu"] for r in records}
    assert got == {("ucg", "new"): 0.55, ("cfg", "old"): 0.31} and tarp == []
    assert [p["file"] for p in provs] == ["z-old.json", "a-new.json"]
    run("b-newest.json", "newest", "2026-11-27T00:00:00Z", [rec("joint", "sample", 0.6, guidance="cfg")])
    provs, records, _ = compute.load(tmp_path)
    assert [p["file"] for p in provs] == ["a-new.json", "b-newest.json"]  # nothing of the old run stands


def test_a_newer_tarp_run_replaces_the_automatic_row_whichever_path_it_took(tmp_path):
    import json

    def row(kind, ms):
        return {"direction": "video", "kind": kind, "query_tokens": 84, "key_tokens": 157, "audio_tokens": 157, "ms": ms}

    for name, date, kind, ms in (("old.json", "2026-11-25T00:00:00Z", "auto (flex)", 0.2),
                                 ("new.json", "2026-11-26T00:00:00Z", "auto (varlen)", 0.1)):
        (tmp_path / name).write_text(json.dumps({"provenance": {"commit": name, "date_utc": date},
                                                 "records": [row(kind, ms), row("dense", 0.15)]}))
    _, _, tarp = compute.load(tmp_path)
    assert sorted((t["kind"], t["ms"]) for t in tarp) == [("auto (varlen)", 0.1), ("dense", 0.15)]
    assert any("automatic path (varlen)" in line and "PASS" in line for line in compute.floors([], tarp))
