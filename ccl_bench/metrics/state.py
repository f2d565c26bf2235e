"""Per-clip metric states, typed, each with a `merge` (torchmetrics' pattern): a metric turns every
clip's analysis into one state, a set's state is the merge of its clips' states, and the metric's
value is a function of the merged state. A bootstrap replicate merges a resample of the clips' states,
so nothing is recomputed from the analyses per replicate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureRows:
    """Embedding rows `[n, D]` (one per clip for I3D, one per 0.96 s example for VGGish)."""

    rows: np.ndarray

    @staticmethod
    def merge(parts: Sequence[FeatureRows]) -> FeatureRows:
        if not parts:
            return FeatureRows(np.zeros((0, 1)))
        return FeatureRows(np.concatenate([p.rows.reshape(-1, p.rows.shape[-1]) for p in parts]))


@dataclass(frozen=True)
class EventPairing:
    """Distances (s) of each onset and each visual event to its nearest counterpart `[k]`, and how many
    of them lie within one frame."""

    distances: np.ndarray
    hits: int

    @staticmethod
    def merge(parts: Sequence[EventPairing]) -> EventPairing:
        if not parts:
            return EventPairing(np.zeros(0), 0)
        return EventPairing(np.concatenate([p.distances for p in parts]), sum(p.hits for p in parts))


@dataclass(frozen=True)
class CrossCorrelation:
    """Summed normalised cross-correlation curves `[L]` over `lags` `[L]` (s), each clip's own peak lag (s;
    NaN where its curve is flat) and how many clips have a curve that is not flat."""

    lags: np.ndarray
    curve: np.ndarray
    clip_lags: np.ndarray  # [clips merged]
    clips: int

    @staticmethod
    def merge(parts: Sequence[CrossCorrelation]) -> CrossCorrelation:
        if not parts:
            return CrossCorrelation(np.zeros(1), np.zeros(1), np.zeros(0), 0)
        return CrossCorrelation(parts[0].lags, np.sum([p.curve for p in parts], 0),
                                np.concatenate([p.clip_lags for p in parts]), sum(p.clips for p in parts))


@dataclass(frozen=True)
class ClipScores:
    """One score per clip that has one `[c]` (AV-Align's IoU)."""

    scores: np.ndarray

    @staticmethod
    def merge(parts: Sequence[ClipScores]) -> ClipScores:
        return ClipScores(np.concatenate([p.scores for p in parts]) if parts else np.zeros(0))
