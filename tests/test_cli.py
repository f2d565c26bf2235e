"""The CLI: registries, suite build, and one clear line (exit 2, no traceback) for each bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ccl_bench import __version__
from ccl_bench.cli import main
from ccl_bench.io import write_clip


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_through_module_and_script():
    script = Path(sys.executable).with_name("ccl-bench")  # the console script installed beside python
    for cmd in ([sys.executable, "-m", "ccl_bench", "--version"], [str(script), "--version"]):
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert res.stdout.strip() == f"ccl-bench {__version__}"


def test_list_suites(capsys):
    code, out, _ = run(capsys, "list", "suites")
    assert code == 0 and "av-sync" in out and "native" in out and "tiny" in out


def test_suite_build(capsys, tmp_path):
    code, out, _ = run(capsys, "suite", "build", "av-sync", "--split", "test", "--rendering", "tiny",
                       "--num", "3", "--out", str(tmp_path), "--seed", "1", "--perturb", "offset=0.1", "--quiet")
    assert code == 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert len(m["clips"]) == 3 and m["seed"] == 1 and m["clips"][0]["perturbation"]["seconds"] == 0.1


def test_info(capsys, tmp_path, clip):
    p = write_clip(clip, tmp_path / "c.mp4")
    code, out, _ = run(capsys, "info", str(p))
    assert code == 0 and "c.mp4" in out and "16000" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["suite", "build", "no-such-suite", "--out", "{tmp}"], "unknown suite 'no-such-suite'"),
        (["suite", "build", "av-sync", "--rendering", "huge", "--out", "{tmp}"], "unknown rendering of suite av-sync 'huge'"),
        (["suite", "build", "av-sync", "--split", "val", "--out", "{tmp}"], "unknown split"),
        (["suite", "build", "av-sync", "--perturb", "reverse", "--out", "{tmp}"], "unknown perturbation 'reverse'"),
        (["suite", "build", "av-sync", "--perturb", "offset=soon", "--out", "{tmp}"], "offset needs seconds"),
        (["suite", "build", "av-sync", "--perturb", "swap", "--num", "1", "--out", "{tmp}"], "swap needs at least 2 clips"),
        (["suite", "build", "{tmp}/missing.yaml", "--out", "{tmp}"], "missing.yaml: suite file not found"),
        (["info", "{tmp}/missing.mp4"], "missing.mp4: file not found"),
        (["info", "{tmp}/empty.mp4"], "empty.mp4: empty file"),
        (["info", "{tmp}/noise.mp4"], "noise.mp4: corrupt or truncated"),
        (["info", "{tmp}/half.mp4"], "half.mp4: corrupt or truncated"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, tmp_path, clip, argv, needle):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "noise.mp4").write_bytes(b"\x00\x01garbage" * 300)
    data = write_clip(clip, tmp_path / "good.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv] + ["--quiet"] * (argv[0] == "suite")
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert "Traceback" not in err + out


def test_debug_shows_the_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "ccl_bench", "info", "--debug", str(tmp_path / "x.mp4")],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "Traceback" in res.stderr and "ClipError" in res.stderr


def test_bad_suite_yaml(capsys, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\nrenderings: [1, 2]\n")
    code, _, err = run(capsys, "suite", "build", str(bad), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and "broken.yaml: not a valid suite spec" in err


def test_list_models_with_counts_and_overrides(capsys, tmp_path):
    code, out, _ = run(capsys, "list", "models", "--scale", "wan-14b")
    assert code == 0
    for name in ("ccl", "ccl-no-tarp", "ccl-no-lct", "ccl-no-dcr", "gated", "ovi", "ltx2", "joint", "none"):
        assert f" {name} " in out
    assert "14,288." in out  # the Wan2.1-14B video stream, in millions
    code, base, _ = run(capsys, "list", "models", "--model", "ccl")
    code, more, _ = run(capsys, "list", "models", "--model", "ccl", "--set", "lct_tokens=64")
    assert code == 0 and base != more and "lct_tokens=64" in more
    spec = tmp_path / "abl.yaml"
    spec.write_text("base: ccl\nset: {lct_tokens: 64}\n")
    code, from_file, _ = run(capsys, "list", "models", "--model", str(spec))
    assert code == 0 and from_file.split("\n")[-3].split()[-1] == more.split("\n")[-3].split()[-1]


@pytest.mark.parametrize("argv,needle", [
    (["list", "models", "--model", "cll"], "unknown model 'cll'"),
    (["list", "models", "--model", "ccl", "--set", "lct_tokenz=2"], "no config field 'lct_tokenz'"),
    (["list", "models", "--model", "ccl", "--set", "lct"], "--set 'lct': use FIELD=VALUE"),
    (["list", "models", "--scale", "huge"], "unknown scale 'huge'"),
])
def test_bad_model_arguments(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err
