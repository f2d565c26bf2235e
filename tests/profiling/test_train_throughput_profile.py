"""`benchmarks/train_throughput.py --profile`: a variant's step by kernel family, written beside throughput.md."""

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks"


def load():
    sys.path.insert(0, str(BENCH))  # the script imports interaction_profile's families, as when run from there
    try:
        spec = importlib.util.spec_from_file_location("train_throughput", BENCH / "train_throughput.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


def test_profiled_variants_get_family_shares_and_the_json_keeps_no_kernels(tmp_path, monkeypatch):
    tt = load()
    monkeypatch.syspath_prepend(str(BENCH))
    meta = {"scale": "small", "device": "NVIDIA H100", "torch": "2.11", "commit": "abcdef123456", "date_utc": "d",
            "warmup": 5, "command": "cmd"}
    kernels = {"nvjet_sm90_tst_128x256_NNN": [3.0, 10], "triton_red_fused_rms_norm_1": [1.0, 6],
               "cudnn_generated_fort_native_sdpa_sm90_flash_fprop": [4.0, 6]}
    rows = [{"variant": "old", "model": "ccl", "batch_size": 8, "ms_per_step": 20.0, "examples_per_s": 400.0},
            {"variant": "new", "model": "ccl", "batch_size": 8, "ms_per_step": 8.1, "examples_per_s": 987.7,
             "kernels": kernels}]
    for r in rows:
        r.update(compiled=True, cuda_graphs=True, warmup_s=1.0, peak_memory_gib=1.0, loss=1.0)
    tt.write_report(tmp_path, rows, meta)
    text = (tmp_path / "throughput-profile.md").read_text()
    assert "## new (ccl, batch 8, 8.1 ms/step wall)" in text and "## old" not in text  # only profiled variants
    assert "| attention | 4.00 | 50.0% |" in text and "| matmul | 3.00 | 37.5% |" in text
    assert "| fused reduction | 1.00 | 12.5% |" in text and "| total | 8.00 | |" in text
    saved = json.loads((tmp_path / "throughput.json").read_text())
    assert all("kernels" not in r for r in saved["results"])
    assert saved["results"][1]["speedup_vs_old"] == 2.47
    assert json.loads((tmp_path / "throughput-profile.json").read_text())["variants"]["new"] == kernels
