"""Every model builds and trains at tiny scale; routing, zero-init and the LCT behave as specified."""

import pytest
import torch

import reference_impl as R
from reference_impl.interactions.tarp import dense_partitioned_attention
from reference_impl.streams.layers import attention_weights
from tests.reference_impl.conftest import inputs, trained_like

TASKS = [t.value for t in R.Task]


def test_every_model_runs_forward_and_backward(model_name):
    torch.manual_seed(0)
    model = trained_like(R.build_model(model_name, "tiny"))
    x = inputs(model.cfg)
    ov, oa = model(**x, tasks=TASKS)
    assert ov.shape == x["video"].shape and oa.shape == x["audio"].shape
    assert torch.isfinite(ov).all() and torch.isfinite(oa).all()
    (ov.square().mean() + oa.square().mean()).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    if model_name != "none":
        assert any(g.abs().sum() > 0 for n, g in grads.items() if n.startswith("interactions."))


@pytest.mark.parametrize("name", ["ccl", "gated", "ltx2", "ccl-no-tarp", "ccl-no-lct", "ccl-no-dcr"])
def test_at_init_each_stream_equals_the_stream_alone(name):
    torch.manual_seed(0)
    model = R.build_model(name, "tiny")
    x = inputs(model.cfg)
    ov, oa = model(**x)
    alone_v = model.video_stream(x["video"], x["t_video"], x["text"])
    alone_a = model.audio_stream(x["audio"], x["t_audio"], x["text"])
    assert torch.equal(ov, alone_v) and torch.equal(oa, alone_a)


def test_gamma_gate_option_is_zero_init_per_channel():
    model = R.build_model("gated", "tiny", gate="gamma")
    gate = model.interactions["0"].video_from_audio.gate
    assert gate.shape == (model.cfg.video_dim,) and not gate.any()


