"""Each fault a demanding user met (issue 11, "Why") gives one line naming the option or file and the
fault, before the work where it can be known before; invalid values are refused, not replaced; clips
that cannot count are left out or warned about by name; results are never written over each other."""

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from ccl_bench import evaluate as E
from ccl_bench.cli import main
from ccl_bench.errors import CCLBenchError
from ccl_bench.features import SyncAnalysis
from ccl_bench.io import AVClip, write_clip
from ccl_bench.paths import portable
from tests.conftest import event_clip

QUICK = ["--metrics", "event-sync,sync-offset", "--bootstrap", "10", "--quiet"]


@pytest.fixture(scope="module")
def four(tmp_path_factory) -> Path:
    """A plain folder of four in-sync 2 s clips (events at 0.5, 0.8, 1.1, 1.4 s)."""
    d = tmp_path_factory.mktemp("four")
    for i, t in enumerate((0.5, 0.8, 1.1, 1.4)):
        write_clip(event_clip(t_event=t), d / f"clip{i}.mkv")
    return d


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def analyses(monkeypatch):
    """Counts the clips analysed: a check that runs 'before the work' leaves it at 0."""
    calls = {"n": 0}
    real = SyncAnalysis.compute

    def counted(self, clip):
        calls["n"] += 1
        return real(self, clip)

    monkeypatch.setattr(SyncAnalysis, "compute", counted)
    return calls


