"""Independent detectors of what a clip shows and sounds like, used to check the suite's ground truth."""

import numpy as np


def audio_onset_near(audio: np.ndarray, sr: int, t: float, search: float = 0.14) -> float:
    """Time of the steepest rise of the 1 ms RMS envelope within +-`search` s of `t`."""
    hop = sr // 1000
    n = len(audio) // hop
    env = np.sqrt((audio[: n * hop].reshape(n, hop) ** 2).mean(1))
    rise = env[2:] - env[:-2]  # rise over 2 ms, centred on frame k + 1
    lo, hi = max(0, int((t - search) * 1000)), min(len(rise), int((t + search) * 1000))
    k = lo + int(np.argmax(rise[lo:hi]))
    assert rise[k] > 0.02, f"no sound starts near {t:.3f} s"
    return (k + 1) / 1000  # the envelope frame where the rise lands, within 1 ms of the onset


def brightness(video: np.ndarray, region: tuple[slice, slice] | None = None) -> np.ndarray:
    v = video.astype(np.float32)
    if region is not None:
        v = v[:, region[0], region[1]]
    return v.reshape(len(v), -1).mean(1)


def rise_frame_near(signal: np.ndarray, fps: float, t: float, search: float = 0.14) -> int:
    """Frame of the largest increase of `signal` [T] within +-`search` s of `t`."""
    d = np.diff(signal, prepend=signal[0])
    lo, hi = max(0, int((t - search) * fps)), min(len(d), int(np.ceil((t + search) * fps)) + 1)
    return lo + int(np.argmax(d[lo:hi]))


def ball_height_px(video: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Row of the centroid of the pixels close to `color` (RGB in [0, 255]), per frame."""
    dist = np.abs(video.astype(np.float32) - color).sum(-1)
    rows = np.arange(video.shape[1], dtype=np.float32)[None, :, None]
    mask = (dist < 90).astype(np.float32)
    return (mask * rows).sum((1, 2)) / np.maximum(mask.sum((1, 2)), 1)


def lowest_frame_near(height_px: np.ndarray, fps: float, t: float, search: float = 0.14) -> int:
    lo, hi = max(0, int((t - search) * fps)), min(len(height_px), int(np.ceil((t + search) * fps)) + 1)
    return lo + int(np.argmax(height_px[lo:hi]))


def dominant_pitch(audio: np.ndarray, sr: int, t: float, win: float = 0.064) -> float:
    n = int(win * sr)
    s = max(0, min(len(audio) - n, int(t * sr) - n // 2))
    seg = audio[s : s + n] * np.hanning(n)
    spec = np.abs(np.fft.rfft(seg, 8 * n))
    return float(np.argmax(spec) * sr / (8 * n))
