"""benchmarks/motion_probe.py: a steady scene has no flicker and no events; a jittering blob has both."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("motion_probe", Path(__file__).parents[2] / "benchmarks" / "motion_probe.py")
probe = importlib.util.module_from_spec(_spec)
sys.modules["motion_probe"] = probe
_spec.loader.exec_module(probe)


def _scene(jitter: bool, frames: int = 32, size: int = 32) -> np.ndarray:
    """A grey background with a 3 px square gliding right; `jitter`: its size and place change at random each frame."""
    rng = np.random.default_rng(0)
    video = np.full((frames, size, size, 3), 30, np.uint8)
    for i in range(frames):
        x, side = 4 + i // 2, 3
        if jitter:
            x, side = x + int(rng.integers(-3, 4)), int(rng.integers(2, 7))
        video[i, 14 : 14 + side, x : x + side] = (220, 40, 200)
    return video


def test_a_gliding_square_is_steady_and_a_jittering_one_is_not():
    steady, jitter = probe.clip_motion(_scene(False), 16.0), probe.clip_motion(_scene(True), 16.0)
    assert steady["events"] == 0 and steady["flicker"] < 1.0
    assert jitter["events"] >= 3 and jitter["flicker"] > 2 * steady["flicker"]


def test_families_are_averaged_and_all_is_last():
    rows = [("a", {"flicker": 1.0}), ("b", {"flicker": 3.0}), ("a", {"flicker": 2.0})]
    fams = probe.by_family(rows)
    assert list(fams) == ["a", "b", "all"] and fams["a"] == {"clips": 2, "flicker": 1.5} and fams["all"]["clips"] == 3


def test_a_clip_folder_is_read_and_drawn(tmp_path):
    import json

    from PIL import Image

    from ccl_bench.io import AVClip, write_clip

    for name, jitter in (("ref", False), ("gen", True)):
        folder = tmp_path / name
        folder.mkdir()
        path = write_clip(AVClip(_scene(jitter), 16, np.zeros((1, 32000), np.float32), 16000), folder / "c0.mkv")
        (folder / "manifest.json").write_text(json.dumps({"clips": [{"id": "c0", "video": path.name, "label": "ball"}]}))
    ref, gen = probe.read_folder(tmp_path / "ref"), probe.read_folder(tmp_path / "gen")
    assert ref["ball"]["events"] == 0 and gen["ball"]["events"] >= 3 and list(gen) == ["ball", "all"]
    probe.frame_strip([tmp_path / "ref", tmp_path / "gen"], ["c0"], tmp_path / "strip.png", frames=8, zoom=2)
    assert Image.open(tmp_path / "strip.png").size == (8 * 34 * 2, 2 * 34 * 2)  # 8 framed 32 px frames, 2 rows


def test_flicker_is_split_by_frame_pairs():
    held = np.repeat(_scene(True, frames=16), 2, axis=0)  # each frame shown twice: changes only from 2k+1 to 2k+2
    m = probe.clip_motion(held, 16.0)
    assert m["pairs 2k>2k+1"] == 0 and m["pairs 2k+1>2k+2"] > 0
    assert m["flicker"] == pytest.approx((15 * m["pairs 2k+1>2k+2"]) / 31)  # 16 of 31 changes are within a pair


def test_a_sweep_samples_each_setting_beside_the_suites_clips():
    root = Path(__file__).parents[2]
    rows = probe.sweep(root / "checkpoints" / "av-sync" / "streams", ["1:ucg:4:3", "1:ucg:1:3"], num=2, seed=0, task="t2v")
    assert list(rows) == ["suite's clips", "1:ucg:4:3", "1:ucg:1:3"]
    assert all(r["all"]["clips"] == 2 for r in rows.values())
    assert rows["1:ucg:4:3"]["all"]["flicker"] != rows["1:ucg:1:3"]["all"]["flicker"]  # the scale reached the sampler
