"""The training protocol's pieces at tiny scale: task mixes by routing (the t2av-only baselines never
meet a zeroed branch), stage-1 streams loaded into a model whose zero-initialised interaction leaves
their T2V / T2A predictions untouched, a compile-clean forward, and checkpoints by time and on SIGTERM."""

import json
import os
import signal

import pytest
import torch

import reference_impl as R
from reference_impl.diffusion import TrainConfig, Trainer
from reference_impl.diffusion.flow import flow_matching_loss
from reference_impl.diffusion.stages import StreamsModel, load_stage1_streams
from reference_impl.diffusion.train import TrainingInterrupted, _TensorRouted
from reference_impl.routing import TASKS, Route, default_task_probs
from tests.reference_impl.latents import random_latent_data as _data


def _fit(name, out, steps=6, **fields):
    torch.manual_seed(0)
    model = R.build_model(name, "tiny")
    cfg = TrainConfig(steps=steps, batch_size=4, log_every=1, warmup_steps=2, **fields)
    trainer = Trainer(model, _data(model.cfg), cfg, out)
    trainer.fit()
    return trainer


def test_baselines_train_by_their_own_recipe_and_never_meet_a_zeroed_branch(tmp_path):
    for name in ("gated", "ovi", "ltx2", "joint"):
        assert R.resolve_config(name, "tiny").routing == "t2av-only"
        assert R.resolve_config(f"{name}-mt", "tiny").routing == "task"
    own = _fit("gated", tmp_path / "gated")
    mt = _fit("gated-mt", tmp_path / "gated-mt")
    assert own.cfg.task_probs == {"t2av": 1.0}
    rows = [json.loads(ln) for ln in (tmp_path / "gated" / "metrics.jsonl").read_text().splitlines()]
    assert [r["partner_absent_examples"] for r in rows] == [0] * 6
    assert set(k for r in rows for k in r if k.startswith("loss_")) == {"loss_t2av"}
    assert json.loads((tmp_path / "gated" / "config.json").read_text())["partner_absent_examples"] == 0
    # The multi-task variant, same seed and steps, does meet it (so the count can tell them apart).
    assert int(mt.partner_absent) > 0
    assert json.loads((tmp_path / "gated-mt" / "config.json").read_text())["train"]["task_probs"] == default_task_probs("task")


def test_batch_task_draw_follows_the_mix():
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(batch_size=4000, task_probs={"t2v": 0.5, "v2a": 0.5})
    counts = torch.bincount(Trainer(model, _data(model.cfg), cfg, "unused").draw_batch().tasks, minlength=len(TASKS))
    share = {t.value: c / 4000 for t, c in zip(TASKS, counts.tolist(), strict=True)}
    assert share["t2a"] == share["t2av"] == share["a2v"] == 0
    assert abs(share["t2v"] - 0.5) < 0.05 and abs(share["v2a"] - 0.5) < 0.05


def test_task_ids_route_as_task_lists():
    tasks = ["t2v", "t2a", "t2av", "a2v", "v2a"]
    ids = torch.tensor([TASKS.index(R.Task(t)) for t in tasks])
    for routing in ("task", "always", "t2av-only"):
        a, b = Route.for_tasks(tasks, routing), Route.for_tasks(ids, routing)
        assert torch.equal(a.video_reads_audio, b.video_reads_audio) and torch.equal(a.audio_reads_video, b.audio_reads_video)
    with pytest.raises(ValueError, match="routing must be one of"):
        Route.for_tasks(tasks, "sometimes")


