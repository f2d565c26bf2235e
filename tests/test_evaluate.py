"""`ccl-bench eval` / `ccl_bench.evaluate`: offline behaviour, the feature cache, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch

from ccl_bench import evaluate as E
from ccl_bench.cli import main
from ccl_bench.features import SyncAnalysis
from ccl_bench.features.vggish import VGGish
from ccl_bench.io import AVClip, write_clip
from ccl_bench.suites import build_suite, load_suite
from tests.features.test_backbones import pin_to, save_i3d_file


@pytest.fixture(scope="module")
def tiny64(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny64")
    build_suite(load_suite("av-sync"), d, split="test", rendering="tiny", num=64, seed=0, show_progress=False)
    return d


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty CCL_BENCH_HOME: no weights, a fresh feature cache."""
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_offline_eval_reports_weight_metrics_unavailable_and_the_rest_with_intervals(tiny64, home, tmp_path, capsys):
    out = tmp_path / "result.json"
    code = main(["eval", "--pred", str(tiny64), "--ref", str(tiny64), "--out", str(out), "--quiet", "--bootstrap", "50"])
    assert code == 0
    res = json.loads(out.read_text())
    m = res["metrics"]
    for name, file in (("fvd", "i3d_pretrained_400.pt"), ("kvd", "i3d_pretrained_400.pt"), ("fad", "vggish-10086976.pth")):
        assert m[name]["status"] == "unavailable"
        # The file names no machine folder: the weights folder as $CCL_BENCH_HOME (the screen shows the real one).
        assert file in m[name]["reason"] and "$CCL_BENCH_HOME/weights/" in m[name]["reason"] and "https://" in m[name]["reason"]
    assert str(tmp_path) not in out.read_text() + out.with_suffix(".md").read_text() + out.with_suffix(".csv").read_text()
    for name in ("av-align", "event-sync", "event-hit", "sync-offset"):
        lo, hi = m[name]["ci95"]
        assert np.isfinite([m[name]["value"], lo, hi]).all() and lo <= hi and m[name]["n"] == 64
    assert res["clips"]["pred"]["used"] == 64 and res["provenance"]["bootstrap"]["samples"] == 50
    assert out.with_suffix(".csv").read_text().startswith("task,metric,family,value,ci95_low")
    assert "| event-sync |" in out.with_suffix(".md").read_text()
    screen = capsys.readouterr().out
    assert "unavailable" in screen and "event-sync" in screen and str(home / "weights") in screen.replace("\n", "")


def test_an_interrupted_evaluation_resumes_from_the_cache_with_identical_numbers(tiny64, tmp_path, monkeypatch):
    folder = tmp_path / "clips"
    shutil.copytree(tiny64, folder)
    clean = E.evaluate(folder, metrics=["event-sync", "sync-offset"], cache_dir=tmp_path / "clean", show_progress=False)
    calls = {"n": 0}
    real = SyncAnalysis.compute

    def dies_on_the_tenth(self, clip):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt  # a kill half-way
        return real(self, clip)

    monkeypatch.setattr(SyncAnalysis, "compute", dies_on_the_tenth)
    with pytest.raises(KeyboardInterrupt):
        E.evaluate(folder, metrics=["event-sync", "sync-offset"], cache_dir=tmp_path / "resumed", show_progress=False)
    calls["n"] = -10**9  # never dies again
    resumed = E.evaluate(folder, metrics=["event-sync", "sync-offset"], cache_dir=tmp_path / "resumed", show_progress=False)
    assert calls["n"] == -10**9 + 64 - 9  # the 9 finished clips came from the cache
    assert resumed["metrics"] == clean["metrics"]


