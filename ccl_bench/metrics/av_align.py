"""AV-Align (TempoTokens, `av_align.py`), computed the way the public script does, with its bug fixed.

Protocol `av-align-tempotokens`:
- audio peaks: the audio resampled to 22,050 Hz (librosa's default load rate, soxr_hq), then
  `librosa.onset.onset_detect` on `librosa.onset.onset_strength` (librosa defaults: hop 512), as times;
- video peaks: grey frames (OpenCV), the mean Farneback optical-flow magnitude between consecutive
  frames (params 0.5, 3, 15, 3, 5, 1.2, 0); the trajectory starts with the flow of frames 0 -> 1 twice,
  as the script does, so entry i is the flow into frame i; strict local maxima at `i / fps`. One
  deviation: magnitudes are rounded to 1e-6 pixel first. OpenCV's Farneback varies from run to run
  by ~1e-10 on static frames, which makes the script's strict maxima there noise (its own output is
  not reproducible on a still scene); rounding keeps every real peak and drops only those;
- score: an audio peak is a hit if some video peak lies strictly within one frame of it;
  `hits / (|A| + |V| - hits)`. The public script's local-maximum helper reads an undefined `n`; it
  means `len(arr)`, which is what is used here. A clip with no peak on either side has no score.
"""

from __future__ import annotations

import numpy as np

AUDIO_RATE = 22050
ROUND_DECIMALS = 6  # pixels: below Farneback's run-to-run jitter's reach, far above it
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)  # pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags


def audio_peaks(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float audio `[N]` -> onset times (s)."""
    import librosa

    y = np.asarray(audio, np.float32)
    if sample_rate != AUDIO_RATE:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=AUDIO_RATE, res_type="soxr_hq")
    env = librosa.onset.onset_strength(y=y, sr=AUDIO_RATE)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=AUDIO_RATE)
    return librosa.frames_to_time(frames, sr=AUDIO_RATE)


def flow_trajectory(video: np.ndarray) -> np.ndarray:
    """uint8 RGB `[T, H, W, 3]` -> mean optical-flow magnitude `[T]` (entry 0 repeats entry 1)."""
    import cv2

    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in video]
    if len(grey) < 2:
        return np.zeros(len(grey))

    def flow(a, b) -> float:
        f = cv2.calcOpticalFlowFarneback(a, b, None, *FARNEBACK)
        return cv2.mean(cv2.magnitude(f[..., 0], f[..., 1]))[0]

    first = flow(grey[0], grey[1])
    traj = np.array([first, first] + [flow(grey[i - 1], grey[i]) for i in range(2, len(grey))])
    return np.round(traj, ROUND_DECIMALS)


def video_peaks(trajectory: np.ndarray, fps: float) -> np.ndarray:
    """Strict local maxima of the flow trajectory, as times `i / fps`."""
    x = np.asarray(trajectory)
    if len(x) < 3:
        return np.zeros(0)
    i = np.flatnonzero((x[:-2] < x[1:-1]) & (x[1:-1] > x[2:])) + 1
    return i / fps


def iou(a_peaks: np.ndarray, v_peaks: np.ndarray, fps: float) -> float | None:
    """`hits / (|A| + |V| - hits)`; None when both lists are empty."""
    hits = sum(any(v - 1 / fps < a < v + 1 / fps for v in v_peaks) for a in a_peaks)
    denom = len(a_peaks) + len(v_peaks) - hits
    return hits / denom if denom else None
