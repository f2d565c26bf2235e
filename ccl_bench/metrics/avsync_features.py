"""Metrics on the suite-native encoders (protocol `ccl-avsync-features-v1`, `ccl_bench.features.avsync_encoders`):

- `avsync-fvd`, `avsync-fad`: Frechet distance between the predicted and reference clips' 128-d
  embeddings (one per clip), covariance / (N - 1) whatever the FVD preset (the protocol's own divisor);
- `prompt-accuracy-video`, `-audio`: the share of clips whose predicted labels all match the caption's:
  family and colour for video, family and pitch for audio, each where the caption states it. The
  family is the manifest's `label`; colour and pitch are parsed from the caption with the suite's
  vocabulary (`ccl_bench.features.avsync_labels.clip_labels`). Chance is about 0.2 x 1/8 for video
  (family x colour) and about 0.2 for audio (only flash-beep captions name a pitch)."""

from __future__ import annotations

import numpy as np

from ..features.avsync_labels import PROMPT_LABELS
from . import stats
from .state import ClipScores, FeatureRows

DDOF = 1  # ccl-avsync-features-v1 fixes the divisor: N - 1


def prompt_hit(result: dict, labels: dict | None, modality: str) -> ClipScores:
    """One clip's analysis (`pred_<head>` `[1]`) against its prompt's labels (`clip_labels`) -> 1.0 if every
    label the prompt states was predicted, else 0.0; no family label: the clip is not scored."""
    if labels is None or labels.get("family") is None:
        return ClipScores(np.zeros(0))
    ok = all(int(result[f"pred_{h}"][0]) == labels[h] for h in PROMPT_LABELS[modality] if labels.get(h) is not None)
    return ClipScores(np.array([float(ok)]))


def accuracy(s: ClipScores) -> float | None:
    return float(s.scores.mean()) if len(s.scores) else None


def frechet(p: FeatureRows, r: FeatureRows) -> float | None:
    if len(p.rows) <= DDOF or len(r.rows) <= DDOF:
        return None
    return stats.frechet_distance_rows(p.rows, r.rows, DDOF)  # 32 clips of 128-d features: the m x n path
