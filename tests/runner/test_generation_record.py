"""What `run` records about a generation is that generation's: its peak memory cannot carry an earlier
one's, and its conditions are the suite folder's clips, not a second rendering."""

import json
import resource
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ccl_bench.io import AVClip, read_clip, write_clip
from ccl_bench.runner.run import PeakMemory
from ccl_bench.runner.sample import generate
from ccl_bench.suites import build_suite, load_suite

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists() or sys.platform != "linux", reason="Linux /proc only")
def test_peak_memory_is_reset_before_a_generation():
    big = np.ones(40_000_000)  # 320 MB resident, then freed: an earlier model's peak
    big[::512] = 2.0
    del big
    lifetime_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    peak = PeakMemory("cpu")
    small = np.ones(1_000_000)  # 8 MB: this generation's own work
    small += 1
    got = peak.read()
    assert got["memory_measure"].startswith("peak resident set (VmHWM) during this generation")
    assert got["peak_rss_gb"] < lifetime_gb - 0.25, (got, lifetime_gb)


def test_generation_reads_its_conditions_from_the_suite_folder(tmp_path):
    ref = tmp_path / "ref"
    build_suite(load_suite("av-sync"), ref, split="test", rendering="tiny", num=2, seed=0, show_progress=False)
    # Change clip 1's picture on disk: a V2A model keeps the conditioning video, so the output must show
    # the changed picture if (and only if) generation read the folder rather than rendering the suite again.
    manifest = json.loads((ref / "manifest.json").read_text())
    path = ref / manifest["clips"][1]["video"]
    clip = read_clip(path)
    changed = AVClip(np.full_like(clip.video, 77), clip.fps, clip.audio, clip.sample_rate)
    write_clip(changed, path)
    out = generate(ROOT / "checkpoints" / "av-sync" / "ccl", "av-sync", "v2a", 2, tmp_path / "gen", steps=1, device="cpu",
                   show_progress=False, reference=ref)
    got = [read_clip(tmp_path / "gen" / c["video"]).video for c in out["clips"]]
    np.testing.assert_array_equal(got[1], changed.video)
    np.testing.assert_array_equal(got[0], read_clip(ref / manifest["clips"][0]["video"]).video)
    assert set(out["timing"]) == {"load_s", "condition_s", "sample_s", "write_s"} and out["timing"]["sample_s"] > 0


def test_a_folder_of_another_rendering_is_refused(tmp_path):
    from ccl_bench.errors import CCLBenchError

    ref = tmp_path / "ref"
    build_suite(load_suite("av-sync"), ref, split="test", rendering="tiny", num=1, seed=0, show_progress=False)
    m = json.loads((ref / "manifest.json").read_text())
    m["rendering"] = "native"
    (ref / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CCLBenchError, match="rendering 'native', not 'av-sync' 'tiny'"):
        generate(ROOT / "checkpoints" / "av-sync" / "ccl", "av-sync", "t2av", 1, tmp_path / "gen", steps=1, device="cpu",
                 show_progress=False, reference=ref)
    shutil.rmtree(tmp_path / "gen", ignore_errors=True)
