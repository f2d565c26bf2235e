"""The av-sync suite's ground truth holds after the clips are written and read back."""

import json

import numpy as np
import pytest

from ccl_bench.errors import CCLBenchError
from ccl_bench.features.flow import audio_peaks
from ccl_bench.io import read_clip
from ccl_bench.suites import build_suite, load_suite, parse_perturbation, synth
from ccl_bench.suites.av_sync import FAMILIES, event_times
from ccl_bench.suites.perturb import swap_sources
from tests.suites.signatures import (
    audio_onset_near,
    ball_height_px,
    brightness,
    dominant_pitch,
    lowest_frame_near,
    rise_frame_near,
)

NUM = 10  # two clips of each of the five families


@pytest.fixture(scope="module")
def spec():
    return load_suite("av-sync")


@pytest.fixture(scope="module")
def native(spec, tmp_path_factory):
    d = tmp_path_factory.mktemp("native")
    build_suite(spec, d, split="test", rendering="native", num=NUM, seed=0, show_progress=False)
    return d


def _clips(d):
    m = json.loads((d / "manifest.json").read_text())
    return m, [(c, read_clip(d / c["video"])) for c in m["clips"]]


def test_manifest_layout(native):
    m, clips = _clips(native)
    assert (m["suite"], m["split"], m["rendering"], m["seed"]) == ("av-sync", "test", "native", 0)
    assert len(m["clips"]) == NUM
    assert {c["label"] for c in m["clips"]} == set(FAMILIES)
    for c, clip in clips:
        assert set(c) >= {"id", "video", "audio", "caption", "label", "events", "perturbation"}
        assert c["audio"] is None and c["perturbation"] is None and c["caption"]
        assert clip.video.shape == (200, 224, 224, 3) and clip.fps == 25
        assert clip.audio.shape == (1, 128000) and clip.sample_rate == 16000
        assert all(set(e) == {"t", "kind", "object"} for e in c["events"])
        assert (c["label"] == "continuous-pitch") == (not c["events"])


def test_every_event_is_audible(native):
    _, clips = _clips(native)
    checked = 0
    for c, clip in clips:
        for e in c["events"]:
            onset = audio_onset_near(clip.audio[0], clip.sample_rate, e["t"])
            assert abs(onset - e["t"]) <= 0.010, (c["id"], e, onset)
            checked += 1
    assert checked >= 15


def test_every_event_is_visible(native, spec):
    _, clips = _clips(native)
    fps = 25.0
    for c, clip in clips:
        for e in c["events"]:
            frame_of_event = int(np.ceil(e["t"] * fps - 1e-9))
            if c["label"] == "bouncing-ball":
                color = np.array(synth.COLORS[c["caption"].split()[1]]) * 255
                seen = lowest_frame_near(ball_height_px(clip.video, color), fps, e["t"])
            else:
                seen = rise_frame_near(brightness(clip.video), fps, e["t"])
            assert abs(seen - frame_of_event) <= 1, (c["id"], c["label"], e, seen, frame_of_event)


def test_continuous_pitch_follows_height(native):
    _, clips = _clips(native)
    for c, clip in clips:
        if c["label"] != "continuous-pitch":
            continue
        color = np.array(synth.COLORS[c["caption"].split()[1]]) * 255
        rows = ball_height_px(clip.video, color)
        times = np.arange(5, 195, 5) / 25
        pitch = [np.log(dominant_pitch(clip.audio[0], 16000, t)) for t in times]
        height = -rows[(times * 25).astype(int)]
        assert np.corrcoef(pitch, height)[0, 1] > 0.95


@pytest.mark.parametrize("offset", [0.16, -0.08])
def test_offset_perturbation_shifts_audio(spec, native, tmp_path, offset):
    build_suite(spec, tmp_path, split="test", rendering="native", num=3, seed=0,
                perturbation=parse_perturbation(f"offset={offset}"), show_progress=False)
    m = json.loads((tmp_path / "manifest.json").read_text())
    for c in m["clips"]:
        assert c["perturbation"] == {"kind": "offset", "seconds": offset}
        a = read_clip(native / c["video"]).audio[0]
        b = read_clip(tmp_path / c["video"]).audio[0]
        corr = np.fft.irfft(np.fft.rfft(b, 2 * len(a)) * np.conj(np.fft.rfft(a, 2 * len(a))))
        lag = int(np.argmax(corr))
        lag = lag - 2 * len(a) if lag > len(a) else lag
        assert abs(lag / 16000 - offset) <= 0.002


def test_swap_freeze_silence(spec, tmp_path):
    base = tmp_path / "base"
    build_suite(spec, base, rendering="tiny", num=3, show_progress=False)
    clean = {c["id"]: read_clip(base / c["video"]) for c in json.loads((base / "manifest.json").read_text())["clips"]}
    for kind in ("swap", "freeze", "silence"):
        d = tmp_path / kind
        build_suite(spec, d, rendering="tiny", num=3, perturbation=parse_perturbation(kind), show_progress=False)
        manifest = json.loads((d / "manifest.json").read_text())
        for c in manifest["clips"]:
            got, ref = read_clip(d / c["video"]), clean[c["id"]]
            assert c["perturbation"]["kind"] == kind
            if kind == "swap":
                np.testing.assert_array_equal(got.audio, clean[c["perturbation"]["source"]].audio)
                assert c["perturbation"]["source"] != c["id"]
                assert manifest["perturbation"]["sources"][int(c["id"][-5:])] == c["perturbation"]["source"]
                np.testing.assert_array_equal(got.video, ref.video)
            elif kind == "freeze":
                assert (got.video == got.video[:1]).all()
                np.testing.assert_array_equal(got.audio, ref.audio)
            else:
                assert not got.audio.any()
                np.testing.assert_array_equal(got.video, ref.video)


