"""AV-Align's score (TempoTokens, `av_align.py`): the IoU of audio peaks and video peaks (the peaks
are `ccl_bench.features.flow`). An audio peak is a hit if a video peak lies strictly within one frame
of it; `hits / (|A| + |V| - hits)`.

- `av-align` (the current script): audio peaks in time order each take the first video peak, in
  time order, that lies within one frame and no earlier audio peak took; a video peak matches at most
  one audio peak, so the score lies in [0, 1]. Flow maxima below 0.1 pixel are not peaks.
- `av-align-legacy` (the 2023 script): every audio peak with any video peak within one frame is a
  hit, so one video peak can serve several audio peaks and the score can exceed 1; every strict flow
  maximum is a peak.
A clip with no peak on either side has no score."""

from __future__ import annotations

import numpy as np


def iou(a_peaks: np.ndarray, v_peaks: np.ndarray, fps: float) -> float | None:
    """Current script: one-to-one greedy matching in time order. None when both lists are empty."""
    used = np.zeros(len(v_peaks), bool)
    hits = 0
    for a in a_peaks:
        for j, v in enumerate(v_peaks):
            if not used[j] and v - 1 / fps < a < v + 1 / fps:
                used[j] = True
                hits += 1
                break
    denom = len(a_peaks) + len(v_peaks) - hits
    return hits / denom if denom else None


def iou_legacy(a_peaks: np.ndarray, v_peaks: np.ndarray, fps: float) -> float | None:
    """2023 script: a hit per audio peak with any video peak in reach (may exceed 1)."""
    hits = sum(any(v - 1 / fps < a < v + 1 / fps for v in v_peaks) for a in a_peaks)
    denom = len(a_peaks) + len(v_peaks) - hits
    return hits / denom if denom else None