@pytest.mark.parametrize("name", ["ccl", "gated", "ltx2"])
def test_stage2_starts_where_stage1_ended(name):
    """Streams loaded from stage 1; at step 0 the model's T2V and T2A predictions are the streams' own."""
    torch.manual_seed(1)
    cfg = R.resolve_config("none", "tiny")
    stage1 = StreamsModel(cfg).eval()
    state = {k: v.to(torch.bfloat16).float() for k, v in stage1.state_dict().items()}  # as shipped: bf16
    stage1.load_state_dict(state)
    torch.manual_seed(2)
    model = R.build_model(name, "tiny").eval()
    load_stage1_streams(model, state)
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("interactions.")}
    assert own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)
    d = _data(cfg, n=3)
    g = torch.Generator().manual_seed(3)
    xv, xa, t = torch.randn(d.video.shape, generator=g), torch.randn(d.audio.shape, generator=g), torch.rand(3, generator=g)
    with torch.no_grad():
        pv, _ = model(xv, xa, t, torch.ones(3), d.text, d.text_mask, tasks=["t2v"] * 3)
        _, pa = model(xv, xa, torch.ones(3), t, d.text, d.text_mask, tasks=["t2a"] * 3)
        sv, sa = stage1(xv, xa, t, t, d.text, d.text_mask)
    assert torch.equal(pv, sv) and torch.equal(pa, sa)


def test_stage1_weights_must_cover_both_streams():
    cfg = R.resolve_config("none", "tiny")
    video_only = StreamsModel(cfg, ("video",)).state_dict()
    assert all(k.startswith("video_stream.") for k in video_only)
    with pytest.raises(ValueError, match="both video and audio"):
        load_stage1_streams(R.build_model("ccl", "tiny"), video_only)


def test_stage1_video_run_trains_only_the_video_stream(tmp_path):
    torch.manual_seed(0)
    cfg = R.resolve_config("none", "tiny")
    net = StreamsModel(cfg, ("video",))
    tc = TrainConfig(steps=3, batch_size=4, log_every=1, task_probs={"t2v": 1.0}, stage="streams")
    Trainer(net, _data(cfg), tc, tmp_path / "v").fit()
    rows = [json.loads(ln) for ln in (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()]
    assert all(set(k for k in r if k.startswith("loss_")) == {"loss_t2v"} for r in rows)


def test_forward_compiles_as_one_graph():
    """The TARP interval tables come from a plain cache, so torch.compile traces the whole forward with no
    graph break (the old `lru_cache` builder broke it)."""
    import torch._dynamo as dynamo

    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    d = _data(model.cfg, n=2)
    t = torch.rand(2)
    args = (d.video, d.audio, t, t, d.text, d.text_mask, torch.tensor([True, False]), torch.tensor([False, True]))
    fn = _TensorRouted(model)
    ref = fn(*args)  # eager: builds the host-made tables
    dynamo.reset()
    out = torch.compile(fn, fullgraph=True, backend="eager")(*args)
    assert torch.equal(ref[0], out[0]) and torch.equal(ref[1], out[1])


def test_compiled_training_equals_eager(tmp_path):
    eager = _fit("ccl", tmp_path / "e", steps=3, compile=False)
    compiled = _fit("ccl", tmp_path / "c", steps=3, compile=True, compile_backend="eager")
    assert compiled.use_compile and compiled._call is not None
    for a, b in zip(eager.model.state_dict().values(), compiled.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_compile_options_reach_torch_compile_and_config_json(tmp_path, monkeypatch):
    seen = []
    real = torch.compile

    def spy(fn, **kwargs):
        seen.append(kwargs.get("options"))
        return real(fn, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    tr = _fit("ccl", tmp_path / "c", steps=1, compile=True, compile_backend="eager",
              compile_options={"coordinate_descent_tuning": True})
    assert seen == [{"coordinate_descent_tuning": True}]
    assert json.loads((tmp_path / "c" / "config.json").read_text())["train"]["compile_options"] == {
        "coordinate_descent_tuning": True}
    assert tr.use_compile


def test_sigterm_checkpoints_the_step_reached_and_resume_matches(tmp_path):
    whole = _fit("ccl", tmp_path / "whole", checkpoint_every=100)
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=6, batch_size=4, log_every=1, warmup_steps=2, checkpoint_every=100)
    killed = Trainer(model, _data(model.cfg), cfg, tmp_path / "killed")

    def term(record):
        if record["step"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TrainingInterrupted) as exc:
        killed.fit(on_step=term)  # the signal lands after step 4; step 5 runs, then the checkpoint
    assert exc.value.code == 128 + signal.SIGTERM
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["step"] == 5
    assert signal.getsignal(signal.SIGTERM) is not killed._on_sigterm  # handler restored
    torch.manual_seed(0)
    resumed = Trainer(R.build_model("ccl", "tiny"), _data(model.cfg), cfg, tmp_path / "killed")
    resumed.fit(resume=True)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_checkpoints_by_time(tmp_path):
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=6, batch_size=4, log_every=1, checkpoint_every=100, checkpoint_seconds=0.0)
    Trainer(model, _data(model.cfg), cfg, tmp_path / "r").fit(stop_after=3)  # killed after step 3
    assert torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_resume_without_a_checkpoint_restarts_with_a_clean_log(tmp_path, capsys):
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=5, batch_size=4, log_every=1, checkpoint_every=100, checkpoint_seconds=1e9)
    Trainer(model, _data(model.cfg), cfg, tmp_path / "r").fit(stop_after=2)  # killed before its first checkpoint
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
    torch.manual_seed(0)
    Trainer(R.build_model("ccl", "tiny"), _data(model.cfg), cfg, tmp_path / "r").fit(resume=True)
    assert "no checkpoint to resume from" in capsys.readouterr().out
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]


