"""Generator plugins: `run --model NAME` resolves through one registry, which an installed distribution
extends through the `ccl_bench.generators` entry point group. The toy package below is installed for real
(a `.dist-info` with METADATA and entry_points.txt on `sys.path`, found by `importlib.metadata`)."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ccl_bench.cli import main
from ccl_bench.errors import CCLBenchError
from ccl_bench.generators import ClipFormat, GeneratedClip, GenerationRequest, GeneratorEntry, Prompt, check_clips
from ccl_bench.io import read_clip

ROOT = Path(__file__).resolve().parents[2]

TOY = '''
import numpy as np
from ccl_bench.generators import GeneratedClip

SEEN = []  # every request the toy got, for the test to inspect


class Toy:
    """Frames of one grey level and a sine, both set by the prompt's seed; V2A: a click at the brightest frame."""

    tasks = ("t2av", "v2a")

    def generate(self, request):
        SEEN.append(request)
        f = request.format
        out = []
        for p in request.prompts:
            level = p.seed % 200 + 20
            t = np.arange(f.num_samples) / f.sample_rate
            audio = (0.3 * np.sin(2 * np.pi * (200 + level) * t)).astype(np.float32)
            if request.task == "v2a":
                out.append(GeneratedClip(audio=audio))
            else:
                out.append(GeneratedClip(video=np.full(f.video_shape, level, np.uint8), audio=audio, nfe=3))
        return out

    def provenance(self):
        return {"weights": "none, a toy"}


class BadCount(Toy):
    def generate(self, request):
        return super().generate(request)[:-1]


class BadShape(Toy):
    def generate(self, request):
        clips = super().generate(request)
        clips[1].video = clips[1].video[:, ::2]
        return clips
