"""The scoring half of protocol `ccl-event-sync-v1` (the signals are `ccl_bench.features.onsets`).

- Pairing: each audio onset's distance to the nearest visual event and each visual event's distance
  to the nearest onset, capped at `max_offset_s` (a sound with nothing to see, or a sight with
  nothing to hear, counts as `max_offset_s` off). `event-sync` is the median of these distances;
  `event-hit` the share of onsets and events whose counterpart lies within one frame.
- Cross-correlation: the audio onset strength against the visual event strength (the larger of the
  two kinds per instant), both on the 2 ms grid, normalised per clip; the lag of the peak of the
  clips' summed curves is `sync-offset` (positive: the sound is late). Its confidence is the peak
  of the clips' mean curve less that curve's median (as SyncNet's Sync-C), a correlation in [0, 2].
"""

from __future__ import annotations

import numpy as np

from ..features.onsets import HOP_S, RISE_FRAMES, VisualStrength, visual_strength_on_grid


def distances(onsets: np.ndarray, events: np.ndarray, cap_s: float) -> np.ndarray:
    """Each onset's distance to the nearest event and each event's to the nearest onset (s), capped."""
    onsets, events = np.asarray(onsets, float), np.asarray(events, float)
    if not len(onsets) or not len(events):
        return np.full(len(onsets) + len(events), cap_s)
    d = np.abs(onsets[:, None] - events[None, :])
    return np.minimum(np.concatenate([d.min(1), d.min(0)]), cap_s)


def xcorr_curve(audio_strength: np.ndarray, vs: VisualStrength, fps: float, max_lag_s: float):
    """Normalised cross-correlation of the audio onset strength (2 ms frames) with the visual event
    strength on the same grid -> (lags `[L]` in s, correlation `[L]`). A peak at lag L > 0 means the
    sound follows the picture by L seconds. All zeros when either signal is constant."""
    n = len(audio_strength)
    grid = (np.arange(n) + RISE_FRAMES / 2) * HOP_S  # where each onset-strength frame's onset sits
    a = audio_strength - audio_strength.mean()
    v = visual_strength_on_grid(vs, fps, grid)
    v = v - v.mean()
    k = int(round(max_lag_s / HOP_S))
    lags = np.arange(-k, k + 1)
    denom = np.sqrt((a**2).sum() * (v**2).sum())
    if denom <= 0 or n <= k:
        return lags * HOP_S, np.zeros(len(lags))
    size = 1 << int(np.ceil(np.log2(2 * n)))  # zero-padded: the circular correlation is the linear one
    full = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(v, size)), size) / denom  # index L: lag L
    return lags * HOP_S, np.concatenate([full[size - k :], full[: k + 1]])


def peak_lag(lags: np.ndarray, corr: np.ndarray) -> float:
    """The lag of the largest correlation, refined by a parabola through its neighbours."""
    i = int(np.argmax(corr))
    if 0 < i < len(corr) - 1:
        y0, y1, y2 = corr[i - 1], corr[i], corr[i + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return float(lags[i] + 0.5 * (y0 - y2) / den * (lags[1] - lags[0]))
    return float(lags[i])


def confidence(corr: np.ndarray) -> float:
    """Peak minus median of a correlation curve (SyncNet's Sync-C on our curve)."""
    return float(np.max(corr) - np.median(corr))
