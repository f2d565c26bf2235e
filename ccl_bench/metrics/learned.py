"""The metrics of the learned backbones (Metrics II): per-clip states and values over the analyses of
`ccl_bench.features` (`panns`, `clip_score`, `synchformer`). Each name without `@` is the preset the
literature's first toolkit uses; `name@preset` are the others. Pure functions over arrays."""

from __future__ import annotations

import numpy as np

from .state import ClipScores, FeatureRows


def _rows(a: dict, v: dict, ka, kv, ctx) -> FeatureRows:
    return FeatureRows(a["features"])


def _fd(p: FeatureRows, r: FeatureRows, ctx) -> float | None:
    from . import stats

    if len(p.rows) <= 1 or len(r.rows) <= 1:
        return None
    return stats.frechet_distance(stats.gaussian(p.rows, 1), stats.gaussian(r.rows, 1))


def _score(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
    """A clip's own score (empty when it has none, e.g. no caption)."""
    return ClipScores(np.asarray(a["score"], float))


def _abs_offset(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
    """A clip's mean |offset| over its DeSync windows (s); empty for a clip too short for the preset."""
    o = np.asarray(a["offsets"], float)
    return ClipScores(np.array([np.mean(np.abs(o))]) if len(o) else np.zeros(0))


def _signed_offset(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
    o = np.asarray(a["offsets"], float)
    return ClipScores(np.array([np.mean(o)]) if len(o) else np.zeros(0))


def mean_score(s: ClipScores, r=None, ctx=None) -> float | None:
    return float(np.mean(s.scores)) if len(s.scores) else None


_DESYNC_NONE = "no clip is long enough for this DeSync preset (each clip's length is in the conversions)"


def learned_metrics(Metric) -> list:  # noqa: N803 - the registry's record class, passed in to avoid an import cycle
    """The `Metric` records of Metrics II, in listing order."""
    return [
        Metric(name="fd-panns", description="preset av-benchmark: Frechet distance of PANNs Cnn14-16k embeddings (2048-d, "
               "one per clip)", analysis="panns", needs_ref=True, better="lower", min_clips=2, state=_rows,
               merge=FeatureRows.merge, interval="half-sampling", ddof=1, score=_fd,
               statistics="Frechet over one embedding per clip, covariance / (N - 1) (av-benchmark's compute_fd)",
               unavailable="too few embeddings for a covariance (clips under 0.31 s have none)"),
        Metric(name="clip-score", description="preset javisbench: mean cosine of the CLIP ViT-B/32 caption embedding and "
               "48 evenly spaced frames (raw in [-1, 1], not x100)", analysis="clip-javisbench", better="higher",
               state=_score, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean frame-caption cosine",
               unavailable="no clip has a caption (--prompts FILE, or a manifest.json with captions)"),
        Metric(name="clip-score@javisbench-cv2", description="preset javisbench-cv2: clip-score with the colour channels "
               "swapped, as JavisBench's default cv2 reader feeds them", analysis="clip-javisbench-cv2", better="higher",
               state=_score, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean frame-caption cosine (frames fed as BGR)",
               unavailable="no clip has a caption (--prompts FILE, or a manifest.json with captions)"),
        Metric(name="desync", description="preset av-benchmark: Synchformer offset, mean |offset| of the first and last "
               "4.8 s of the first 8 s (clips under 8 s unavailable)", analysis="synchformer-av-benchmark",
               better="lower", unit="s", state=_abs_offset, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean |offset| of the two windows (21 classes, -2 to 2 s)",
               unavailable=_DESYNC_NONE),
        Metric(name="desync@javisbench", description="preset javisbench: Synchformer mean |offset| over every 4.8 s chunk "
               "of the first 8 s, zero-padded to 8 s", analysis="synchformer-javisbench", better="lower", unit="s",
               state=_abs_offset, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean |offset| of the chunks (21 classes, -2 to 2 s)",
               unavailable=_DESYNC_NONE),
        Metric(name="desync@versebench", description="preset versebench: Synchformer signed offset of one 4.8 s window "
               "(signs of clips can cancel in the mean)", analysis="synchformer-versebench", better="zero", unit="s",
               state=_signed_offset, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the signed offset of the first 4.8 s (21 classes, -2 to 2 s); opposite "
                          "signs cancel: read it beside desync", unavailable=_DESYNC_NONE),
    ]
