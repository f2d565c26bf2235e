"""Metrics on the suite-native encoders (protocol `ccl-avsync-features-v1`, `ccl_bench.features.avsync_encoders`):

- `avsync-fvd`, `avsync-fad`: Frechet distance between the predicted and reference clips' 128-d
  embeddings (one per clip), covariance / (N - 1) whatever the FVD preset (the protocol's own divisor);
- `prompt-accuracy-video`, `-audio`: the share of clips whose predicted labels all match the caption's:
  family and colour for video, family and pitch for audio, each where the caption states it. The
  family is the manifest's `label`; colour and pitch are parsed from the caption with the suite's
  vocabulary (`ccl_bench.features.avsync_labels.clip_labels`). Chance is about 0.2 x 1/8 for video
  (family x colour) and about 0.2 for audio (only flash-beep captions name a pitch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..features.avsync_labels import PROMPT_LABELS
from . import stats

DDOF = 1  # ccl-avsync-features-v1 fixes the divisor: N - 1


def _stack(res) -> np.ndarray:
    return np.concatenate([r["features"].reshape(-1, r["features"].shape[-1]) for r in res]) if res else np.zeros((0, 1))


def frechet(pred, ref, ctx) -> float | None:
    p, r = _stack(pred), _stack(ref)
    if len(p) <= DDOF or len(r) <= DDOF:
        return None
    return stats.frechet_distance(stats.gaussian(p, DDOF), stats.gaussian(r, DDOF))


def prompt_hits(pred, labels: Sequence[dict | None] | None, modality: str) -> np.ndarray:
    """Per predicted clip with caption labels: 1.0 if every label the caption states matches the
    prediction, else 0.0. Clips without a family label are left out."""
    if labels is None:
        return np.zeros(0)
    idx = getattr(pred, "indices", range(len(pred)))
    hits = []
    for i, r in zip(idx, pred, strict=True):
        lab = labels[i]
        if lab is None or lab.get("family") is None:
            continue
        hits.append(float(all(int(r[f"pred_{h}"][0]) == lab[h] for h in PROMPT_LABELS[modality] if lab.get(h) is not None)))
    return np.array(hits)


def prompt_accuracy(modality: str):
    def value(pred, ref, ctx) -> float | None:
        hits = prompt_hits(pred, ctx.prompt_labels, modality)
        return float(hits.mean()) if len(hits) else None

    return value
