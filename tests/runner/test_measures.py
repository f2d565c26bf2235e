"""Claim measurements that need a model (claims 1 and 2), on tiny models and small latents (CPU)."""

import numpy as np
import pytest
import torch

from ccl_bench.runner.measures import (
    _capture,
    audio_attention_shares,
    background_tokens,
    cca_weights,
    prediction_drift,
    video_grid,
    write_measure,
)
from ccl_bench.suites import load_suite
from ccl_bench.suites.av_sync import FAMILIES
from ccl_bench.suites.build import generate_scene
from ccl_bench.suites.synth import grid


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread avoids paying for thread hand-offs on a busy machine (each op is microseconds)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(name: str, seed: int = 0, **overrides):
    import reference_impl as R

    torch.manual_seed(seed)
    return R.build_model(name, "tiny", **overrides).eval()


def _latents(model, n: int = 2, frames: int = 2, size: int = 4, audio: int = 8):
    g = torch.Generator().manual_seed(0)
    cfg = model.cfg
    v = torch.randn(n, cfg.video_in_dim, frames, size, size, generator=g)
    a = torch.randn(n, cfg.audio_in_dim, audio, generator=g)
    text = torch.randn(n, 6, cfg.text_dim, generator=g)
    return v, a, text, torch.ones(n, 6, dtype=torch.bool)


def test_drift_is_zero_for_the_stage1_model_itself_and_for_a_zero_init_ccl_on_its_streams():
    stage1 = _model("none")
    v, a, text, mask = _latents(stage1)
    assert np.all(prediction_drift(stage1, stage1, v, a, text, mask, levels=(0.5,)) == 0)
    ccl = _model("ccl", seed=1)
    missing, unexpected = ccl.load_state_dict(stage1.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("interactions.") for k in missing)
    # The zero-initialised output projection: partner absent (LCT only), the streams are where they were.
    assert np.allclose(prediction_drift(ccl, stage1, v, a, text, mask, levels=(0.5,)), 0, atol=1e-6)
    with torch.no_grad():
        ccl.video_stream.blocks[0].ffn[0].weight.mul_(1.5)  # a moved stream
    d = prediction_drift(ccl, stage1, v, a, text, mask, levels=(0.9,))
    assert d.shape == (2,) and np.all(d > 1e-3)


def test_partner_absent_reads_the_context_tokens_and_zeroes_a_gate():
    """Drift measures the state each model is in without its partner: CCL reads its LCT (an opened
    output projection moves the prediction), a gated model's branch is zeroed (no move, open gate or not)."""
    stage1 = _model("none")
    v, a, text, mask = _latents(stage1)
    for name in ("ccl", "gated"):
        m = _model(name, seed=1)
        m.load_state_dict(stage1.state_dict(), strict=False)
        with torch.no_grad():
            for mod in m.interactions.values():
                torch.nn.init.normal_(mod.video_from_audio.proj.o.weight, std=0.5)
                if name == "gated":
                    mod.video_from_audio.gate.fill_(2.0)
        d = prediction_drift(m, stage1, v, a, text, mask, levels=(0.5,))
        assert np.all(d > 1e-3) if name == "ccl" else np.allclose(d, 0, atol=1e-6), (name, d)


def test_recomputed_cca_weights_reproduce_the_attention_output():
    model = _model("ccl")
    v, a, text, mask = _latents(model, frames=8, audio=32)  # long enough that TARP's windows leave keys out
    for mod in model.interactions.values():  # open the zero-initialised output so the output says something
        torch.nn.init.normal_(mod.video_from_audio.proj.o.weight, std=0.2)
    outs = []
    hooks = [m.video_from_audio.register_forward_hook(lambda m, args, kw, out: outs.append(out), with_kwargs=True)
             for m in model.interactions.values()]
    records, handles = _capture(model)
    with torch.no_grad():
        model(0.5 * v, 0.5 * a, torch.full((2,), 0.5), torch.full((2,), 0.5), text, mask, tasks=["t2av", "t2av"])
    for h in hooks + handles:
        h.remove()
    assert len(records) == len(outs) == len(model.interactions) > 0
    for (_, att, args, kwargs), out in zip(records, outs, strict=True):
        w, vv, k = cca_weights(att, args, kwargs, video_grid(model.cfg, v.shape))
        assert k == model.cfg.lct_tokens and torch.allclose(w.sum(-1), torch.ones(()), atol=1e-5)
        again = att.proj.output(torch.einsum("bhqk,bkhd->bqhd", w, vv.float()))
        assert torch.allclose(again, out, atol=1e-4), (again - out).abs().max()


def test_audio_shares_lie_in_0_1_for_ccl_and_are_1_without_context_tokens():
    bg = np.zeros((2, 2 * 2 * 2), bool)
    bg[:, ::2] = True
    ccl = _model("ccl")
    v, a, text, mask = _latents(ccl)
    s = audio_attention_shares(ccl, v, a, text, mask, bg, levels=(0.5,))
    assert s.background.shape == (2,) and np.all((s.background > 0) & (s.background < 1))
    for name in ("ccl-no-lct", "gated"):
        s = audio_attention_shares(_model(name), v, a, text, mask, bg, levels=(0.5,))
        assert np.allclose(s.background, 1) and np.allclose(s.foreground, 1)
    with pytest.raises(ValueError, match="CCA"):
        audio_attention_shares(_model("joint"), v, a, text, mask, bg, levels=(0.5,))


def test_background_tokens_follow_the_render_geometry():
    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    fam = FAMILIES["background-object"]
    scene = generate_scene(spec, "test", 4, 0, rend.duration)
    assert scene.family == "background-object"
    x, y = grid(rend.height, rend.width)
    cov = fam.foreground(scene, x, y)
    frames = fam.render_video(scene, np.arange(rend.num_frames) / rend.fps, rend.height, rend.width).astype(int)
    moving = np.abs(frames - frames[:1]).max(axis=(0, 3)) > 0  # pixels that ever change: the pulsing dot
    assert moving.any() and np.all(cov[moving] > 0)
    bgt = background_tokens(cov, (3, 8, 8))
    assert bgt.shape == (192,) and 0 < (~bgt[:64]).sum() < 16 and np.array_equal(bgt[:64], bgt[64:128])
    assert FAMILIES["flash-beep"].foreground(scene, x, y) is None


def test_write_measure_is_what_the_study_reads(tmp_path):
    from ccl_bench.claims.matrix import read_matrix

    write_measure(tmp_path, 2, "prediction-drift", "ccl", ["a", "b", "c"], [0.5, float("nan"), 1.5])
    st = read_matrix(tmp_path, "av-sync").measure("prediction-drift", "ccl")
    assert list(st) == ["2"] and st["2"].ids == ["a", "c"] and st["2"].statistic(np.array([0, 1])) == 1.0
