"""The cascade of claim 8 (T2V, then V2A on that video) as a generator plugin: by default the shipped
checkpoints of the study's stages; run end to end through the registry (on `tiny`-scale models with
seeded random weights, so the test stays quick on a CPU), and its second stage hears the first stage's
picture."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ccl_bench.cli import main
from ccl_bench.generators import GenerationRequest, Prompt
from ccl_bench.runner.cascade import Cascade
from ccl_bench.runner.generators import clip_format, prompt_seed
from ccl_bench.runner.run import sha256
from ccl_bench.suites import load_suite

ROOT = Path(__file__).resolve().parents[2]
CAPTION = "a magenta ball bounces on the floor with a thud at each impact"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Checkpoint folders of `tiny`-scale none, ccl and gated for the tiny rendering: seeded random weights,
    every parameter moved off its initial value (a zero-initialised cross-modal path would hide the
    conditioning the test looks for)."""
    from safetensors.torch import save_file

    from ccl_bench.runner.models import build_for_rendering

    rend = load_suite("av-sync").rendering("tiny")
    out = {}
    for seed, name in enumerate(("none", "ccl", "gated")):
        torch.manual_seed(seed)
        model, _, _ = build_for_rendering(name, "tiny", rend, {})
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        d = tmp_path_factory.mktemp(name)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "ema.safetensors"))
        (d / "config.json").write_text(json.dumps({"model": dataclasses.asdict(model.cfg), "rendering": "tiny",
                                                   "name": f"{name}-tiny-random"}))
        out[name] = d
    return out


def run_cli(out: Path, *args: str) -> int:
    return main(["run", "--model", "cascade", "--suite", "av-sync", "--bootstrap", "0", "--out", str(out), "--quiet",
                 "--device", "cpu", *args])


def test_the_cascade_runs_end_to_end_and_records_both_stages(tiny, tmp_path, monkeypatch):
    from reference_impl.diffusion.guidance import passes_per_step

    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    assert run_cli(tmp_path, "--num-samples", "1", "--steps", "1", "--guidance", "cfg",
                   "--set", f"t2v={tiny['none']}", "--set", f"v2a={tiny['ccl']}") == 0
    res = json.loads((tmp_path / "av-sync" / "cascade.json").read_text())
    gen = res["provenance"]["generator"]
    assert (gen["name"], gen["kind"], gen["distribution"]) == ("cascade", "plugin", "ccl-bench")
    for stage, model in (("t2v", "none"), ("v2a", "ccl")):
        assert gen["details"][stage]["checkpoint_sha256"] == sha256(tiny[model] / "ema.safetensors"), stage
        assert gen["details"][stage]["model"] == f"{model}-tiny-random"
    g = res["tasks"]["t2av"]["generation"]
    assert g["nfe_per_clip"] == 2 * passes_per_step("cfg") * 1  # two stages of one step each
    assert res["tasks"]["t2av"]["metrics"]["av-align"]["n"] == 1


def test_the_default_stages_are_the_shipped_checkpoints_the_study_names():
    got = Cascade()._checkpoints(request({}))
    assert got == {"t2v": ROOT / "checkpoints" / "av-sync" / "none", "v2a": ROOT / "checkpoints" / "av-sync" / "ccl"}


def request(options: dict, steps: int = 1, seconds: float | None = None) -> GenerationRequest:
    fmt = clip_format(load_suite("av-sync").rendering("tiny"))
    if seconds is not None:  # a shorter clip of the same rendering: fewer tokens, a quicker test
        fmt = dataclasses.replace(fmt, duration=seconds, num_frames=round(seconds * fmt.fps),
                                  num_samples=round(seconds * fmt.sample_rate))
    prompts = (Prompt(0, "p0", CAPTION, None, "t2av", prompt_seed(0, 0)),)
    return GenerationRequest("av-sync", "t2av", prompts, fmt, steps, "ucg", 0, "cpu", options)


def test_the_second_stage_is_conditioned_on_the_first_stages_video(tiny):
    gen = Cascade()
    base = gen.generate(request({"t2v": str(tiny["none"]), "v2a": str(tiny["ccl"])}, seconds=0.5))[0]
    assert base.video.shape == (8, 32, 32, 3) and base.audio.shape == (8000,)
    # Another V2A model: the same picture (stage 1 is deterministic by the prompt's seed), other sound.
    other_a = gen.generate(request({"t2v": str(tiny["none"]), "v2a": str(tiny["gated"])}, seconds=0.5))[0]
    np.testing.assert_array_equal(other_a.video, base.video)
    assert not np.allclose(other_a.audio, base.audio)
    # Another T2V model: another picture, and the same V2A model with the same noise then makes other sound.
    other_v = gen.generate(request({"t2v": str(tiny["gated"]), "v2a": str(tiny["ccl"])}, seconds=0.5))[0]
    assert not np.array_equal(other_v.video, base.video)
    assert not np.allclose(other_v.audio, base.audio, atol=1e-4)


@pytest.mark.parametrize("args, fault", [
    (["--task", "v2a"], "--task v2a: generator 'cascade' (ccl-bench 0.1.0) does only t2av"),
    (["--set", "video=none"], "--set video: generator 'cascade' (ccl-bench 0.1.0) takes t2v, v2a"),
    (["--set", "v2a=no-such-model"], "no checkpoint of model 'no-such-model' for suite 'av-sync'"),
    (["--checkpoint", "checkpoints/av-sync/ccl"], "it takes no --checkpoint; pass its options as --set KEY=VALUE"),
])
def test_bad_cascade_arguments_are_one_line(tmp_path, capsys, args, fault):
    assert run_cli(tmp_path, "--num-samples", "1", "--steps", "1", *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fault in err, err


def test_the_study_plan_runs_the_cascade_from_each_seeds_stage_models():
    from ccl_bench.claims import load_study
    from ccl_bench.claims.plan import plan

    lines = [line for line in plan(load_study("av-sync"), "CK", "RUNS") if "--model cascade" in line]
    assert len(lines) == load_study("av-sync").min_seeds
    for k, line in enumerate(lines):
        assert f"--set t2v=CK/seed{k}/none --set v2a=CK/seed{k}/ccl" in line and "--checkpoint" not in line, line
        assert "--guidance cfg" in line and f"--out RUNS/seed{k}/cfg" in line, line