def test_undecodable_clips_are_listed_and_left_out(tiny64, home, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in sorted(tiny64.glob("*.mkv"))[:5]:
        shutil.copy(f, folder)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    (folder / "empty.mkv").write_bytes(b"")
    res = E.evaluate(folder, metrics=["event-sync"], show_progress=False)
    faults = {e["path"].split("/")[-1]: e["fault"] for e in res["clips"]["pred"]["excluded"]}
    assert set(faults) == {"broken.mp4", "empty.mkv"} and "empty file" in faults["empty.mkv"]
    assert res["clips"]["pred"]["used"] == 5 and res["metrics"]["event-sync"]["n"] == 5


def test_other_rates_are_converted_and_reported(home, tmp_path):
    video = np.full((45, 48, 64, 3), 20, np.uint8)
    video[20:24, 10:30, 20:40] = 230  # a flash from frame 20 (0.667 s at 30 fps)
    audio = np.zeros((2, 48000 * 3 // 2), np.float32)
    audio[:, 32000:33000] = 0.5  # a click at 0.667 s
    write_clip(AVClip(video, 30, audio, 48000), tmp_path / "c" / "odd.mkv")
    res = E.evaluate(tmp_path / "c", metrics=["event-sync"], show_progress=False)
    conv = res["clips"]["pred"]["conversions"]["sync"]
    assert conv == {"down-mixed 2 channels to mono": 1, "resampled audio 48000 -> 16000 Hz": 1}
    assert res["metrics"]["event-sync"]["value"] < 40  # the click and the jump are one frame apart at most


def test_distribution_metrics_with_random_weights_and_too_few_clips(tiny64, home, tmp_path, monkeypatch):
    import dataclasses

    from ccl_bench import weights as W

    wdir = home / "weights"
    save_i3d_file(wdir)
    pin_to(monkeypatch, "i3d-kinetics400", wdir / "i3d_pretrained_400.pt")
    torch.manual_seed(0)
    torch.save(VGGish().state_dict(), wdir / "vggish-10086976.pth")
    digest = W.sha256_of(wdir / "vggish-10086976.pth")
    monkeypatch.setitem(W.REGISTRY, "vggish", dataclasses.replace(W.REGISTRY["vggish"], sha256_prefix=digest[:8]))
    few = tmp_path / "few"
    few.mkdir()
    for f in sorted(tiny64.glob("*.mkv"))[:6]:
        shutil.copy(f, few)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(sorted(tiny64.glob("*.mkv"))[7], one)
    res = E.evaluate(few, few, metrics=["fvd", "kvd", "fad"], bootstrap=20, show_progress=False)["metrics"]
    assert res["fvd"]["value"] == pytest.approx(0, abs=1e-6)  # a set against itself
    assert res["fad"]["value"] == pytest.approx(0, abs=1e-6) and res["fad"]["protocol"]["weights_sha256"] == digest
    assert "note" in res["fvd"] and res["fvd"]["protocol"]["name"] == "videogpt"
    # FAD keeps VGGish's covariance divisor (N - 1) under any FVD preset, and says so.
    half = sorted(few.glob("*.mkv"))
    other = tmp_path / "other"
    other.mkdir()
    for f in half[3:]:
        shutil.move(f, other)
    fad = {p: E.evaluate(few, other, metrics=["fad"], protocol=p, bootstrap=0, show_progress=False,
                         details=True) for p in ("videogpt", "stylegan-v")}
    assert fad["videogpt"][0]["metrics"]["fad"]["value"] == fad["stylegan-v"][0]["metrics"]["fad"]["value"]
    text = fad["stylegan-v"][0]["metrics"]["fad"]["protocol"]["statistics"]
    assert "(N - 1)" in text and "/ (N)" not in text
    from ccl_bench.metrics import stats

    rows = [np.concatenate([r["features"] for r in s.results["vggish"]]) for s in fad["stylegan-v"][1:]]
    assert fad["stylegan-v"][0]["metrics"]["fad"]["value"] == pytest.approx(
        stats.frechet_distance(stats.gaussian(rows[0], 1), stats.gaussian(rows[1], 1)), rel=1e-12)
    for f in half[3:]:
        shutil.move(other / f.name, few)
    res = E.evaluate(few, one, metrics=["fvd", "fad"], bootstrap=0, show_progress=False)["metrics"]
    assert res["fvd"]["status"] == "unavailable" and "at least 2" in res["fvd"]["reason"]
    assert np.isfinite(res["fad"]["value"])  # one 2 s clip still gives two 0.96 s examples