def one_line_error(capsys, argv, *needles, code=2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    line = " ".join(err.split())  # rich may wrap a long line on a narrow terminal
    assert err.startswith("error:") and "Traceback" not in err
    for n in needles:
        assert n in line, line
    return line


def copy_of(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


# --- manifests and suite folders ---------------------------------------------------------------


@pytest.mark.parametrize("clips, where", [
    ({"a": 1}, "clips: expected a list"),
    ([["clip0.mkv"]], "clips[0]: expected an object"),
    ([{"video": 7}], "clips[0].video: expected a file name"),
    ([{"video": "clip0.mkv", "events": [{"t": "soon"}]}], "clips[0].events[0].t: expected a finite time"),
    ([{"video": "clip0.mkv", "events": {"t": 1}}], "clips[0].events: expected a list"),
    ([{"video": "clip0.mkv", "audio": 3}], "clips[0].audio: expected a file name or null"),
])
def test_malformed_manifest_fields_are_one_line(four, tmp_path, capsys, analyses, clips, where):
    d = copy_of(four, tmp_path / "s")
    (d / "manifest.json").write_text(json.dumps({"clips": clips}))
    one_line_error(capsys, ["eval", "--pred", str(d), *QUICK], str(d / "manifest.json"), where)
    assert analyses["n"] == 0


def test_a_half_built_suite_folder_is_refused_with_how_to_resume(tmp_path, capsys):
    from ccl_bench.suites import build_suite, load_suite

    d = tmp_path / "suite"
    build_suite(load_suite("av-sync"), d, split="test", rendering="tiny", num=2, seed=0, show_progress=False)
    (d / "manifest.json").rename(d / "manifest.partial.json")  # as a build killed before its end leaves it
    one_line_error(capsys, ["eval", "--pred", str(d), *QUICK], str(d), "incomplete", "manifest.partial.json",
                   f"ccl-bench suite build av-sync --out {d}", "--split test --rendering tiny --seed 0")


def test_files_the_manifest_does_not_list_are_warned_about_by_name(four, tmp_path):
    d = copy_of(four, tmp_path / "s")
    (d / "manifest.json").write_text(json.dumps({"clips": [{"id": "c0", "video": "clip0.mkv"}]}))
    res = E.evaluate(d, metrics=["event-sync"], bootstrap=0, show_progress=False)
    warned = {Path(w["path"]).name: w["warning"] for w in res["clips"]["pred"]["warnings"]}
    assert set(warned) == {"clip1.mkv", "clip2.mkv", "clip3.mkv"}
    assert all("not listed in manifest.json" in w for w in warned.values())
    assert res["clips"]["pred"]["used"] == 1


# --- options: refused, never replaced by a default ---------------------------------------------


def test_an_empty_metric_list_is_refused(four, capsys, analyses):
    one_line_error(capsys, ["eval", "--pred", str(four), "--metrics", ""], "--metrics", "empty list")
    one_line_error(capsys, ["eval", "--pred", str(four), "--metrics", "event-sync,,fvd"], "--metrics", "empty name")
    with pytest.raises(CCLBenchError, match="empty list"):
        E.evaluate(four, metrics=[], show_progress=False)
    assert analyses["n"] == 0


def test_an_unknown_device_is_one_line(four, capsys, analyses):
    one_line_error(capsys, ["eval", "--pred", str(four), *QUICK, "--device", "tpu"], "--device 'tpu'", "unknown device")
    assert analyses["n"] == 0


@pytest.fixture
def no_generation(monkeypatch):
    """`run` must refuse before sampling: a generation that starts fails the test at once."""
    from ccl_bench.runner import sample

    def started(*a, **k):
        raise AssertionError("generation started")

    monkeypatch.setattr(sample, "generate", started)


@pytest.mark.parametrize("option, value", [("--steps", "-5"), ("--steps", "0"), ("--num-samples", "0"),
                                           ("--num-samples", "-1"), ("--bootstrap", "-3")])
def test_run_refuses_counts_below_one_instead_of_using_the_default(tmp_path, capsys, no_generation, option, value):
    one_line_error(capsys, ["run", "--model", "ccl", "--out", str(tmp_path / "runs"), "--quiet", option, value],
                   f"{option} {value}", "must be at least")


def test_sample_refuses_zero_steps_and_clips(tmp_path, capsys):
    from ccl_bench.runner.sample import generate

    for kw, option in (({"steps": 0}, "--steps 0"), ({"num": 0}, "--num 0")):
        with pytest.raises(CCLBenchError, match=option):
            generate("checkpoints/av-sync/ccl", "av-sync", "t2av", **{"num": 2, **kw}, out=tmp_path / "s", device="cpu",
                     show_progress=False)


@pytest.mark.parametrize("make, needle", [
    (lambda d: ["--set", "bogus=1"], "no config field 'bogus'"),
    (lambda d: ["--model", str(d / "missing.yaml")], "model file not found"),
    (lambda d: (d / "bad.yaml").write_text("base: [ccl\n") and ["--model", str(d / "bad.yaml")], "not valid YAML"),
    (lambda d: ["--model", "nosuch"], "unknown model 'nosuch'"),
    (lambda d: (d / "b.yaml").write_text("base: nosuch\n") and ["--model", str(d / "b.yaml")], "unknown model 'nosuch'"),
])
def test_model_faults_say_what_they_are_not_no_shipped_checkpoint(tmp_path, capsys, no_generation, make, needle):
    extra = make(tmp_path)
    argv = ["run", "--model", "ccl", "--out", str(tmp_path / "runs"), "--quiet"]
    if extra[0] == "--model":
        argv[2] = extra[1]
    else:
        argv += extra
    line = one_line_error(capsys, argv, needle)
    assert "shipped checkpoint" not in line and "no checkpoint" not in line


# --- folders we write into: checked first ------------------------------------------------------


@pytest.fixture
def refusing(monkeypatch):
    """Make the OS refuse file creation under a folder, as a read-only mount (EROFS) or a full disk
    (ENOSPC) does: `refusing(folder, errno)`. (Tests run as root here, where permission bits do not bite.)"""
    real = os.open

    def arm(folder: Path, code: int):
        def fake(path, flags, *a, **k):
            if str(Path(path).resolve()).startswith(str(folder.resolve())) and flags & os.O_CREAT:
                raise OSError(code, os.strerror(code), str(path))
            return real(path, flags, *a, **k)

        monkeypatch.setattr(os, "open", fake)

    return arm


@pytest.mark.parametrize("code, fault", [(errno.EROFS, "read-only file system"), (errno.ENOSPC, "no space left")])
@pytest.mark.parametrize("which", ["--out", "--cache-dir", "$CCL_BENCH_HOME"])
def test_unwritable_output_cache_or_home_is_found_before_the_evaluation(four, tmp_path, capsys, analyses, refusing, home,
                                                                          which, code, fault):
    target = {"--out": tmp_path / "res", "--cache-dir": tmp_path / "cache", "$CCL_BENCH_HOME": home}[which]
    target.mkdir(parents=True)
    refusing(target, code)
    argv = ["eval", "--pred", str(four), *QUICK]
    argv += {"--out": ["--out", str(target / "r")], "--cache-dir": ["--cache-dir", str(target)], "$CCL_BENCH_HOME": []}[which]
    one_line_error(capsys, argv, which, str(target), fault)
    assert analyses["n"] == 0


@pytest.mark.parametrize("which", ["--out", "--cache-dir", "$CCL_BENCH_HOME"])
def test_output_cache_or_home_of_the_wrong_kind_is_found_before_the_evaluation(four, tmp_path, capsys, analyses,
                                                                               monkeypatch, which):
    folder, file = tmp_path / "a-folder", tmp_path / "a-file"
    folder.mkdir()
    file.write_text("x")
    if which == "--out":
        argv, needle = ["--out", str(folder)], "is a folder"
    elif which == "--cache-dir":
        argv, needle = ["--cache-dir", str(file)], "is a file, not a folder"
    else:
        monkeypatch.setenv("CCL_BENCH_HOME", str(file))
        argv, needle = [], "is a file, not a folder"
    one_line_error(capsys, ["eval", "--pred", str(four), *QUICK, *argv], which, needle)
    assert analyses["n"] == 0


def test_run_checks_its_out_folder_first(tmp_path, capsys, no_generation):
    (tmp_path / "runs").write_text("a file")
    one_line_error(capsys, ["run", "--model", "ccl", "--out", str(tmp_path / "runs"), "--quiet"], "--out", "is a file")


def test_out_onto_a_device_or_pipe_is_refused_and_left_alone(four, tmp_path, capsys, analyses):
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    one_line_error(capsys, ["eval", "--pred", str(four), *QUICK, "--out", str(fifo)], str(fifo), "not a regular file")
    assert fifo.is_fifo() and analyses["n"] == 0


def test_out_is_a_base_and_no_result_file_is_written_over_another(four, tmp_path):
    assert main(["eval", "--pred", str(four), *QUICK, "--out", str(tmp_path / "r.csv")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["metrics"]["event-sync"]["n"] == 4
    import csv

    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert {r["metric"] for r in rows} >= {"event-sync", "sync-offset"} and not (tmp_path / "r.csv").read_text().startswith("{")
    assert "event-sync" in (tmp_path / "r.md").read_text() and not (tmp_path / "r.md").read_text().startswith("{")
    assert main(["eval", "--pred", str(four), *QUICK, "--out", str(tmp_path / "plain")]) == 0
    assert {p.name for p in tmp_path.glob("plain*")} == {"plain.json", "plain.csv", "plain.md"}


# --- regress ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, needle", [
    ("default: {abs: 0.1\nsuites: [", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("default: {abs: lots}\n", "default.abs: expected a number >= 0, got 'lots'"),
    ("suites: {av-sync: {fvd: 3}}\n", "suites.av-sync.fvd: expected {abs: A, rel: R}"),
    ("suites: {av-sync: {fvd: {rel: -1}}}\n", "suites.av-sync.fvd.rel: expected a number >= 0"),
])
def test_malformed_tolerances_are_one_line(tmp_path, capsys, text, needle):
    tol = tmp_path / "tol.yaml"
    tol.write_text(text)
    one_line_error(capsys, ["regress", "--current", "results", "--tolerances", str(tol)], str(tol), needle)


def test_a_missing_baseline_says_so(tmp_path, capsys):
    line = one_line_error(capsys, ["regress", "--baseline", str(tmp_path / "nope"), "--current", "results"],
                          f"--baseline {tmp_path / 'nope'}", "folder not found")
    assert "tolerances" not in line


# --- clips that cannot count -------------------------------------------------------------------


def test_non_finite_audio_leaves_that_clip_out_by_name_and_the_others_unchanged(four, tmp_path):
    d = copy_of(four, tmp_path / "s")
    clean = E.evaluate(d, metrics=["sync-offset", "event-sync", "av-align"], bootstrap=0, show_progress=False)
    bad = event_clip(t_event=0.6)
    bad.audio[0, 4000:4100] = np.nan
    write_clip(bad, d / "nan.mkv")
    res = E.evaluate(d, metrics=["sync-offset", "event-sync", "av-align"], bootstrap=0, show_progress=False)
    (left,) = res["clips"]["pred"]["excluded"]
    assert left["path"] == portable(d / "nan.mkv") and "non-finite" in left["fault"]
    for m in ("sync-offset", "event-sync", "av-align"):
        assert res["metrics"][m]["value"] == clean["metrics"][m]["value"]


def test_a_stream_length_mismatch_is_warned_about_by_name(four, tmp_path):
    d = copy_of(four, tmp_path / "s")
    c = event_clip(t_event=0.7)
    write_clip(AVClip(c.video, c.fps, c.audio[:, : c.sample_rate], c.sample_rate), d / "short-audio.mkv")  # 2 s vs 1 s
    for _ in range(2):  # the warning is the same when the clip's results come from the cache
        res = E.evaluate(d, metrics=["event-sync"], bootstrap=0, show_progress=False)
        (w,) = res["clips"]["pred"]["warnings"]
        assert w["path"] == portable(d / "short-audio.mkv") and "video 2.00 s, audio 1.00 s" in w["warning"]
        assert res["clips"]["pred"]["used"] == 5


def test_an_evaluation_in_which_every_clip_failed_exits_non_zero(tmp_path, capsys):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "a.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)))
    (d / "b.mkv").write_bytes(b"")
    line = one_line_error(capsys, ["eval", "--pred", str(d), *QUICK, "--out", str(tmp_path / "r")], str(d),
                          "none of its 2 clips", code=1)
    assert "a.mp4" in line and not (tmp_path / "r.json").exists()


def test_no_bootstrap_writes_valid_json_with_no_interval(four, tmp_path):
    assert main(["eval", "--pred", str(four), "--metrics", "event-sync", "--bootstrap", "0", "--quiet",
                 "--out", str(tmp_path / "r.json")]) == 0

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    m = json.loads((tmp_path / "r.json").read_text(), parse_constant=refuse)["metrics"]["event-sync"]
    assert m["ci95"] is None and "bootstrap off" in m["interval"]["why_none"] and np.isfinite(m["value"])


# --- the decoder is part of the cache key and of the provenance -------------------------------


def test_the_decoder_keys_the_cache_and_is_recorded(four, tmp_path, analyses, monkeypatch):
    from ccl_bench.io.reader import decoder_id

    cache = tmp_path / "cache"
    res = E.evaluate(four, metrics=["event-sync"], bootstrap=0, cache_dir=cache, show_progress=False)
    assert res["provenance"]["decoder"] == decoder_id() and analyses["n"] == 4
    E.evaluate(four, metrics=["event-sync"], bootstrap=0, cache_dir=cache, show_progress=False)
    assert analyses["n"] == 4  # same decoder: from the cache
    from ccl_bench.features import analyse

    for module in (E, analyse):  # the analysis loop keys the cache, the evaluation records it
        monkeypatch.setattr(module, "decoder_id", lambda backend="auto": "another decoder")
    res = E.evaluate(four, metrics=["event-sync"], bootstrap=0, cache_dir=cache, show_progress=False)
    assert analyses["n"] == 8 and res["provenance"]["decoder"] == "another decoder"  # another decoder: recomputed
