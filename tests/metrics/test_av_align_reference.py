"""AV-Align equals an independent rendition of the public TempoTokens script on the same files."""

import cv2
import librosa
import numpy as np

from ccl_bench.evaluate import evaluate
from ccl_bench.io import AVClip, write_clip
from ccl_bench.suites import load_suite, make_clip


def reference_av_align(video_path, wav_path):
    """The public script's steps: librosa.load (22,050 Hz), onset_detect on onset_strength; frames read
    by cv2.VideoCapture (BGR), greyed, Farneback (0.5, 3, 15, 3, 5, 1.2, 0), cv2.mean of the magnitude;
    trajectory [flow(0, 1)] + [flow(i - 1, i) for i >= 1]; strict local maxima at i / fps; IoU."""
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
    peaks = [i / fps for i in range(1, len(traj) - 1) if traj[i - 1] < traj[i] > traj[i + 1]]
    hits = sum(1 for a in onsets if any(v - 1 / fps < a < v + 1 / fps for v in peaks))
    return hits / (len(onsets) + len(peaks) - hits)


def test_av_align_matches_the_reference_script(tmp_path):
    spec = load_suite("av-sync")
    rend = spec.rendering("native")
    expected = []
    # Clips that move throughout: on a still scene the script's strict maxima are Farneback's run-to-run
    # jitter (~1e-10 px), which ccl-bench rounds away (see ccl_bench.metrics.av_align).
    for i in (0, 3, 5):
        c = make_clip(spec, "test", rend, i, 0, 6)
        n = 75  # 3 s keep the test short
        clip = AVClip(c.video[:n], c.fps, c.audio[:, : 3 * c.sample_rate], c.sample_rate)
        video = write_clip(clip, tmp_path / f"clip{i}.mkv", sidecar="wav")  # lossless: both readers see the same pixels
        expected.append(reference_av_align(video, video.with_suffix(".wav")))
    got = evaluate(tmp_path, metrics=["av-align"], cache_dir=tmp_path / "cache", bootstrap=0, show_progress=False)
    assert got["metrics"]["av-align"]["value"] == np.mean(expected)
    assert got["metrics"]["av-align"]["n"] == 3
