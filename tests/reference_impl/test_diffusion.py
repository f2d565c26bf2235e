"""Guidance formulas, sampler exactness, loss mixing, and exact resume of training."""

import json
from types import SimpleNamespace

import pytest
import torch

import reference_impl as R
from reference_impl.diffusion import SCHEMES, GuidanceScales, TrainConfig, Trainer, passes_per_step, sample
from reference_impl.diffusion.flow import flow_matching_loss
from reference_impl.diffusion.guidance import guided_prediction
from reference_impl.diffusion.train import lr_factor
from tests.reference_impl.latents import random_latent_data as _data


class StubModel:
    """Known outputs: prediction = 1 (text) + 10 (partner read) + 100 (LCT on) + 1000 (perturbed), per
    example; counts its calls."""

    def __init__(self, routing="task"):
        self.cfg = SimpleNamespace(routing=routing)
        self.calls = 0

    def __call__(self, xv, xa, tv, ta, text, text_mask, tasks=None, route=None):
        self.calls += 1
        has_text = text_mask.any(1).float()
        code = lambda reads: (has_text + 10 * reads.float() + 100 * route.lct_on.float()  # noqa: E731
                              + 1000 * route.perturbed.float())
        cv, ca = code(route.video_reads_audio), code(route.audio_reads_video)
        return cv.view(-1, 1, 1) * torch.ones_like(xv), ca.view(-1, 1, 1) * torch.ones_like(xa)


def test_pass_counts():
    assert {k: passes_per_step(k) for k in SCHEMES} == {"ucg": 2, "ucg-joint": 3, "ltx2": 4, "cfg": 2, "ovi-native": 2,
                                                         "ltx2-native": 4}


@pytest.mark.parametrize("task", ["t2av", "a2v", "v2a"])
def test_every_scheme_equals_its_formula(task):
    s = GuidanceScales(text=3.0, modality=1.5, perturbed=0.7, audio_text=2.0, rescale=0.0)
    b = 2
    x = torch.zeros(b, 3, 4)
    text, mask = torch.zeros(b, 2, 4), torch.ones(b, 2, dtype=torch.bool)
    null, null_mask = torch.zeros(b, 2, 4), torch.zeros(b, 2, dtype=torch.bool)
    reads_v = 10.0 * (task in ("t2av", "a2v"))  # what the task's route lets the video stream read
    e = lambda text, reads, lct, pert=0: text + reads + 100 * lct + 1000 * pert  # noqa: E731
    want = {
        "cfg": e(0, 0, 0) + s.text * (e(1, reads_v, 1) - e(0, 0, 0)),
        "ucg": e(0, 0, 1) + s.text * (e(1, reads_v, 1) - e(0, 0, 1)),
        "ucg-joint": e(0, 0, 1) + s.text * (e(1, 0, 1) - e(0, 0, 1)) + s.modality * (e(1, reads_v, 1) - e(1, 0, 1)),
        "ltx2": e(1, reads_v, 1) + (s.text - 1) * (e(1, reads_v, 1) - e(0, reads_v, 1))
        + s.perturbed * (e(1, reads_v, 1) - e(1, reads_v, 1, 1)) + (s.modality - 1) * (e(1, reads_v, 1) - e(1, 0, 0)),
        # Ovi: the negative pass keeps the fusion on (reads the partner) and skips a layer; audio has its own scale
        "ovi-native": e(0, reads_v, 1, 1) + s.text * (e(1, reads_v, 1) - e(0, reads_v, 1, 1)),
    }
    want["ltx2-native"] = want["ltx2"]  # with rescale 0 (the rescale is tested on its own)
    reads_a = 10.0 * (task in ("t2av", "v2a"))
    want_audio_ovi = e(0, reads_a, 1, 1) + s.audio_text * (e(1, reads_a, 1) - e(0, reads_a, 1, 1))
    for scheme, value in want.items():
        stub = StubModel()
        gv, ga = guided_prediction(stub, scheme, s, x, x, torch.ones(b), torch.ones(b), [R.Task(task)] * b,
                                   text, mask, null, null_mask)
        assert stub.calls == 1  # all passes in one batched call
        torch.testing.assert_close(gv, torch.full_like(gv, value))
        if scheme == "ovi-native":
            torch.testing.assert_close(ga, torch.full_like(ga, want_audio_ovi))


