"""`ccl-bench train --stage streams` then `--init-from`, end to end on CPU at tiny scale."""

import json

import pytest
import torch
from safetensors.torch import load_file

from ccl_bench.cli import main
from ccl_bench.runner.models import load_trained
from ccl_bench.runner.train import STAGE_LR, merge_streams

COMMON = ["--suite", "av-sync", "--scale", "tiny", "--clips", "8", "--batch-size", "2", "--quiet"]


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage1")
    for stream in ("video", "audio"):
        code = main(["train", "--stage", "streams", "--streams", stream, "--steps", "2", "--out", str(root / stream), *COMMON])
        assert code == 0
    return root


def test_stage1_runs_hold_one_stream_each(stage1):
    for stream in ("video", "audio"):
        keys = load_file(str(stage1 / stream / "ema.safetensors")).keys()
        assert keys and all(k.startswith(f"{stream}_stream.") for k in keys)
        info = json.loads((stage1 / stream / "config.json").read_text())
        assert info["train"]["stage"] == "streams" and info["streams"] == [stream]
        assert info["train"]["task_probs"] == {"video": {"t2v": 1.0}, "audio": {"t2a": 1.0}}[stream]


def test_stage2_starts_from_the_stage1_streams(stage1, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # absolute paths given are recorded relative to the working directory
    merged = merge_streams([stage1 / "video", stage1 / "audio"], tmp_path / "streams")
    parts = [part["folder"] for part in json.loads((merged / "config.json").read_text())["parts"]]
    assert parts == ["<outside>/video", "<outside>/audio"]  # the stage-1 runs lie outside it
    out = tmp_path / "ccl"
    frozen = ["--steps", "1", "--lr", "0", "--lr-cross", "0"]  # one step that moves nothing: the model at step 0
    assert main(["train", "--model", "ccl", "--init-from", str(merged), *frozen, "--out", str(out), *COMMON]) == 0
    info = json.loads((out / "config.json").read_text())
    assert info["train"]["init_from"] == "streams" and info["train"]["stage"] == "joint"
    assert STAGE_LR["stage2"]["lr_cross"] == pytest.approx(10 * STAGE_LR["stage2"]["lr"])  # the paper's ratio
    s1, s2 = load_file(str(merged / "ema.safetensors")), load_file(str(out / "ema.safetensors"))
    assert all(torch.equal(s1[k], s2[k]) for k in s1)  # step 0: the streams are stage 1's
    assert {k for k in s2 if k not in s1} and all(k.startswith("interactions.") for k in s2 if k not in s1)
    # ... and so are its T2V and T2A predictions (the interaction's output starts at zero).
    streams, _ = load_trained(merged)
    model, _ = load_trained(out)
    g, c = torch.Generator().manual_seed(0), model.cfg
    xv, xa = torch.randn(2, c.video_in_dim, 32, 16, 16, generator=g), torch.randn(2, c.audio_in_dim, 128, generator=g)
    t, text, mask = torch.rand(2, generator=g), torch.randn(2, 5, c.text_dim, generator=g), torch.ones(2, 5, dtype=torch.bool)
    with torch.no_grad():
        for task, pick in (("t2v", 0), ("t2a", 1)):
            a = streams(xv, xa, t, t, text, mask, tasks=[task] * 2)[pick]
            b = model(xv, xa, t, t, text, mask, tasks=[task] * 2)[pick]
            assert torch.equal(a, b), task
    # the two one-stream folders, named together, load the same
    again = tmp_path / "ccl2"
    arg = f"{stage1 / 'video'},{stage1 / 'audio'}"
    assert main(["train", "--model", "ccl", "--init-from", arg, *frozen, "--out", str(again), *COMMON]) == 0
    s3 = load_file(str(again / "ema.safetensors"))
    assert all(torch.equal(s1[k], s3[k]) for k in s1)


def test_init_from_one_stream_is_a_clear_error(stage1, tmp_path, capsys):
    code = main(["train", "--model", "ccl", "--init-from", str(stage1 / "video"), "--steps", "1", "--out",
                 str(tmp_path / "x"), *COMMON])
    assert code == 2 and "stage 2 needs both video and audio" in capsys.readouterr().err


def test_init_from_a_model_folder_is_refused(stage1, tmp_path, capsys):
    run = tmp_path / "none"
    assert main(["train", "--model", "none", "--steps", "1", "--out", str(run), *COMMON]) == 0
    code = main(["train", "--model", "ccl", "--init-from", str(run), "--steps", "1", "--out", str(tmp_path / "x"), *COMMON])
    assert code == 2 and "not 'streams'" in capsys.readouterr().err


def test_stage2_takes_the_shapes_of_wider_streams(stage1, tmp_path, capsys):
    # A video stream trained wider than the scale's default: stage 2 builds that width without being told.
    wide = tmp_path / "wide-video"
    assert main(["train", "--stage", "streams", "--streams", "video", "--steps", "1", "--set", "video_dim=64",
                 "--set", "video_ffn_dim=96", "--out", str(wide), *COMMON]) == 0
    merged = merge_streams([stage1 / "audio", wide], tmp_path / "streams")  # each stream's shapes from its own run
    assert json.loads((merged / "config.json").read_text())["model"]["video_dim"] == 64
    out = tmp_path / "ccl"
    frozen = ["--steps", "1", "--lr", "0", "--lr-cross", "0"]
    assert main(["train", "--model", "ccl", "--init-from", str(merged), *frozen, "--out", str(out), *COMMON]) == 0
    model, _ = load_trained(out)
    assert (model.cfg.video_dim, model.cfg.video_ffn_dim) == (64, 96)
    s1, s2 = load_file(str(merged / "ema.safetensors")), load_file(str(out / "ema.safetensors"))
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    # a --set that contradicts the streams is refused, naming the field
    code = main(["train", "--model", "ccl", "--init-from", str(merged), "--set", "video_dim=32", "--steps", "1",
                 "--out", str(tmp_path / "x"), *COMMON])
    assert code == 2 and "video_dim" in capsys.readouterr().err


def test_a_stage1_run_continues_from_a_stage1_folder(stage1, tmp_path, capsys):
    """A stage-1 stream trains longer from an earlier run's EMA (a fresh optimizer): at step 0 it is that EMA."""
    out = tmp_path / "video-longer"
    frozen = ["--steps", "1", "--lr", "0"]
    assert main(["train", "--stage", "streams", "--streams", "video", "--init-from", str(stage1 / "video"), *frozen,
                 "--out", str(out), *COMMON]) == 0
    before, after = load_file(str(stage1 / "video" / "ema.safetensors")), load_file(str(out / "ema.safetensors"))
    assert set(before) == set(after) and all(torch.equal(before[k], after[k]) for k in before)
    info = json.loads((out / "config.json").read_text())
    assert info["train"]["stage"] == "streams" and info["train"]["init_from"].endswith("video")
    # the other stream's run cannot start this one
    code = main(["train", "--stage", "streams", "--streams", "audio", "--init-from", str(stage1 / "video"),
                 "--steps", "1", "--out", str(tmp_path / "audio"), *COMMON])
    assert code != 0 and "holds the video stream(s); this stage-1 run trains the audio stream" in capsys.readouterr().err


def test_claims_measures_joins_two_stage1_runs_as_init_from_does(stage1, tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "claims_measures.py"
    spec = importlib.util.spec_from_file_location("claims_measures", path)
    cm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cm)
    pair, _ = cm.load_stage1(f"{stage1 / 'video'},{stage1 / 'audio'}", "cpu")
    joined, _ = load_trained(merge_streams([stage1 / "video", stage1 / "audio"], tmp_path / "streams"))
    a, b = pair.state_dict(), joined.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    audio = load_file(str(stage1 / "audio" / "ema.safetensors"))  # the audio run's own weights, not a fresh init
    assert audio and all(torch.equal(a[k], v.float()) for k, v in audio.items())
