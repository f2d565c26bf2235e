"""AV-Align equals an independent rendition of the current public TempoTokens script (flow floor 0.1,
each video peak matched at most once) on every clip of built sets, frozen ones included; the legacy
preset equals the 2023 script's matching; no clip scores above 1."""

import cv2
import librosa
import numpy as np
import pytest
import soundfile

from ccl_bench.evaluate import evaluate
from ccl_bench.io import read_clip
from ccl_bench.suites import build_suite, load_suite

FPS = 25


def script_peaks_and_onsets(video_path, wav_path, floor):
    """The script's steps: librosa.load (22,050 Hz), onset_detect on onset_strength; frames read by
    cv2.VideoCapture (BGR), greyed, Farneback (0.5, 3, 15, 3, 5, 1.2, 0), cv2.mean of the magnitude;
    trajectory [flow(0, 1)] + [flow(i - 1, i) for i >= 1]; strict local maxima of at least `floor`."""
    y, sr = librosa.load(str(wav_path))
    onsets = librosa.frames_to_time(librosa.onset.onset_detect(onset_envelope=librosa.onset.onset_strength(y=y, sr=sr),
                                                               sr=sr), sr=sr)
    cap = cv2.VideoCapture(str(video_path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)

    def of(a, b):
        flow = cv2.calcOpticalFlowFarneback(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY),
                                            None, 0.5, 3, 15, 3, 5, 1.2, 0)
        return cv2.mean(cv2.magnitude(flow[..., 0], flow[..., 1]))[0]

    traj = [of(frames[0], frames[1])] + [of(frames[i - 1], frames[i]) for i in range(1, len(frames))]
    peaks = [i / fps for i in range(1, len(traj) - 1) if traj[i - 1] < traj[i] > traj[i + 1] and traj[i] >= floor]
    return onsets, peaks, fps


def current_script(video_path, wav_path):
    onsets, peaks, fps = script_peaks_and_onsets(video_path, wav_path, 0.1)
    taken = [False] * len(peaks)
    hits = 0
    for a in onsets:
        for j, v in enumerate(peaks):
            if not taken[j] and v - 1 / fps < a < v + 1 / fps:
                taken[j] = True
                hits += 1
                break
    return hits / (len(onsets) + len(peaks) - hits)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two lossless sets of the native rendering (3 s clips keep it short): aligned and frozen video."""
    root = tmp_path_factory.mktemp("avalign")
    spec = load_suite("av-sync")
    spec.renderings["short"] = type(spec.rendering("native"))("short", 224, 224, FPS, 16000, 1, 3.0, "mkv")
    sets = {}
    for name, pert in (("aligned", None), ("freeze", {"kind": "freeze"})):
        d = root / name
        build_suite(spec, d, split="test", rendering="short", num=4, seed=0, perturbation=pert, show_progress=False)
        for v in sorted(d.glob("*.mkv")):  # the script reads a wav beside each video
            c = read_clip(v)
            soundfile.write(v.with_suffix(".wav"), c.audio[0], c.sample_rate)
        sets[name] = d
    return root, sets


def test_av_align_matches_the_current_script_on_every_clip(built):
    root, sets = built
    for name, d in sets.items():
        videos = sorted(d.glob("*.mkv"))
        expected = [current_script(v, v.with_suffix(".wav")) for v in videos]
        got = evaluate(d, metrics=["av-align"], cache_dir=root / "cache", bootstrap=0, show_progress=False)
        assert got["metrics"]["av-align"]["n"] == len(videos) == 4
        assert got["metrics"]["av-align"]["value"] == np.mean(expected), name
        if name == "freeze":
            assert expected == [0.0] * 4  # no flow peak above 0.1 px on a still picture


def test_av_align_never_exceeds_one_and_legacy_can(built):
    from ccl_bench.features.flow import av_align_halves, video_peaks
    from ccl_bench.metrics.av_align import iou, iou_legacy

    # One video peak between two audio onsets a frame apart: the legacy rule counts it twice.
    assert iou_legacy(np.array([1.0, 1.03]), np.array([1.02]), 25) == 2.0
    assert iou(np.array([1.0, 1.03]), np.array([1.02]), 25) == 0.5
    root, sets = built
    got = evaluate(sets["aligned"], metrics=["av-align", "av-align-legacy"], cache_dir=root / "cache", bootstrap=0,
                   show_progress=False, details=True)
    per_clip = got[1].results["av-align"]
    for r in per_clip:
        a, v = av_align_halves(r)
        assert iou(a.peaks, video_peaks(v.flow, v.fps), v.fps) <= 1
    assert got[0]["metrics"]["av-align-legacy"]["protocol"]["name"] == "av-align-tempotokens-2023"