def test_deterministic_and_splits_differ(spec, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, split in ((a, "train"), (b, "train"), (c, "test")):
        build_suite(spec, d, split=split, rendering="tiny", num=5, seed=3, show_progress=False)
    ma, mb, mc = (json.loads((d / "manifest.json").read_text()) for d in (a, b, c))
    assert ma["clips"] == mb["clips"]
    for ca, cb in zip(ma["clips"], mb["clips"], strict=True):
        np.testing.assert_array_equal(read_clip(a / ca["video"]).video, read_clip(b / cb["video"]).video)
    assert [x["events"] for x in ma["clips"]] != [x["events"] for x in mc["clips"]]


def test_interrupted_build_resumes(spec, tmp_path, monkeypatch):
    import ccl_bench.suites.build as build

    real = build.write_clip
    calls = {"n": 0}

    def failing(clip, path, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(clip, path, **kw)

    monkeypatch.setattr(build, "write_clip", failing)
    with pytest.raises(RuntimeError):
        build_suite(spec, tmp_path, rendering="tiny", num=4, show_progress=False)
    assert not (tmp_path / "manifest.json").exists()  # a partial build is never reported as whole
    partial = json.loads((tmp_path / "manifest.partial.json").read_text())
    assert [c["id"] for c in partial["clips"]] == ["test-00000", "test-00001"]
    kept = (tmp_path / "test-00000.mkv").stat().st_mtime_ns

    monkeypatch.setattr(build, "write_clip", real)
    build_suite(spec, tmp_path, rendering="tiny", num=4, show_progress=False)
    assert (tmp_path / "test-00000.mkv").stat().st_mtime_ns == kept
    fresh = tmp_path / "fresh"
    build_suite(spec, fresh, rendering="tiny", num=4, show_progress=False)
    got = json.loads((tmp_path / "manifest.json").read_text())
    want = json.loads((fresh / "manifest.json").read_text())
    assert got["clips"] == want["clips"] and not (tmp_path / "manifest.partial.json").exists()


def test_event_times_respect_gap_and_margin():
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = float(rng.uniform(1.0, 10.0))
        ts = event_times(rng, d, int(rng.integers(1, 40)))
        # Times sit on a 1 ms grid, so bounds hold to half a millisecond.
        assert ts == sorted(ts) and ts[0] >= 0.25 - 5e-4 and ts[-1] <= d - 0.25 + 5e-4
        assert np.all(np.diff(ts) >= 0.3 - 1.001e-3)


def test_tiny_rendering_matches_spec(spec, tmp_path):
    build_suite(spec, tmp_path, rendering="tiny", num=5, show_progress=False)
    m = json.loads((tmp_path / "manifest.json").read_text())
    clip = read_clip(tmp_path / m["clips"][0]["video"])
    assert clip.video.shape == (32, 32, 32, 3) and clip.fps == 16 and clip.num_samples == 32000
    assert m["clips"][0]["video"].endswith(".mkv")


def test_swap_is_a_seeded_uniform_derangement():
    """Each clip's sound comes from another clip drawn uniformly (as the -cc chance pairs are), by seed."""
    for n in (2, 3, 10):
        p = swap_sources(n, seed=0)
        assert sorted(p) == list(range(n)) and (p != np.arange(n)).all()
    assert (swap_sources(10, 1) == swap_sources(10, 1)).all() and (swap_sources(10, 1) != swap_sources(10, 2)).any()
    # Over seeds, clip 0's source is uniform over the other 4 clips (not always the next one).
    counts = np.bincount([swap_sources(5, s)[0] for s in range(2000)], minlength=5)
    assert counts[0] == 0 and (np.abs(counts[1:] / 2000 - 0.25) < 0.04).all(), counts
    with pytest.raises(CCLBenchError, match="swap needs at least 2 clips"):
        swap_sources(1, 0)


def test_the_ball_touches_the_floor_only_at_its_impacts():
    """No bounce without a thud: the ball's height above the floor is positive between impacts, zero at
    each, and never below the floor (a virtual impact inside the clip once raised it out of the floor)."""
    ball = FAMILIES["bouncing-ball"]
    for duration in (2.0, 8.0):
        for k in range(40):
            scene = ball.sample(np.random.default_rng([0, k]), duration)
            t = np.linspace(0, duration, 1001)
            h = np.array([ball.height(scene, x) for x in t])
            impacts = np.array([e.t for e in scene.events])
            away = np.abs(t[:, None] - impacts[None]).min(1) > 0.02
            assert h.min() >= -1e-9 and h[away].min() > 1e-3, (duration, k, impacts, t[away][np.argmin(h[away])])


def test_every_sound_ends_without_a_click(native):
    """AV-Align's librosa onsets find one onset per event and none where a sound ends (a pluck cut off
    while audible, or a beep with a 2 ms release, clicked: a second sound with nothing to see)."""
    _, clips = _clips(native)
    for c, clip in clips:
        if c["label"] == "continuous-pitch":
            continue
        found = audio_peaks(clip.audio[0], clip.sample_rate)
        gt = np.array([e["t"] for e in c["events"]])
        assert len(found) == len(gt) and np.abs(found - gt).max() < 0.05, (c["id"], c["label"], gt, found)
