"""Profiling: FLOP counts equal the analytic ones, records carry every field, CPU smoke runs."""

import json

import pytest
import torch

import reference_impl as R
from ccl_bench.cli import main
from ccl_bench.profiling import count_flops
from ccl_bench.runner.profile import ClipSize, profile_model, wan_shapes
from reference_impl.flops import forward_flops


@pytest.mark.parametrize("name", R.list_models())
def test_counted_flops_equal_the_analytic_count(name):
    model = R.build_model(name, "tiny")
    cfg = model.cfg
    x = (torch.randn(2, cfg.video_in_dim, 4, 8, 8), torch.randn(2, cfg.audio_in_dim, 32), torch.rand(2), torch.rand(2),
         torch.randn(2, 5, cfg.text_dim))
    assert count_flops(lambda: model(*x)) == forward_flops(cfg, (4, 8, 8), 32, 5, batch=2)["total"]


def test_wan_token_counts_and_flops_on_the_meta_device():
    model = R.build_model("ccl", "wan-1.3b", device="meta")
    shapes = wan_shapes(ClipSize.parse("352x640x5s"), 31.25, model.cfg)
    assert shapes.video == (16, 21, 44, 80) and shapes.tokens(model.cfg) == (18480, 157)
    x = [torch.empty(1, *shapes.video, device="meta"), torch.empty(1, *shapes.audio, device="meta"),
         torch.zeros(1, device="meta"), torch.zeros(1, device="meta"), torch.empty(1, 512, 4096, device="meta")]
    counted = count_flops(lambda: model(*x))
    assert counted == forward_flops(model.cfg, shapes.video[1:], 157, 512)["total"]
    assert 110e12 < counted < 125e12  # ~116 TFLOP per forward of the 1.3B pair on one 5 s clip


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x = (torch.randn(2, model.cfg.video_in_dim, 4, 8, 8), torch.randn(2, model.cfg.audio_in_dim, 32), torch.rand(2),
         torch.rand(2), torch.randn(2, 5, model.cfg.text_dim))

    def grads(ckpt):
        model.zero_grad()
        model.gradient_checkpointing = ckpt
        v, a = model(*x)
        (v.square().mean() + a.square().mean()).backward()
        return [p.grad.clone() for p in model.parameters()]

    for g0, g1 in zip(grads(False), grads(True), strict=True):
        torch.testing.assert_close(g0, g1)


def test_profile_records_train_and_sample():
    rec = profile_model("ccl", "tiny", "train", device="cpu", repeats=1, matmul_flops=1e11)[0]
    for key in ("model", "scale", "mode", "device", "params", "flops_fwd", "step_ms", "fwd_ms", "mfu"):
        assert key in rec
    assert rec["flops_check"] == 1.0 and rec["params"]["interaction"] > 0
    recs = profile_model("ccl", "tiny", "sample", guidance=["ucg", "ltx2"], steps=10, device="cpu", repeats=1)
    assert [(r["guidance"], r["passes_per_step"], r["nfe_per_clip"]) for r in recs] == [("ucg", 2, 20), ("ltx2", 4, 40)]
    assert all(r["sec_per_clip"] > 0 for r in recs)


def test_profile_cli_on_cpu_says_timings_are_not_comparable(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["profile", "--model", "ccl,none", "--scale", "small", "--repeats", "1", "--out", str(out)]) == 0
    screen = capsys.readouterr().out
    assert "not comparable with GPU" in screen
    recs = json.loads(out.read_text())["records"]
    assert {r["model"] for r in recs} == {"ccl", "none"} and recs[0]["video_tokens"] == 1024


def test_bad_clip_size_is_a_clear_error(capsys):
    assert main(["profile", "--model", "ccl", "--scale", "wan-1.3b", "--clip", "352by640"]) == 2
    assert "--clip '352by640'" in capsys.readouterr().err
