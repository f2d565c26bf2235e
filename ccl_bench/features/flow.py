"""The signals AV-Align reads (TempoTokens, `av_align.py`): librosa audio onsets and the Farneback
optical-flow trajectory, and the trajectory's peaks. Pure functions on arrays; the scoring (matching
the peaks, IoU) is `ccl_bench.metrics.av_align`.

- audio peaks: the audio resampled to 22,050 Hz (librosa's default load rate, soxr_hq), then
  `librosa.onset.onset_detect` on `librosa.onset.onset_strength` (librosa defaults: hop 512), as times;
- flow trajectory: grey frames (OpenCV), the mean Farneback optical-flow magnitude between consecutive
  frames (params 0.5, 3, 15, 3, 5, 1.2, 0); it starts with the flow of frames 0 -> 1 twice, as the
  script does, so entry i is the flow into frame i. Kept unrounded: the cache holds the exact values.
- video peaks: strict local maxima at `i / fps`; the current script ignores maxima below 0.1 pixel
  (`FLOW_FLOOR`), the 2023 one (preset `av-align-legacy`) kept every maximum.
  One documented deviation: "strict" means larger than both neighbours by more than `STRICT_TOL`
  (1e-6 pixel). OpenCV's Farneback varies between runs by ~1e-10 pixel on still frames, so where two
  neighbours are equal the script's answer is that jitter; the tolerance decides those ties the same
  way every run, and changes nothing where neighbours differ by more than a millionth of a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIO_RATE = 22050
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)  # pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
FLOW_FLOOR = 0.1  # pixels: smaller flow maxima are not peaks (current TempoTokens script)
STRICT_TOL = 1e-6  # pixels: a maximum must exceed each neighbour by more than this (see the module text)


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
    """uint8 RGB `[T, H, W, 3]` -> mean optical-flow magnitude `[T]` in pixels (entry 0 repeats entry 1)."""
    import cv2

    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in video]
    if len(grey) < 2:
        return np.zeros(len(grey))

    def flow(a, b) -> float:
        f = cv2.calcOpticalFlowFarneback(a, b, None, *FARNEBACK)
        return cv2.mean(cv2.magnitude(f[..., 0], f[..., 1]))[0]

    first = flow(grey[0], grey[1])
    return np.array([first, first] + [flow(grey[i - 1], grey[i]) for i in range(2, len(grey))])


def video_peaks(trajectory: np.ndarray, fps: float, floor: float = FLOW_FLOOR) -> np.ndarray:
    """Strict local maxima of the flow trajectory `[T]` of at least `floor` pixels, as times `i / fps`."""
    x = np.asarray(trajectory, np.float64)
    if len(x) < 3:
        return np.zeros(0)
    mid = x[1:-1]
    i = np.flatnonzero((mid - x[:-2] > STRICT_TOL) & (mid - x[2:] > STRICT_TOL) & (mid >= floor)) + 1
    return i / fps


@dataclass(frozen=True)
class AVAlignAudio:
    """The sound half of a clip's AV-Align analysis."""

    peaks: np.ndarray  # [K] onset times (s)


@dataclass(frozen=True)
class AVAlignVideo:
    """The picture half: the flow trajectory, so each preset picks its own peaks."""

    flow: np.ndarray  # [T] pixels
    fps: float


def av_align_halves(arrays: dict[str, np.ndarray]) -> tuple[AVAlignAudio, AVAlignVideo]:
    """A cached per-clip result (`audio_peaks`, `flow`, `fps`) -> its typed halves."""
    if "flow" not in arrays:
        from ..errors import CCLBenchError

        raise CCLBenchError("per-clip AV-Align results without the flow trajectory (written by ccl-bench before the "
                            "current TempoTokens protocol): evaluate the clips again")
    return AVAlignAudio(arrays["audio_peaks"]), AVAlignVideo(arrays["flow"], float(arrays["fps"][0]))