@pytest.mark.parametrize("name", [n for n in R.list_models() if n != "ccl-no-dcr"])
def test_t2v_video_ignores_audio_and_a2v_audio_ignores_video(name):
    model = trained_like(R.build_model(name, "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    y = dict(x, audio=torch.randn_like(x["audio"]) * 3, video=torch.randn_like(x["video"]) * 3)
    with torch.no_grad():
        v1, _ = model(**x, tasks=["t2v", "t2v"])
        v2, _ = model(**dict(x, audio=y["audio"]), tasks=["t2v", "t2v"])
        _, a1 = model(**x, tasks=["a2v", "a2v"])
        _, a2 = model(**dict(x, video=y["video"]), tasks=["a2v", "a2v"])
        v3, _ = model(**x, tasks=["t2av", "t2av"])
        v4, _ = model(**dict(x, audio=y["audio"]), tasks=["t2av", "t2av"])
    assert torch.equal(v1, v2)  # bit-identical whatever audio is fed
    assert torch.equal(a1, a2)  # the A2V audio stream reads no video
    if name != "none":
        assert not torch.allclose(v3, v4)  # ...while T2AV does read it


def test_no_dcr_reads_the_partner_for_every_task():
    model = trained_like(R.build_model("ccl-no-dcr", "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    with torch.no_grad():
        v1, _ = model(**x, tasks=["t2v", "t2v"])
        v2, _ = model(**dict(x, audio=torch.randn_like(x["audio"])), tasks=["t2v", "t2v"])
    assert not torch.allclose(v1, v2)


def test_mixed_batch_equals_examples_run_alone(model_name):
    model = trained_like(R.build_model(model_name, "tiny")).eval()
    x = inputs(model.cfg, batch=5)
    with torch.no_grad():
        ov, oa = model(**x, tasks=TASKS)
        for i, task in enumerate(TASKS):
            one = {k: v[i : i + 1] for k, v in x.items()}
            sv, sa = model(**one, tasks=[task])
            torch.testing.assert_close(ov[i : i + 1], sv, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(oa[i : i + 1], sa, atol=1e-5, rtol=1e-5)


def test_partner_absent_attends_exactly_the_learnable_context_tokens():
    model = trained_like(R.build_model("ccl", "tiny", lct_tokens=6))
    cca = model.interactions["0"].video_from_audio
    g = torch.Generator().manual_seed(0)
    xq, xkv = torch.randn(2, 10, 64, generator=g), torch.randn(2, 7, model.cfg.audio_dim, generator=g)
    tq, tk = torch.linspace(0, 1, 10, dtype=torch.float64), torch.linspace(0, 1, 7, dtype=torch.float64)
    q, k, v, ck, cv = cca.qkv(xq, xkv, tq, tk)
    keys = torch.cat([ck.expand(2, -1, -1, -1), k], 1)
    absent = torch.tensor([False, True])
    mask = torch.cat([torch.ones(2, 10, 6, dtype=torch.bool), absent[:, None, None].expand(2, 10, 7)], 2)
    w = attention_weights(q, keys, mask[:, None])  # [B, H, Nq, K + Nk]
    lct, partner = w[0, ..., :6], w[0, ..., 6:]
    torch.testing.assert_close(lct.sum(-1), torch.ones_like(lct.sum(-1)))
    assert (partner == 0).all() and (lct > 0).all()  # all K tokens, nothing else
    assert w[1, ..., 6:].sum() > 0  # a present partner is read too
    # and the module's own (partitioned) computation is that attention
    out = dense_partitioned_attention(q, k, v, torch.zeros(10, dtype=torch.long), torch.full((10,), 7), absent, ck, cv)
    full = cca(xq, xkv, tq, tk, torch.zeros(10, dtype=torch.long), torch.full((10,), 7), absent)
    torch.testing.assert_close(full, cca.proj.output(out))


def test_without_lct_an_absent_partner_gives_zero():
    model = trained_like(R.build_model("ccl-no-lct", "tiny"))
    cca = model.interactions["0"].video_from_audio
    xq, xkv = torch.randn(1, 10, 64), torch.randn(1, 7, model.cfg.audio_dim)
    t = torch.zeros(10, dtype=torch.float64)
    out = cca(xq, xkv, t, t[:7], torch.zeros(10, dtype=torch.long), torch.full((10,), 7), torch.tensor([False]))
    assert not out.any()  # exactly zero, output bias included


def test_overrides_and_ablation_files(tmp_path):
    model = R.build_model("ccl", "tiny", lct_tokens=32)
    assert model.interactions["0"].video_from_audio.context_tokens.tokens.shape == (32, model.cfg.audio_dim)
    spec = tmp_path / "my-ablation.yaml"
    spec.write_text("base: ccl\nset:\n  lct_tokens: 8\n  tarp_window: 5\n  exchange_every: 2\n")
    m2 = R.build_model(str(spec), "tiny", layers=4)
    assert m2.cfg.lct_tokens == 8 and m2.cfg.tarp_window == 5 and sorted(m2.interactions) == ["0", "2"]
    with pytest.raises(R.ModelSpecError, match="no config field 'lct_tokenz'"):
        R.build_model("ccl", "tiny", lct_tokenz=3)
    with pytest.raises(R.ModelSpecError, match="unknown model"):
        R.build_model("cll")
    assert R.resolve_config("ccl", "tiny", lct="false").lct is False


def test_scales_build_on_meta_with_wan_sizes():
    c13, c14 = R.parameter_counts("ccl", "wan-1.3b"), R.parameter_counts("ccl", "wan-14b")
    assert 1.3e9 < c13["video"] < 1.5e9
    assert 13.5e9 < c14["video"] < 14.5e9
    m = R.build_model("ccl", "wan-14b", device="meta")
    assert m.cfg.audio_dim == 2560 and m.cfg.audio_dim % 128 == 0
    assert R.build_model("ccl", "wan-1.3b", device="meta").cfg.audio_dim == 768


@pytest.mark.parametrize("name", ["ccl", "gated", "ltx2", "ovi", "joint", "ccl-no-lct"])
def test_branch_off_equals_the_streams_alone_and_lct_only_differs(name):
    """Route with no partner and LCT off = every cross-modal branch zeroed: the two streams alone."""
    model = trained_like(R.build_model(name, "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    off = R.Route.constant(2, False, False, lct_on=False)
    with torch.no_grad():
        ov, oa = model(**x, route=off)
        torch.testing.assert_close(ov, model.video_stream(x["video"], x["t_video"], x["text"]))
        torch.testing.assert_close(oa, model.audio_stream(x["audio"], x["t_audio"], x["text"]))
        lct_only, _ = model(**x, route=R.Route.constant(2, False, False, lct_on=True))
    assert torch.equal(lct_only, ov) == (name != "ccl")  # only CCL has a context to read


def test_perturbed_pass_skips_self_attention_in_chosen_layers():
    model = trained_like(R.build_model("ccl", "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    base = R.Route.for_tasks(["t2av", "t2av"], "task")
    pert = R.Route(base.video_reads_audio, base.audio_reads_video, perturbed=torch.tensor([False, True]), stg_layers=(1,))
    with torch.no_grad():
        ov, _ = model(**x, route=base)
        pv, _ = model(**x, route=pert)
    assert torch.equal(ov[0], pv[0]) and not torch.allclose(ov[1], pv[1])


def test_a_stream_narrower_than_its_tokens_is_flagged():
    with pytest.warns(UserWarning, match="audio stream 64 wide, tokens of 128 numbers"):
        R.build_model("ccl", "small", device="meta", audio_dim=64, audio_heads=2, audio_patch=2)
    for scale in ("tiny", "small", "wan-1.3b"):  # the named scales with the codecs they are used with
        fields = {"video_in_dim": 12, "audio_in_dim": 64} if scale in ("tiny", "small") else {}
        assert R.resolve_config("ccl", scale, **fields).narrow_streams() == []


def test_ltx2_shares_one_adaln_per_role_across_layers():
    model = R.build_model("ltx2", "tiny", layers=4)
    names = [n for n, _ in model.named_parameters() if n.startswith("interactions.")]
    linears = [n for n in names if n.startswith("interactions.shared.")]
    assert sorted(linears) == ["interactions.shared.audio.bias", "interactions.shared.audio.weight",
                               "interactions.shared.video.bias", "interactions.shared.video.weight"]
    assert not any("mod_" in n or "adaln" in n.lower() for n in names if not n.startswith("interactions.shared."))
    # each further layer adds its attention projections and two small tables, not another adaLN
    per_layer = (R.parameter_counts("ltx2", "tiny", layers=4)["interaction"]
                 - R.parameter_counts("ltx2", "tiny", layers=2)["interaction"]) // 2
    cfg, layer = model.cfg, model.interactions["1"]
    attn = sum(p.numel() for m in (layer.audio_to_video, layer.video_to_audio) for p in m.parameters())
    assert per_layer == attn + 5 * (cfg.video_dim + cfg.audio_dim)  # the attentions and a [5, dim] table per role
    ccl13, ltx13 = R.parameter_counts("ccl", "wan-1.3b")["interaction"], R.parameter_counts("ltx2", "wan-1.3b")["interaction"]
    assert ltx13 < 1.1 * ccl13  # (per-layer adaLN linears made it 3x CCL's)


def test_ovi_rotates_video_tokens_with_the_full_3d_rope():
    from reference_impl.interactions.base import StreamState
    from reference_impl.streams.rope import band_frequencies, wan_bands

    model = R.build_model("ovi", "tiny")
    inter = model.interactions["0"]
    grid, d = (2, 3, 4), 32
    times = torch.tensor([0.0, 1 / 16], dtype=torch.float64).repeat_interleave(12)
    z = torch.zeros(1)
    sv = StreamState(z, z, None, z, None, times, None, grid, z, z)
    sa = StreamState(z, z, None, z, None, torch.arange(5, dtype=torch.float64) / 64, None, (5,), z, z)
    cos_v, _ = inter.rotary(sv, d)
    cos_a, _ = inter.rotary(sa, d)
    bt, bh, bw = wan_bands(d)
    angles_v = torch.arccos(cos_v[0, :, 0].double().clamp(-1, 1))
    w = torch.arange(24) % 4
    torch.testing.assert_close(angles_v[:, bt + bh:].cos(), (w[:, None] * band_frequencies(bw)).cos(), atol=1e-6, rtol=0)
    assert (cos_a[0, :, 0, bt:] == 1).all()  # audio: the temporal band only
    assert not (cos_v[0, :, 0, bt:] == 1).all()


def test_joint_gives_every_audio_token_its_own_position():
    from reference_impl.interactions.joint import audio_grid_positions

    f, h, w = audio_grid_positions(21, 22, 40, 157)
    assert torch.equal(f, torch.ceil(torch.linspace(0, 20, 157)))
    assert len({(a, b, c) for a, b, c in zip(f.tolist(), h.tolist(), w.tolist(), strict=True)}) == 157
    assert (h >= 22).all() and (w < 40).all()  # past the video's rows: no video token shares one



def test_stream_projections_equal_each_directions_own_pre_norm_and_projections():
    """One stream's shared LayerNorm pass with both pre-norms' affines folded into one matrix product gives
    the queries of one direction and the keys and values of the other, values and gradients (both paths
    compute the norms in float32, so float32 rounding is all that differs)."""
    from reference_impl.interactions.base import CrossModalProjections, stream_projections

    torch.manual_seed(0)
    reads, read_by = CrossModalProjections(64, 48, 32, 8, 1e-6, False), CrossModalProjections(48, 64, 40, 8, 1e-6, False)
    trained_like(reads, scale=0.5), trained_like(read_by, scale=0.5)  # affines far from (1, 0)
    x = torch.randn(2, 9, 64) * 3 + 1

    def both(project):
        xx = x.clone().requires_grad_(True)
        outs = project(xx)
        sum(o.sin().sum() for o in outs).backward()
        grads = [xx.grad] + [p.grad for p in (*reads.parameters(), *read_by.parameters())]
        for p in (*reads.parameters(), *read_by.parameters()):
            p.grad = None
        return outs, grads

    shared = both(lambda xx: stream_projections(xx, reads, read_by))
    separate = both(lambda xx: (reads.queries(reads.norm_in_q(xx)), *read_by.keys_values(read_by.norm_in_kv(xx))))
    assert [o.shape for o in shared[0]] == [(2, 9, 4, 8), (2, 9, 5, 8), (2, 9, 5, 8)]
    for a, b in zip(shared[0] + tuple(shared[1]), separate[0] + tuple(separate[1]), strict=True):
        if b is None:  # a parameter neither path reads (reads' k, v; read_by's q, o)
            assert a is None
            continue
        assert (a - b).norm() <= 1e-5 * b.norm()  # float32 rounding, relative to the tensor's size


@pytest.mark.parametrize("name", ["ccl", "ccl-no-lct", "ccl-no-tarp"])
def test_ccl_projects_each_stream_once_as_when_each_direction_normalises_its_own_inputs(name, monkeypatch):
    """The whole model (float32): outputs and every gradient as with each direction computing its own
    pre-norms and projections (the float32 rounding of a differently ordered sum is all that differs)."""
    import reference_impl.interactions.ccl as ccl_module

    def run(model):
        x = inputs(model.cfg)
        ov, oa = model(**x, tasks=TASKS)
        (ov.square().mean() + oa.square().mean()).backward()
        return ov, oa, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}

    torch.manual_seed(0)
    model = trained_like(R.build_model(name, "tiny"), scale=0.3)
    shared = run(model)
    model.zero_grad(set_to_none=True)
    monkeypatch.setattr(ccl_module, "stream_projections", lambda x, reads, read_by: (
        reads.queries(reads.norm_in_q(x)), *read_by.keys_values(read_by.norm_in_kv(x))))
    separate = run(model)
    torch.testing.assert_close(shared[0], separate[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(shared[1], separate[1], atol=1e-4, rtol=1e-4)
    assert shared[2].keys() == separate[2].keys()
    assert any("norm_in_q" in n for n in shared[2]) and any("norm_in_kv" in n for n in shared[2])
    for n, g in shared[2].items():
        assert (g - separate[2][n]).norm() <= 1e-4 * separate[2][n].norm(), n