'''

ENTRY_POINTS = """
[ccl_bench.generators]
toy = toy_gen:Toy
toy-bad-count = toy_gen:BadCount
toy-bad-shape = toy_gen:BadShape
toy-broken = toy_gen_missing:Nothing
"""


def install(where: Path, dist: str, version: str, entry_points: str, modules: dict[str, str]) -> Path:
    """A distribution as pip leaves it in site-packages: modules plus `<name>-<version>.dist-info`."""
    where.mkdir(parents=True, exist_ok=True)
    info = where / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, code in modules.items():
        (where / f"{name}.py").write_text(code)
    return where


@pytest.fixture
def toy(tmp_path, monkeypatch):
    site = install(tmp_path / "site", "toy-gen", "0.1", ENTRY_POINTS, {"toy_gen": TOY})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    import importlib

    import toy_gen

    importlib.reload(toy_gen)  # a fresh SEEN per test
    yield toy_gen
    import sys

    sys.modules.pop("toy_gen", None)


def run_cli(out: Path, *args: str) -> int:
    return main(["run", "--suite", "av-sync", "--bootstrap", "0", "--out", str(out), "--quiet", *args])


def test_the_toy_generator_runs_end_to_end_through_its_entry_point(toy, tmp_path):
    out = tmp_path / "runs"
    assert run_cli(out, "--model", "toy", "--task", "all", "--num", "2", "--steps", "2") == 0
    res = json.loads((out / "av-sync" / "toy.json").read_text())
    assert set(res["tasks"]) == {"t2av", "v2a"}  # `all`: the tasks the plugin declares
    gen = res["provenance"]["generator"]
    assert (gen["distribution"], gen["version"], gen["kind"]) == ("toy-gen", "0.1", "plugin")
    assert gen["target"] == "toy_gen:Toy" and gen["details"] == {"weights": "none, a toy"}
    # The prompts it got are the suite folder's records, in its order, in the rendering's format.
    ref = json.loads((out / "av-sync" / "clips" / "reference" / "manifest.json").read_text())["clips"]
    t2av, v2a = toy.SEEN
    assert [(p.id, p.caption) for p in t2av.prompts] == [(c["id"], c["caption"]) for c in ref]
    assert t2av.format == ClipFormat("tiny", 32, 32, 16.0, 16000, 2.0, 32, 32000) and t2av.steps == 2
    assert len({p.seed for p in t2av.prompts}) == 2 and all(p.condition_video is None for p in t2av.prompts)
    # V2A hands over the suite's video and keeps it in the written clip; the audio is the plugin's.
    for i, p in enumerate(v2a.prompts):
        ref_video = read_clip(out / "av-sync" / "clips" / "reference" / ref[i]["video"]).video
        np.testing.assert_array_equal(p.condition_video, ref_video)
        assert not p.condition_video.flags.writeable and p.condition_audio is None
        written = read_clip(out / "av-sync" / "clips" / "toy" / "v2a" / ref[i]["video"])
        np.testing.assert_array_equal(written.video, ref_video)
    # The written T2AV clips are exactly the plugin's (the tiny rendering's container is lossless).
    clips = toy.Toy().generate(t2av)
    for i, c in enumerate(ref):
        written = read_clip(out / "av-sync" / "clips" / "toy" / "t2av" / c["video"])
        np.testing.assert_array_equal(written.video, clips[i].video)
        np.testing.assert_allclose(written.audio[0], clips[i].audio, atol=1e-6)
    # Evaluated like any model: the suite's metrics, N the prompts; the plugin's NFE is recorded.
    m = res["tasks"]["t2av"]["metrics"]
    assert set(res["settings"]["metrics"]) <= set(m) and m["av-align"]["n"] == m["avsync-fvd"]["n"] == 2
    g = res["tasks"]["t2av"]["generation"]
    assert g["nfe_per_clip"] == 3 and g["passes_per_step"] is None
    assert res["tasks"]["v2a"]["generation"]["nfe_per_clip"] is None  # the toy reports none for V2A


def test_an_unknown_model_lists_the_known_names_and_how_to_register(toy, tmp_path, capsys):
    assert run_cli(tmp_path, "--model", "no-such-model") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for name in ("ccl", "gated", "none", "ceiling", "floor", "cascade", "toy"):
        assert f" {name}," in err or f" {name})" in err, (name, err)
    assert "no-such-model" in err and "ccl_bench.generators" in err


@pytest.mark.parametrize("model, fault", [
    ("toy-bad-count", "returned 2 clips for 3 prompts"),
    ("toy-bad-shape", "clip 1 ('test-00001', task t2av): video has shape (32, 16, 32, 3), (32, 32, 32, 3) expected"),
    ("toy-broken", "cannot load toy_gen_missing:Nothing: ModuleNotFoundError"),
])
def test_a_faulty_plugin_is_refused_with_a_line_naming_it(toy, tmp_path, capsys, model, fault):
    assert run_cli(tmp_path, "--model", model, "--num", "3") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"generator '{model}' (toy-gen 0.1)" in err and fault in err, err
    assert not (tmp_path / "av-sync" / f"{model}.json").exists()


def test_a_task_the_plugin_does_not_declare_is_refused_before_it_loads(toy, tmp_path, capsys):
    assert run_cli(tmp_path, "--model", "toy", "--task", "a2v", "--num", "1") == 2
    assert "does only t2av, v2a" in capsys.readouterr().err and toy.SEEN == []


def test_a_name_two_distributions_claim_is_refused_naming_both(tmp_path, monkeypatch):
    from ccl_bench.runner.generators import resolve_model

    site = install(tmp_path / "site", "clash-gen", "2.0", "[ccl_bench.generators]\nccl = clash:Gen\n", {"clash": ""})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(CCLBenchError, match=r"--model ccl: claimed by ccl-bench .* and clash-gen 2.0"):
        resolve_model("ccl")
    assert resolve_model("gated").kind == "reference" and resolve_model("floor").kind == "pseudo"


def test_a_generator_registered_in_process_is_run_like_an_installed_one(tmp_path, monkeypatch):
    from ccl_bench.generators import GENERATORS, register_generator
    from ccl_bench.runner.generators import resolve_model

    @register_generator("in-process-toy")
    class Gen:
        def generate(self, request):
            return []

    try:
        entry = resolve_model("in-process-toy")
        assert entry.kind == "plugin" and entry.load() is Gen
    finally:
        GENERATORS.unregister("in-process-toy")
    with pytest.raises(CCLBenchError, match="unknown model"):
        resolve_model("in-process-toy")


def request(task: str, n: int = 2) -> GenerationRequest:
    fmt = ClipFormat("tiny", 8, 6, 4.0, 100, 1.0, 4, 100)
    return GenerationRequest("av-sync", task, tuple(Prompt(i, f"p{i}", "c", None, task, i) for i in range(n)), fmt, 1, "ucg",
                             0, "cpu")


def good(task: str) -> GeneratedClip:
    return GeneratedClip(video=np.zeros((4, 6, 8, 3), np.uint8) if task != "v2a" and task != "t2a" else None,
                         audio=np.zeros(100, np.float32) if task not in ("a2v", "t2v") else None)


@pytest.mark.parametrize("change, fault", [
    (lambda c: setattr(c, "video", c.video.astype(np.float32)), "video has dtype float32, uint8 expected"),
    (lambda c: setattr(c, "audio", c.audio + 2), "audio holds values outside [-1, 1]"),
    (lambda c: setattr(c, "audio", None), "audio is NoneType, a numpy array of shape (100,) expected"),
    (lambda c: setattr(c, "nfe", -1), "nfe is -1"),
])
def test_check_clips_names_the_clip_and_the_fault(change, fault):
    entry = GeneratorEntry("g", "plugin", "m:G", "g-dist", "1.0")
    req = request("t2av")
    assert len(check_clips(entry, req, [good("t2av"), good("t2av")])) == 2
    clips = [good("t2av"), good("t2av")]
    change(clips[1])
    with pytest.raises(CCLBenchError) as e:
        check_clips(entry, req, clips)
    assert str(e.value).startswith("generator 'g' (g-dist 1.0): clip 1 ('p1', task t2av): ") and fault in str(e.value)


def test_check_clips_refuses_a_stream_the_task_keeps():
    entry = GeneratorEntry("g", "plugin", "m:G", "g-dist", "1.0")
    assert check_clips(entry, request("v2a"), [good("v2a"), good("v2a")])
    with pytest.raises(CCLBenchError, match="holds a video stream, which task v2a keeps from the suite"):
        check_clips(entry, request("v2a"), [good("v2a"), good("t2av")])


def test_the_readme_generator_passes_the_harness_checks():
    text = (ROOT / "README.md").read_text().split("## Bring your own generator", 1)[1]
    code = text.split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    gen = scope["MyGenerator"]()
    entry = GeneratorEntry("mygen", "plugin", "my_package.bench:MyGenerator", "my-package", "1.0")
    for task in gen.tasks:
        req = request(task)
        assert len(check_clips(entry, req, gen.generate(req))) == len(req.prompts)
    assert json.dumps(gen.provenance())


def test_list_generators_shows_every_kind_and_the_plugins_distribution(toy, capsys):
    assert main(["list", "generators"]) == 0
    rows = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 3}
    assert {"ccl", "gated", "ceiling", "floor", "cascade", "toy", "toy-bad-count"} <= set(rows)
    assert "plugin" in rows["toy"] and "toy-gen 0.1" in rows["toy"] and "pseudo" in rows["floor"]
    assert "reference" in rows["ccl"] and "plugin" in rows["cascade"]


def test_a2v_prompts_carry_the_suites_audio_read_only_and_mismatched_captions_swap():
    from ccl_bench.runner.generators import build_request
    from ccl_bench.suites import load_suite

    rend = load_suite("av-sync").rendering("tiny")
    video = np.zeros((3, *clip_shape(rend)), np.uint8)
    audio = np.random.default_rng(0).uniform(-1, 1, (3, rend.num_samples))
    metas = [{"id": f"c{i}", "caption": f"caption {i}", "label": f"family {i}"} for i in range(3)]
    req = build_request("av-sync", "a2v", video, audio, metas, rend, 4, "ucg", 0, "cpu", {"k": "v"})
    for i, p in enumerate(req.prompts):
        assert p.condition_video is None and p.condition_audio.dtype == np.float32 and not p.condition_audio.flags.writeable
        np.testing.assert_allclose(p.condition_audio, audio[i].astype(np.float32))
        assert (p.caption, p.id, p.task) == (f"caption {i}", f"c{i}", "a2v")
    assert req.options == {"k": "v"} and req.format.num_samples == rend.num_samples
    swapped = build_request("av-sync", "a2v", video, audio, metas, rend, 4, "ucg", 0, "cpu", {}, captions="mismatched")
    assert [p.caption for p in swapped.prompts] == ["caption 1", "caption 2", "caption 1"]


def clip_shape(rend) -> tuple[int, int, int, int]:
    return (rend.num_frames, rend.height, rend.width, 3)


def test_a_comma_list_of_tasks_gives_one_table_with_those_tasks(toy, tmp_path):
    out = tmp_path / "runs"
    assert run_cli(out, "--model", "toy", "--task", "v2a,t2av,v2a", "--num", "2", "--steps", "2") == 0
    res = json.loads((out / "av-sync" / "toy.json").read_text())
    assert list(res["tasks"]) == ["v2a", "t2av"]  # in the order given, each once
    assert run_cli(out, "--model", "toy", "--task", "t2av,a2v", "--num", "2", "--steps", "2") != 0  # toy makes no A2V
