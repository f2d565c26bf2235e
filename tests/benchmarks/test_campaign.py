"""The training campaign planner (benchmarks/train_small.py) at tiny scale on CPU: it resumes a half-done
matrix without retraining finished runs, and a portable state continues a run exactly."""

import importlib.util
import json
import sys
from pathlib import Path

import torch

import reference_impl as R
from reference_impl.diffusion import TrainConfig, Trainer
from tests.reference_impl.latents import random_latent_data as _data

_spec = importlib.util.spec_from_file_location("train_small", Path(__file__).parents[2] / "benchmarks" / "train_small.py")
train_small = importlib.util.module_from_spec(_spec)
sys.modules["train_small"] = train_small  # dataclasses look their module up
_spec.loader.exec_module(train_small)

ARGS = ["--scale", "tiny", "--device", "cpu", "--inline", "--budget-s", "3600", "--reserve-s", "0", "--steps", "2",
        "--stream-steps", "2", "--audio-stream-steps", "2", "--seeds", "0", "--clips", "4", "--batch-size", "2",
        "--log-every", "1"]


def test_plan_order_is_streams_then_seed_major():
    specs = train_small.plan(["ccl", "gated"], [0, 1], 10, 20, 30, 4)
    assert [s.name for s in specs] == ["streams-video", "streams-audio", "ccl/seed-0", "gated/seed-0", "ccl/seed-1",
                                       "gated/seed-1"]
    assert specs[1].steps == 30 and specs[1].streams == ("audio",)
    by_model = train_small.plan(["ccl", "gated"], [0, 1], 10, 20, 30, 4, only="models", order="model")
    assert [s.name for s in by_model] == ["ccl/seed-0", "ccl/seed-1", "gated/seed-0", "gated/seed-1"]


def test_slots_share_a_gpu_by_its_index():
    assert train_small.gpu_slots("0,1", 2) == ["0", "0:1", "1", "1:1"]
    assert train_small.gpu_slots("3", 1) == ["3"]


def test_campaign_resumes_a_half_done_matrix(tmp_path, capsys):
    out = tmp_path / "camp"
    train_small.main(["--out", str(out), "--models", "ccl", *ARGS])
    first = (out / "summary.json").read_text()
    assert json.loads(first)["runs"]["ccl/seed-0"]["state"] == "done"
    assert (out / "streams" / "ema.safetensors").is_file()
    log = (out / "runs" / "ccl" / "seed-0" / "metrics.jsonl").read_text()
    committed = tmp_path / "committed"  # what a session leaves behind, continued by the next from a copy
    train_small.main(["--out", str(committed), "--resume-from", str(out), "--models", "ccl,none", *ARGS])
    summary = json.loads((committed / "summary.json").read_text())
    assert summary["session"]["touched"] == ["none/seed-0"]  # stage 1 and ccl were done: not trained again
    assert summary["runs"]["none/seed-0"]["state"] == "done"
    assert (committed / "runs" / "ccl" / "seed-0" / "metrics.jsonl").read_text() == log



def _trainer(out):
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    return Trainer(model, _data(model.cfg), TrainConfig(steps=4, batch_size=2, log_every=1, warmup_steps=2), out)


def test_portable_state_continues_exactly_when_the_moments_fit(tmp_path):
    whole = _trainer(tmp_path / "whole")
    whole.fit()
    part = _trainer(tmp_path / "part")
    part.fit(stop_after=2)
    kept = part.save_portable(tmp_path / "state.safetensors", max_bytes=2**30)
    assert kept["moments"] and kept["weights"] == "float32"
    cont = _trainer(tmp_path / "cont")
    cont.load_portable(tmp_path / "state.safetensors")
    assert cont.step == 2
    while cont.step < 4:
        cont.train_step(record_losses=False)
    for a, b in zip(whole.model.state_dict().values(), cont.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_portable_state_drops_the_moments_that_do_not_fit(tmp_path):
    part = _trainer(tmp_path / "part")
    part.fit(stop_after=2)
    kept = part.save_portable(tmp_path / "state.safetensors", max_bytes=2**10)
    assert kept == {"weights": "bfloat16", "moments": False, "bytes": kept["bytes"]}
    cont = _trainer(tmp_path / "cont")
    cont.load_portable(tmp_path / "state.safetensors")
    assert cont.step == 2 and cont._warm_start == 2  # the warm-up runs again for the fresh optimiser


def test_campaign_stage2_takes_the_shapes_of_committed_wider_streams(tmp_path):
    # A campaign continued from committed stage-1 runs, the video stream trained wider than the scale's default.
    from ccl_bench.cli import main

    committed = tmp_path / "committed"
    common = ["--stage", "streams", "--suite", "av-sync", "--scale", "tiny", "--clips", "4", "--batch-size", "2",
              "--steps", "2", "--quiet", "--device", "cpu"]
    assert main(["train", "--streams", "video", "--set", "video_dim=64", "--set", "video_ffn_dim=96",
                 "--out", str(committed / "runs" / "streams-video"), *common]) == 0
    assert main(["train", "--streams", "audio", "--out", str(committed / "runs" / "streams-audio"), *common]) == 0
    stage1 = train_small.plan([], [], 2, 2, 2, 2, only="streams")
    (committed / "plan.json").write_text(json.dumps({"runs": [train_small.asdict(s) for s in stage1]}))
    out = tmp_path / "camp"  # a session of stage 2 alone: the streams are joined from the plan's stage-1 runs
    train_small.main(["--out", str(out), "--resume-from", str(committed), "--only", "models", "--models", "ccl", *ARGS])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["session"]["touched"] == ["ccl/seed-0"]  # stage 1 was done: not trained again
    info = json.loads((out / "runs" / "ccl" / "seed-0" / "config.json").read_text())
    assert (info["model"]["video_dim"], info["model"]["video_ffn_dim"]) == (64, 96)
    assert info["train"]["init_from"] == "streams"  # the campaign's own folder, not this machine's path