def test_ltx2_native_rescales_towards_the_conditional_spread():
    from reference_impl.diffusion.guidance import combine

    g = torch.Generator().manual_seed(0)
    preds = [torch.randn(2, 3, 50, generator=g) * s for s in (1.0, 2.0, 0.5, 3.0)]
    s = GuidanceScales(text=5.0, modality=2.0, perturbed=1.0, rescale=0.7)
    raw, out = combine("ltx2", preds, s), combine("ltx2-native", preds, s)
    std = lambda x: x.std(dim=(1, 2), keepdim=True)  # noqa: E731
    torch.testing.assert_close(out, 0.7 * raw * std(preds[0]) / std(raw) + 0.3 * raw)
    assert not torch.allclose(out, raw)


def test_native_recipes_perturb_their_own_layer_their_own_way():
    from reference_impl.diffusion.guidance import SCHEMES, perturbed_layers

    assert perturbed_layers("ovi-native", 30, (1,)) == (11,) and perturbed_layers("ltx2-native", 48, (1,)) == (29,)
    assert perturbed_layers("ltx2", 48, (1,)) == (1,)
    assert [p.perturb_mode for p in SCHEMES["ltx2-native"] if p.perturbed] == ["values"]
    assert [(p.text, p.context) for p in SCHEMES["ovi-native"] if p.perturbed] == [(False, "task")]
    # attention -> V: a token reads only itself, so the layer's output ignores every other token
    model = R.build_model("none", "tiny").eval()
    block = model.video_stream.blocks[0]
    x = torch.randn(2, 6, model.cfg.video_dim)
    rot = model.video_stream.rope_angles((1, 2, 3), "cpu")
    mask = torch.tensor([True, False])
    from reference_impl.streams import Perturbation

    with torch.no_grad():
        y = block.self_attn(x, rot, values_only=mask)
        y_alone = block.self_attn(x[:, :1], model.video_stream.rope_angles((1, 1, 1), "cpu"), values_only=mask)
        plain = block.self_attn(x, rot)
        skipped = block.self_attention(x, torch.zeros(2, 6, model.cfg.video_dim), rot, perturb=Perturbation("skip", mask))
    torch.testing.assert_close(y[0, :1], y_alone[0], atol=1e-5, rtol=1e-5)  # token 0 alone gives the same output
    torch.testing.assert_close(y[1], plain[1])  # an unperturbed example attends as usual
    assert torch.equal(skipped[0], x[0]) and not torch.equal(skipped[1], x[1])


class LinearFlow:
    """The exact velocity of the straight path from noise to a known x0: v = (x_t - x0) / t."""

    def __init__(self, v0, a0):
        self.cfg = SimpleNamespace(routing="task")
        self.v0, self.a0 = v0, a0

    def __call__(self, xv, xa, tv, ta, text, text_mask, tasks=None, route=None):
        n = xv.shape[0] // self.v0.shape[0]
        v0, a0 = torch.cat([self.v0] * n), torch.cat([self.a0] * n)
        return (xv - v0) / tv.view(-1, 1, 1), (xa - a0) / ta.view(-1, 1, 1)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_sampler_integrates_a_linear_flow_exactly(sampler, scheme):
    g = torch.Generator().manual_seed(0)
    v0, a0 = torch.randn(2, 3, 5, generator=g), torch.randn(2, 4, 6, generator=g)
    text, mask = torch.zeros(2, 1, 4), torch.ones(2, 1, dtype=torch.bool)
    xv, xa, info = sample(LinearFlow(v0, a0), "t2av", text, mask, text, mask, v0.shape, a0.shape, steps=7,
                          sampler=sampler, guidance=scheme, generator=g)
    torch.testing.assert_close(xv, v0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xa, a0, atol=1e-5, rtol=1e-5)
    assert info.model_calls == (7 if sampler == "euler" else 13)
    assert info.nfe_per_clip == passes_per_step(scheme) * info.model_calls


def test_conditioning_stream_stays_clean():
    g = torch.Generator().manual_seed(0)
    v0, a0 = torch.randn(1, 3, 5, generator=g), torch.randn(1, 4, 6, generator=g)
    text, mask = torch.zeros(1, 1, 4), torch.ones(1, 1, dtype=torch.bool)
    xv, xa, _ = sample(LinearFlow(v0, a0), "a2v", text, mask, text, mask, v0.shape, a0.shape, cond_audio=a0, steps=3)
    assert torch.equal(xa, a0)
    with pytest.raises(ValueError, match="needs the conditioning audio"):
        sample(LinearFlow(v0, a0), "a2v", text, mask, text, mask, v0.shape, a0.shape)



