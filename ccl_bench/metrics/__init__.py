"""The metric registry: what each metric reads, its protocol, direction and minimum sample, and its
value as a function of per-clip analysis results (so a bootstrap can resample clips).

Every value is computed by pure functions (`stats`, `sync`, `av_align`); `ccl_bench.evaluate` runs
the analyses over clip folders and fills in confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import avsync_features as AF
from . import stats
from .sync import distances, peak_lag, xcorr_curve

Results = Sequence[dict[str, np.ndarray]]  # one dict of arrays per clip, from an analysis


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    analysis: str  # which per-clip analysis it reads: i3d | vggish | sync | av-align | avsync-video | avsync-audio
    needs_ref: bool
    better: str  # lower | higher | zero (an offset: best at 0)
    unit: str
    min_clips: int  # fewer predicted (and reference) clips than this: unavailable
    value: Callable  # (pred results, ref results or None, context) -> float | None


@dataclass(frozen=True)
class Context:
    """What a metric needs beyond the results: the predicted clips' reference events where a task
    makes one stream's events known (V2A: the conditioning video's; A2V: the conditioning audio's)."""

    covariance_ddof: int = 1
    gt_visual: Sequence[np.ndarray | None] | None = None  # per predicted clip, or None
    gt_audio: Sequence[np.ndarray | None] | None = None
    max_offset_s: float = 1.0
    kvd_subsets: int = 100
    prompt_labels: Sequence[dict | None] | None = None  # per predicted clip: the caption's labels (avsync_labels)


def _stack(res: Results, key: str = "features") -> np.ndarray:
    return np.concatenate([r[key].reshape(-1, r[key].shape[-1]) for r in res]) if res else np.zeros((0, 1))


def _fd(pred: Results, ref: Results, ctx: Context) -> float | None:
    p, r = _stack(pred), _stack(ref)
    if len(p) <= ctx.covariance_ddof or len(r) <= ctx.covariance_ddof:
        return None
    return stats.frechet_distance(stats.gaussian(p, ctx.covariance_ddof), stats.gaussian(r, ctx.covariance_ddof))


def _kvd(pred: Results, ref: Results, ctx: Context) -> float | None:
    p, r = _stack(pred), _stack(ref)
    if min(len(p), len(r)) < 2:
        return None
    return stats.kernel_distance(p, r, subsets=ctx.kvd_subsets, rng=np.random.default_rng(0))[0]


def _fd_inf(pred: Results, ref: Results, ctx: Context) -> float | None:
    p, r = _stack(pred), _stack(ref)
    if len(p) < 500 or len(r) <= ctx.covariance_ddof:
        return None
    return stats.frechet_distance_inf(p, stats.gaussian(r, ctx.covariance_ddof), ddof=ctx.covariance_ddof,
                                      rng=np.random.default_rng(0))


def _av_align(pred: Results, ref, ctx: Context) -> float | None:
    from .av_align import iou

    scores = [iou(r["audio_peaks"], r["video_peaks"], float(r["fps"][0])) for r in pred]
    scores = [s for s in scores if s is not None]
    return float(np.mean(scores)) if scores else None


def _events(pred: Results, ctx: Context, i: int, r) -> tuple[np.ndarray, np.ndarray]:
    """(audio onsets, visual events) of predicted clip i: detected, or the known ones of a kept stream."""
    onsets, events = r["onsets"], r["events"]
    if ctx.gt_audio is not None and ctx.gt_audio[i] is not None:
        onsets = ctx.gt_audio[i]
    if ctx.gt_visual is not None and ctx.gt_visual[i] is not None:
        events = ctx.gt_visual[i]
    return onsets, events


def _event_distances(pred: Results, ctx: Context) -> np.ndarray:
    idx = getattr(pred, "indices", range(len(pred)))
    d = [distances(*_events(pred, ctx, i, r), ctx.max_offset_s) for i, r in zip(idx, pred, strict=True)]
    return np.concatenate(d) if d else np.zeros(0)


def _event_sync(pred: Results, ref, ctx: Context) -> float | None:
    d = _event_distances(pred, ctx)
    return float(np.median(d) * 1e3) if len(d) else None


def _event_hit(pred: Results, ref, ctx: Context) -> float | None:
    idx = getattr(pred, "indices", range(len(pred)))
    hit = tot = 0
    for i, r in zip(idx, pred, strict=True):
        d = distances(*_events(pred, ctx, i, r), ctx.max_offset_s)
        hit += int((d <= 1.0 / float(r["fps"][0]) + 1e-9).sum())
        tot += len(d)
    return hit / tot if tot else None


def _sync_offset(pred: Results, ref, ctx: Context) -> float | None:
    from .sync import VisualStrength

    curves = []
    for r in pred:
        lags, c = xcorr_curve(r["onset_strength"], VisualStrength(r["photometric"], r["kinematic"]), float(r["fps"][0]),
                              ctx.max_offset_s)
        if np.any(c):
            curves.append(c)
    return peak_lag(lags, np.sum(curves, 0)) * 1e3 if curves else None


class Subset(list):
    """A resampled list of results that remembers which clips (indices) it holds."""

    def __init__(self, items, indices):
        super().__init__(items)
        self.indices = list(indices)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fvd", "Frechet video distance of I3D logits", "i3d", True, "lower", "", 2, _fd),
    Metric("kvd", "kernel video distance (unbiased MMD^2, cubic polynomial kernel) of I3D logits", "i3d", True, "lower",
           "", 2, _kvd),
    Metric("fad", "Frechet audio distance of VGGish embeddings (one per 0.96 s)", "vggish", True, "lower", "", 1, _fd),
    Metric("fad-inf", "FAD extrapolated to infinitely many embeddings (fadtk FD-inf; needs >= 500)", "vggish", True,
           "lower", "", 1, _fd_inf),
    Metric("av-align", "AV-Align: IoU of audio onsets and optical-flow peaks within one frame", "av-align", False, "higher",
           "", 1, _av_align),
    Metric("event-sync", "median distance between audio onsets and visual events (each to its nearest, capped at 1 s)",
           "sync", False, "lower", "ms", 1, _event_sync),
    Metric("event-hit", "share of audio onsets and visual events with a counterpart within one frame", "sync", False,
           "higher", "", 1, _event_hit),
    Metric("sync-offset", "lag of the peak cross-correlation of audio onset strength and visual event strength "
           "(positive: sound late)", "sync", False, "zero", "ms", 1, _sync_offset),
    Metric("avsync-fvd", "Frechet distance of the suite-native video encoder's embeddings (ccl-avsync-features-v1)",
           "avsync-video", True, "lower", "", 2, AF.frechet),
    Metric("avsync-fad", "Frechet distance of the suite-native audio encoder's embeddings (ccl-avsync-features-v1)",
           "avsync-audio", True, "lower", "", 2, AF.frechet),
    Metric("prompt-accuracy-video", "share of clips whose predicted family and colour match the caption "
           "(suite-native video encoder)", "avsync-video", False, "higher", "", 1, AF.prompt_accuracy("video")),
    Metric("prompt-accuracy-audio", "share of clips whose predicted family and pitch match the caption "
           "(suite-native audio encoder)", "avsync-audio", False, "higher", "", 1, AF.prompt_accuracy("audio")),
)}


def list_metrics() -> list[str]:
    return list(METRICS)
