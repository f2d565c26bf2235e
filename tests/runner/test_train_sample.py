"""`ccl-bench train` and `ccl-bench sample` end to end on CPU, at tiny scale."""

import json

import numpy as np
import pytest

from ccl_bench.cli import main
from ccl_bench.io import read_clip
from ccl_bench.suites import load_suite, make_clip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "ccl-tiny"
    code = main(["train", "--model", "ccl", "--suite", "av-sync", "--scale", "tiny", "--steps", "60", "--out", str(out),
                 "--quiet"])
    assert code == 0
    return out


def test_train_logs_a_falling_loss(trained):
    rows = [json.loads(ln) for ln in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 50, 60]
    assert all({"loss", "lr", "lr_cross", "grad_norm", "seconds"} <= set(r) for r in rows)
    assert any(k.startswith("loss_t2av") for r in rows for k in r)
    first, last = np.mean([r["loss"] for r in rows[:2]]), np.mean([r["loss"] for r in rows[-2:]])
    assert last < 0.85 * first, (first, last)
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["name"] == "ccl" and cfg["steps_done"] == 60 and cfg["model"]["interaction"] == "ccl"
    prov = cfg["provenance"]  # a run's weights say which commit, versions and command made them
    assert len(prov["commit"]) == 40 and prov["versions"]["torch"] and "--steps 60" in prov["command"]
    assert (trained / "ema.safetensors").stat().st_size < 2_000_000


def test_train_refuses_to_overwrite_without_resume(trained, capsys):
    code = main(["train", "--model", "ccl", "--steps", "61", "--out", str(trained), "--quiet"])
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_train_refuses_a_negative_decay(tmp_path, capsys):
    code = main(["train", "--model", "ccl", "--scale", "tiny", "--steps", "2", "--decay-steps", "-1", "--out",
                 str(tmp_path / "run"), "--quiet"])
    assert code == 2 and "--decay-steps -1" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("task,guidance", [("t2av", "ucg"), ("a2v", "ltx2"), ("v2a", "ucg-joint"), ("t2v", "cfg")])
def test_sample_writes_clips_and_a_manifest(trained, tmp_path, task, guidance):
    out = tmp_path / task
    code = main(["sample", "--checkpoint", str(trained), "--suite", "av-sync", "--task", task, "--num", "3",
                 "--out", str(out), "--guidance", guidance, "--steps", "3", "--quiet"])
    assert code == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["task"] == task and m["guidance"] == guidance and len(m["clips"]) == 3
    assert m["passes_per_step"] == {"ucg": 2, "ltx2": 4, "ucg-joint": 3, "cfg": 2}[guidance]
    spec = load_suite("av-sync")
    for i, c in enumerate(m["clips"]):
        clip = read_clip(out / c["video"])
        assert clip.video.shape == (32, 32, 32, 3) and clip.num_samples == 32000
        truth = make_clip(spec, "test", spec.rendering("tiny"), i, 0, 3)
        assert c["caption"] == truth.metadata["caption"]
        if task == "a2v":  # the conditioning audio is kept, bit for bit (lossless container)
            assert c["condition"] == {"modality": "audio", "source": c["id"]}
            np.testing.assert_array_equal(clip.audio, truth.audio)
        if task == "v2a":
            np.testing.assert_array_equal(clip.video, truth.video)


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    code = main(["sample", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "not a trained checkpoint folder" in err and "ccl-bench train" in err