def test_mixed_task_batch_loss_is_the_mean_of_the_examples_alone():
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny").eval()
    d = _data(model.cfg, n=5)
    tasks = ["t2v", "t2a", "t2av", "a2v", "v2a"]
    g = torch.Generator().manual_seed(1)
    nv, na, t = torch.randn_like(d.video, ), torch.randn(d.audio.shape, generator=g), torch.rand(5, generator=g)
    with torch.no_grad():
        batch = flow_matching_loss(model, d.video, d.audio, nv, na, t, tasks, d.text, d.text_mask)
        alone = [flow_matching_loss(model, d.video[i : i + 1], d.audio[i : i + 1], nv[i : i + 1], na[i : i + 1],
                                    t[i : i + 1], [tasks[i]], d.text[i : i + 1], d.text_mask[i : i + 1]) for i in range(5)]
    torch.testing.assert_close(batch.mean(), torch.cat(alone).mean(), atol=1e-6, rtol=1e-6)


def test_killed_and_resumed_run_reaches_the_same_weights(tmp_path):
    def run(out, kill_after=None):
        torch.manual_seed(0)
        model = R.build_model("ccl", "tiny")
        cfg = TrainConfig(steps=6, batch_size=3, checkpoint_every=2, log_every=1, warmup_steps=2)
        trainer = Trainer(model, _data(model.cfg), cfg, out)
        trainer.fit(stop_after=kill_after)
        return trainer

    whole = run(tmp_path / "whole")
    run(tmp_path / "killed", kill_after=3)  # killed after step 3: the last checkpoint is step 2
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=6, batch_size=3, checkpoint_every=2, log_every=1, warmup_steps=2)
    resumed = Trainer(model, _data(model.cfg), cfg, tmp_path / "killed")
    resumed.fit(resume=True)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(whole.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # the line of step 3, past the checkpoint, was written again
    w = [json.loads(ln) for ln in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    r = [json.loads(ln) for ln in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [x["loss"] for x in w] == [x["loss"] for x in r]


def test_warmup_stable_decay_schedule():
    cfg = TrainConfig(steps=10, warmup_steps=2, decay_steps=4)
    factors = [lr_factor(s, cfg) for s in range(10)]
    assert factors == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert lr_factor(3, cfg, warm_start=3) == 0.5  # a fresh optimiser warms up again
    assert [lr_factor(s, TrainConfig(steps=10, warmup_steps=1)) for s in (0, 9)] == [1.0, 1.0]  # 0: constant
    # resumed with twice the steps, the decay moves to the new end
    assert lr_factor(8, TrainConfig(steps=20, warmup_steps=2, decay_steps=4)) == 1.0


def test_trainer_logs_the_decayed_rates(tmp_path):
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=6, batch_size=2, log_every=1, warmup_steps=1, decay_steps=4, lr=1e-3, lr_cross=1e-2)
    Trainer(model, _data(model.cfg), cfg, tmp_path).fit()
    log = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in log] == pytest.approx([1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 2.5e-4])
    assert [r["lr_cross"] for r in log] == pytest.approx([1e-2, 1e-2, 1e-2, 7.5e-3, 5e-3, 2.5e-3])


def test_graph_capture_sample_shares_no_tensor(monkeypatch):
    # A CUDA graph keeps its sample arguments as input buffers and copies each call's inputs in, in order:
    # one tensor given twice would feed the video stream the audio stream's time (T2V: t = 1).
    model = R.build_model("ccl", "tiny")
    trainer = Trainer(model, _data(model.cfg), TrainConfig(steps=1, batch_size=2), "unused")
    samples = []

    def record(sample):
        if sample is not None:
            samples.append(sample)
        return trainer.net

    monkeypatch.setattr(trainer, "_forward", record)
    trainer.use_compile = True  # the path that builds the capture sample (the forward itself stays eager here)
    trainer.train_step()
    ptrs = [x.untyped_storage().data_ptr() for x in samples[0]]
    assert len(samples) == 1 and len(set(ptrs)) == len(ptrs)


def test_two_learning_rates():
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(lr=1e-5, lr_cross=1e-4)
    trainer = Trainer(model, _data(model.cfg), cfg, "unused")
    groups = {g["name"]: g for g in trainer.opt.param_groups}
    n_cross = sum(p.numel() for p in groups["cross"]["params"])
    assert n_cross == R.parameter_counts("ccl", "tiny")["interaction"]
    trainer.cfg.warmup_steps = 1
    trainer.train_step()
    assert {g["name"]: g["lr"] for g in trainer.opt.param_groups} == {"rest": 1e-5, "cross": 1e-4}