def test_per_task_losses_are_the_batch_means(tmp_path):
    """The logged per-task losses (gathered on the device) equal the mean loss of that task's examples."""
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    cfg = TrainConfig(steps=1, batch_size=8, log_every=1)
    tr = Trainer(model, _data(model.cfg), cfg, tmp_path)
    gen_state = tr.gen.get_state()
    batch = tr.draw_batch()
    d = tr.data
    text = torch.where(batch.drop[:, None, None], d.null_text, d.text[batch.idx])
    mask = torch.where(batch.drop[:, None], d.null_mask, d.text_mask[batch.idx])
    with torch.no_grad():
        per = flow_matching_loss(model, d.video[batch.idx], d.audio[batch.idx], batch.noise_v, batch.noise_a, batch.t,
                                 batch.tasks, text, mask)
    tr.gen.set_state(gen_state)
    record = tr.train_step(record_losses=True)
    for i, task in enumerate(TASKS):
        sel = batch.tasks == i
        if sel.any():
            assert record[f"loss_{task.value}"] == pytest.approx(per[sel].mean().item(), rel=1e-5)


def test_snapshots_are_the_ema_at_their_step(tmp_path):
    """Claim 6's evaluation snapshots: every `snapshot_every` steps and at the last, each the EMA the run
    held then (a run stopped at step 4 exports the same weights as the snapshot of step 4)."""
    from safetensors.torch import load_file

    whole = _fit("ccl", tmp_path / "whole", steps=6, snapshot_every=4)
    snaps = sorted(p.name for p in (tmp_path / "whole" / "snapshots").iterdir())
    assert snaps == ["step-4", "step-6"]
    assert json.loads((tmp_path / "whole" / "snapshots" / "step-4" / "config.json").read_text())["steps_done"] == 4
    final, last = (load_file(str(p)) for p in (tmp_path / "whole" / "ema.safetensors",
                                                tmp_path / "whole" / "snapshots" / "step-6" / "ema.safetensors"))
    assert all(torch.equal(final[k], last[k]) for k in final)
    torch.manual_seed(0)
    model = R.build_model("ccl", "tiny")
    short = Trainer(model, _data(model.cfg), TrainConfig(steps=4, batch_size=4, log_every=1, warmup_steps=2),
                    tmp_path / "short")
    short.cfg.steps = 6  # the same schedule as `whole` (warm-up and decay see 6 steps), stopped after 4
    short.fit(stop_after=4)
    short.export()
    early, mid = (load_file(str(p)) for p in (tmp_path / "short" / "ema.safetensors",
                                               tmp_path / "whole" / "snapshots" / "step-4" / "ema.safetensors"))
    assert all(torch.equal(early[k], mid[k]) for k in early)
    assert not all(torch.equal(mid[k], last[k]) for k in mid)
    assert whole.step == 6
