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
    tarp = [{"audio_tokens": 1000, "kind": "partitioned", "ms": 0.2}, {"audio_tokens": 1000, "kind": "dense", "ms": 0.5},
            {"audio_tokens": 1000, "kind": "auto (partitioned)", "ms": 0.21}]
    lines = compute.floors(records, tarp)
    verdicts = {line.split(":")[0]: line.rsplit("-> ", 1)[-1] for line in lines}
    assert verdicts["training step MFU of none >= 50%"] == "PASS"
    assert verdicts["training step MFU of ccl >= 45%"] == "PASS"
    assert verdicts["training step MFU of gated >= 45%"] == "FAIL"
    assert verdicts["sampling step MFU of ccl >= 50% (every scheme; lowest"] == "FAIL"  # ltx2's 49% is the lowest
    assert verdicts["sampling step MFU of none >= 50% (every scheme; lowest"] == "PASS"
    assert verdicts["CCL's time share over none <= 1.2 x its FLOP share"] == "PASS"
    assert verdicts["ucg NFE per clip <= 2/3 of ltx2's"] == "PASS"
    assert verdicts["TARP partitioned faster than dense at 1000 audio tokens"] == "PASS"
    assert verdicts["TARP's automatic path at most as slow as dense at 1000 audio tokens"].startswith("PASS")
    assert any("wan-14b rows: unavailable" in line for line in lines)


@pytest.mark.parametrize("share,verdict", [(0.12, "PASS"), (0.13, "FAIL")])
def test_time_share_floor_is_1_2_times_the_flop_share(share, verdict):
    lines = compute.floors([rec("ccl", "train", 0.5, share, 0.10)])
    assert next(line for line in lines if line.startswith("CCL's time share")).endswith(verdict)


def test_missing_rows_are_unavailable_not_passed():
    lines = compute.floors([])
    assert all("unavailable" in line for line in lines) and not any("PASS" in line for line in lines)
