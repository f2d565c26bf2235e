"""The metric registry: each `Metric` is a keyword record of what it reads, its direction, minimum
sample, protocol text and the reason it gives when it has no value, and two pure functions: a clip's
analysis -> a typed per-clip state (`metrics.state`), and the merged state -> the value. Scoring only:
the signals come from `ccl_bench.features`; `metrics.score` adds intervals, chance levels and the
per-family breakdown.

A metric's state reads the sound of one clip and the picture of another (the same clip, except for
the mismatched pairs that measure a sync metric's chance level)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..features.flow import FLOW_FLOOR, av_align_halves, video_peaks
from ..features.onsets import sync_halves
from . import avsync_features as AF
from . import stats
from .av_align import iou, iou_legacy
from .state import ClipScores, CrossCorrelation, EventPairing, FeatureRows
from .sync import distances, peak_lag, xcorr_curve

Results = Sequence[dict[str, np.ndarray]]  # one dict of arrays per clip, from an analysis


@dataclass(frozen=True)
class Context:
    """What a metric needs beyond the results: the FVD preset's covariance divisor, and the predicted
    clips' known events where a task keeps one stream (V2A: the conditioning video's; A2V: its audio's)."""

    covariance_ddof: int = 1  # the FVD/KVD preset's; FAD keeps its own
    gt_visual: Sequence[np.ndarray | None] | None = None  # per predicted clip, or None
    gt_audio: Sequence[np.ndarray | None] | None = None
    max_offset_s: float = 1.0
    kvd_subsets: int = 100
    prompt_labels: Sequence[dict | None] | None = None  # per predicted clip: its prompt's labels (avsync_labels)

    def subset(self, indices: Sequence[int]) -> Context:
        """The context of the clips at `indices` (in that order)."""
        pick = (lambda xs: None if xs is None else [xs[i] for i in indices])
        return replace(self, gt_visual=pick(self.gt_visual), gt_audio=pick(self.gt_audio),
                       prompt_labels=pick(self.prompt_labels))

    def known(self, audio_of: int | None, video_of: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(known onsets of clip `audio_of`'s sound, known events of clip `video_of`'s picture)."""
        a = self.gt_audio[audio_of] if self.gt_audio is not None and audio_of is not None else None
        v = self.gt_visual[video_of] if self.gt_visual is not None and video_of is not None else None
        return a, v


# sync-offset's confidence (peak - median of the clips' mean curve) below which a set shows no synchrony.
# Calibrated on the av-sync suite by `benchmarks/calibration.py` (results/calibration/): sets of 8 to 16
# mismatched pairs reach at most 0.12 (99th percentile; native and tiny), sets of 8 to 16 aligned clips at
# least 0.14 (1st percentile). A mismatched set's confidence falls as 1 / sqrt(N) (99th percentile about
# 0.35 / sqrt(N)), so smaller sets need more.
SYNC_CONFIDENCE_MIN = 0.12
SYNC_CONFIDENCE_PER_SQRT_N = 0.35


def sync_confidence_threshold(n: int) -> float:
    """The confidence a set of `n` clips needs before its sync-offset counts as found."""
    return max(SYNC_CONFIDENCE_MIN, SYNC_CONFIDENCE_PER_SQRT_N / np.sqrt(max(n, 1)))


@dataclass(frozen=True, kw_only=True)
class Metric:
    name: str
    description: str
    analysis: str  # which per-clip analysis it reads: i3d | vggish | sync | av-align | avsync-video | avsync-audio
    needs_ref: bool = False
    better: str  # lower | higher | zero (an offset: best at 0)
    unit: str = ""
    min_clips: int = 1  # fewer predicted (and reference) clips than this: unavailable
    state: Callable[..., Any]  # (sound's analysis, picture's analysis, known onsets, known events, ctx) -> state
    merge: Callable[[Sequence[Any]], Any]  # states -> one state
    score: Callable[..., float | None]  # (merged pred state, merged ref state or None, ctx) -> value
    statistics: str | Callable[[Context], str]  # the protocol's statistics, in words
    unavailable: str | Callable[[Sequence[Any]], str]  # why `score` gave no value (or: per-clip states -> why)
    interval: str = "bootstrap"  # bootstrap (clips with replacement) | half-sampling (distribution metrics)
    ddof: int | None = None  # covariance divisor N - ddof; None: the FVD preset's
    chance_statistic: Callable[[Any], float | None] | None = None  # what `<name>-cc` corrects (None: no -cc)
    ideal: float | None = None  # that statistic's value for perfectly synchronous clips
    corrects: str | None = None  # a `-cc` record: the metric it corrects
    reads_text: tuple[str, ...] = ()  # the clip's prompt fields it reads ("caption", "transcript"); `eval` checks for them
    protocol_name: str | None = None  # overrides the analysis's protocol name
    extra: dict = field(default_factory=dict)

    def protocol(self, analysis_name: str, analysis_protocol: dict, ctx: Context) -> dict:
        base = {"metric": self.name, "analysis": analysis_name, **analysis_protocol}
        if self.protocol_name:
            base["name"] = self.protocol_name
        base["statistics"] = self.statistics(ctx) if callable(self.statistics) else self.statistics
        return {**base, **self.extra}

    def why_unavailable(self, states: Sequence[Any]) -> str:
        return self.unavailable(states) if callable(self.unavailable) else self.unavailable

    def covariance_ddof(self, ctx: Context) -> int:
        return ctx.covariance_ddof if self.ddof is None else self.ddof

    def clip_states(self, res: Results, ctx: Context) -> list:
        """One state per clip (clip i's known events are `ctx`'s entry i)."""
        return [self.state(r, r, *ctx.known(i, i), ctx) for i, r in enumerate(res)]

    def value(self, pred: Results, ref: Results | None, ctx: Context, indices: Sequence[int] | None = None):
        """The metric of a set of per-clip results (and the reference set's); `indices`: which of the
        clips `ctx` describes each result is (a resample's draw)."""
        from .score import point_value

        return point_value(self, pred, ref, ctx if indices is None else ctx.subset(indices))


# ---- per-clip states -------------------------------------------------------------------------------

def _rows(a: dict, v: dict, ka, kv, ctx: Context) -> FeatureRows:
    return FeatureRows(a["features"])


def _pairing(a: dict, v: dict, ka, kv, ctx: Context) -> EventPairing:
    sa, _ = sync_halves(a)
    _, sv = sync_halves(v)
    onsets = sa.onsets if ka is None else ka
    events = sv.events if kv is None else kv
    d = distances(onsets, events, ctx.max_offset_s)
    return EventPairing(d, int((d <= 1.0 / sv.fps + 1e-9).sum()))


def _xcorr(a: dict, v: dict, ka, kv, ctx: Context) -> CrossCorrelation:
    sa, _ = sync_halves(a)
    _, sv = sync_halves(v)
    lags, c = xcorr_curve(sa.onset_strength, sv.strength, sv.fps, ctx.max_offset_s)
    if not np.any(c):  # a flat curve (no onset strength or no visual strength): no lag of its own
        return CrossCorrelation(lags, c, np.array([np.nan]), 0)
    return CrossCorrelation(lags, c, np.array([peak_lag(lags, c)]), 1)


def _iou_state(one_to_one: bool) -> Callable:
    def state(a: dict, v: dict, ka, kv, ctx: Context) -> ClipScores:
        aa, _ = av_align_halves(a)
        _, av = av_align_halves(v)
        peaks = video_peaks(av.flow, av.fps, FLOW_FLOOR if one_to_one else -np.inf)
        s = (iou if one_to_one else iou_legacy)(aa.peaks, peaks, av.fps)
        return ClipScores(np.array([] if s is None else [s], float))
    return state


# ---- values of merged states ----------------------------------------------------------------------

def _fd(p: FeatureRows, r: FeatureRows, ctx: Context, ddof: int) -> float | None:
    if len(p.rows) <= ddof or len(r.rows) <= ddof:
        return None
    return stats.frechet_distance(stats.gaussian(p.rows, ddof), stats.gaussian(r.rows, ddof))


def _kvd(p: FeatureRows, r: FeatureRows, ctx: Context) -> float | None:
    if min(len(p.rows), len(r.rows)) < 2:
        return None
    return stats.kernel_distance(p.rows, r.rows, subsets=ctx.kvd_subsets, rng=np.random.default_rng(0))[0]


def _fd_inf(p: FeatureRows, r: FeatureRows, ctx: Context) -> float | None:
    if len(p.rows) < 500 or len(r.rows) <= 1:
        return None
    return stats.frechet_distance_inf(p.rows, stats.gaussian(r.rows, 1), ddof=1, rng=np.random.default_rng(0))


def _event_sync(s: EventPairing) -> float | None:
    return float(np.median(s.distances) * 1e3) if len(s.distances) else None


def _event_hit(s: EventPairing) -> float | None:
    return s.hits / len(s.distances) if len(s.distances) else None


def _offset(s: CrossCorrelation) -> float | None:
    return peak_lag(s.lags, s.curve) * 1e3 if s.clips else None


def _abs_clip_lag(s: CrossCorrelation) -> float | None:
    """Median |peak lag| of the clips' own curves (ms), a clip with a flat curve counting as the largest
    lag (found nowhere): what `sync-offset-cc` corrects. The median, because a clip without discrete
    events (a gliding tone) has a curve whose peak is anywhere."""
    if not len(s.clip_lags):
        return None
    return float(np.median(np.where(np.isnan(s.clip_lags), s.lags[-1], np.abs(s.clip_lags))) * 1e3)


def _mean_score(s: ClipScores) -> float | None:
    return float(np.mean(s.scores)) if len(s.scores) else None


def _divisor(ddof: int) -> str:
    return "N - 1" if ddof == 1 else "N"


_SYNC_NONE = "no clip has an audio onset or a visual event"
_CC = ("chance level: the same statistic on mismatched pairs of this set (clip i's sound with clip j's picture, "
       "j != i: every ordered pair up to 1024, else 1024 drawn by seed); corrected = (x - chance) / (ideal - chance): "
       "about 0 for clips no more in sync than strangers, 1 for perfect sync")

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric(name="fvd", description="Frechet video distance of I3D logits", analysis="i3d", needs_ref=True, better="lower",
           min_clips=2, state=_rows, merge=FeatureRows.merge, interval="half-sampling",
           score=lambda p, r, ctx: _fd(p, r, ctx, ctx.covariance_ddof),
           statistics=lambda ctx: f"Frechet, covariance / ({_divisor(ctx.covariance_ddof)})",
           unavailable="too few feature rows for a covariance"),
    Metric(name="kvd", description="kernel video distance (unbiased MMD^2, cubic polynomial kernel) of I3D logits",
           analysis="i3d", needs_ref=True, better="lower", min_clips=2, state=_rows, merge=FeatureRows.merge,
           interval="half-sampling", score=_kvd,
           statistics="unbiased MMD^2, kernel (x.y / d + 1)^3, 100 subsets of <= 1000",
           unavailable="too few feature rows for a kernel distance"),
    Metric(name="fad", description="Frechet audio distance of VGGish embeddings (one per 0.96 s)", analysis="vggish",
           needs_ref=True, better="lower", state=_rows, merge=FeatureRows.merge, interval="half-sampling", ddof=1,
           score=lambda p, r, ctx: _fd(p, r, ctx, 1),
           statistics="Frechet over all 0.96 s examples, covariance / (N - 1) (VGGish / fadtk, whatever the FVD preset)",
           unavailable="too few feature rows for a covariance"),
    Metric(name="fad-inf", description="FAD extrapolated to infinitely many embeddings (fadtk FD-inf; needs >= 500)",
           analysis="vggish", needs_ref=True, better="lower", state=_rows, merge=FeatureRows.merge, ddof=1,
           interval="half-sampling", score=_fd_inf,
           statistics="Frechet over all 0.96 s examples, covariance / (N - 1); FD-inf: 25 sizes from 500, with "
                      "replacement, intercept of FD vs 1/n",
           unavailable=lambda states: f"FD-inf needs at least 500 embeddings, got {sum(len(x.rows) for x in states)}"),
    Metric(name="av-align", description="AV-Align (current TempoTokens script): IoU of audio onsets and optical-flow peaks "
           "within one frame, each video peak matched at most once, flow maxima below 0.1 px ignored", analysis="av-align",
           better="higher", state=_iou_state(True), merge=ClipScores.merge, score=lambda s, r, ctx: _mean_score(s),
           statistics="mean over clips of hits / (|A| + |V| - hits); one-to-one greedy matching in time order; "
                      "flow maxima >= 0.1 px, strict by more than 1e-6 px",
           unavailable="no clip has an audio onset or an optical-flow peak", chance_statistic=_mean_score, ideal=1.0,
           protocol_name="av-align-tempotokens"),
    Metric(name="av-align-legacy", description="AV-Align as the 2023 TempoTokens script (one video peak may match several "
           "audio onsets, so it can exceed 1; no flow floor)", analysis="av-align", better="higher",
           state=_iou_state(False), merge=ClipScores.merge, score=lambda s, r, ctx: _mean_score(s),
           statistics="mean over clips of hits / (|A| + |V| - hits); a hit per audio onset with any video peak in reach; "
                      "every strict flow maximum (by more than 1e-6 px)",
           unavailable="no clip has an audio onset or an optical-flow peak", protocol_name="av-align-tempotokens-2023"),
    Metric(name="event-sync", description="median distance between audio onsets and visual events (each to its nearest, "
           "capped at 1 s)", analysis="sync", better="lower", unit="ms", state=_pairing, merge=EventPairing.merge,
           score=lambda s, r, ctx: _event_sync(s), statistics="median of nearest-counterpart distances, capped at 1 s",
           unavailable=_SYNC_NONE, chance_statistic=_event_sync, ideal=0.0),
    Metric(name="event-hit", description="share of audio onsets and visual events with a counterpart within one frame",
           analysis="sync", better="higher", state=_pairing, merge=EventPairing.merge,
           score=lambda s, r, ctx: _event_hit(s), statistics="share of nearest-counterpart distances within one frame",
           unavailable=_SYNC_NONE, chance_statistic=_event_hit, ideal=1.0),
    Metric(name="sync-offset", description="lag of the peak cross-correlation of audio onset strength and visual event "
           "strength (positive: sound late); unavailable when its confidence shows no synchrony", analysis="sync",
           better="zero", unit="ms", state=_xcorr, merge=CrossCorrelation.merge,
           score=lambda s, r, ctx: _offset(s),
           statistics=f"peak lag of the summed per-clip normalised cross-correlations; confidence = peak - median of the "
                      f"mean curve (SyncNet's Sync-C); below max({SYNC_CONFIDENCE_MIN}, {SYNC_CONFIDENCE_PER_SQRT_N} / "
                      f"sqrt(N)): no synchrony found",
           unavailable="no clip has both an audio onset strength and a visual event strength",
           chance_statistic=_abs_clip_lag, ideal=0.0),
)}


@dataclass(frozen=True, kw_only=True)
class PromptMetric(Metric):
    """A metric whose clip state also reads the clip's prompt labels (`Context.prompt_labels`):
    `state(analysis, labels)`."""

    def clip_states(self, res: Results, ctx: Context) -> list:
        labels = ctx.prompt_labels if ctx.prompt_labels is not None else [None] * len(res)
        return [self.state(r, labels[i]) for i, r in enumerate(res)]


_AVSYNC = "ccl-avsync-features-v1: the suite-native {} encoder's {}"
_PROMPT = ("share of clips with prompt labels whose predictions all match them: the family (manifest `label`) and the "
           "caption's {} word where it states one")
METRICS.update({m.name: m for m in (
    Metric(name="avsync-fvd", description=_AVSYNC.format("video", "embeddings: Frechet distance"), analysis="avsync-video",
           needs_ref=True, better="lower", min_clips=2, state=_rows, merge=FeatureRows.merge, interval="half-sampling",
           ddof=AF.DDOF, score=lambda p, r, ctx: AF.frechet(p, r),
           statistics="Frechet over one embedding per clip, covariance / (N - 1) (the protocol's, whatever the FVD preset)",
           unavailable="too few feature rows for a covariance"),
    Metric(name="avsync-fad", description=_AVSYNC.format("audio", "embeddings: Frechet distance"), analysis="avsync-audio",
           needs_ref=True, better="lower", min_clips=2, state=_rows, merge=FeatureRows.merge, interval="half-sampling",
           ddof=AF.DDOF, score=lambda p, r, ctx: AF.frechet(p, r),
           statistics="Frechet over one embedding per clip, covariance / (N - 1) (the protocol's, whatever the FVD preset)",
           unavailable="too few feature rows for a covariance"),
    PromptMetric(name="prompt-accuracy-video", description=_AVSYNC.format("video", "heads: share of clips showing the "
                 "prompt's family and colour"), analysis="avsync-video", better="higher",
                 state=lambda r, lab: AF.prompt_hit(r, lab, "video"), merge=ClipScores.merge,
                 score=lambda s, r, ctx: AF.accuracy(s), statistics=_PROMPT.format("colour"),
                 unavailable="no clip has prompt labels (needs each clip's category and caption: --prompts FILE or a manifest)"),
    PromptMetric(name="prompt-accuracy-audio", description=_AVSYNC.format("audio", "heads: share of clips sounding the "
                 "prompt's family and pitch"), analysis="avsync-audio", better="higher",
                 state=lambda r, lab: AF.prompt_hit(r, lab, "audio"), merge=ClipScores.merge,
                 score=lambda s, r, ctx: AF.accuracy(s), statistics=_PROMPT.format("pitch"),
                 unavailable="no clip has prompt labels (needs each clip's category and caption: --prompts FILE or a manifest)"),
)})

# Metrics II: the learned backbones' metrics (PANNs, CLIP, Synchformer), with their presets.
from .learned import learned_metrics  # noqa: E402 - needs `Metric` above

METRICS.update({m.name: m for m in learned_metrics(Metric)})


def _corrected(base: Metric) -> Metric:
    what = "median |peak lag| of each clip's own curve (a flat curve: 1 s)" if base.name == "sync-offset" else f"{base.name}"
    return Metric(name=f"{base.name}-cc", description=f"{base.name} corrected for chance: 0 = no better than mismatched "
                  f"pairs, 1 = perfect sync", analysis=base.analysis, better="higher", state=base.state, merge=base.merge,
                  score=base.score, statistics=f"{what}; {_CC}", unavailable=base.unavailable,
                  chance_statistic=base.chance_statistic, ideal=base.ideal, corrects=base.name,
                  protocol_name=base.protocol_name)


METRICS.update({f"{m.name}-cc": _corrected(m) for m in list(METRICS.values()) if m.chance_statistic is not None})


# The streams each analysis reads ("video", "audio"): `ccl-bench run` scores a task with the metrics that read
# what the task made, and only where every stream they read is in its clips. A new backbone joins here.
ANALYSIS_STREAMS: dict[str, frozenset[str]] = {a: frozenset(s) for a, s in {
    "i3d": {"video"}, "avsync-video": {"video"}, "clip-javisbench": {"video"}, "clip-javisbench-cv2": {"video"},
    "vggish": {"audio"}, "avsync-audio": {"audio"}, "panns": {"audio"}, "passt": {"audio"},
    "clap-fadtk-audio": {"audio"}, "clap-fadtk-music": {"audio"}, "clap-av-benchmark": {"audio"},
    "whisper-large-v3": {"audio"}, "whisper-tiny.en": {"audio"},
    "sync": {"video", "audio"}, "av-align": {"video", "audio"}, "syncnet": {"video", "audio"},
    "synchformer-av-benchmark": {"video", "audio"}, "synchformer-javisbench": {"video", "audio"},
    "synchformer-versebench": {"video", "audio"}, "imagebind-av-benchmark": {"video", "audio"},
    "imagebind-javisscore": {"video", "audio"}, "imagebind-javisbench": {"video", "audio"},
}.items()}
_METRIC_STREAMS = {"ib-tv": frozenset({"video"}), "ib-ta": frozenset({"audio"})}  # one analysis, one stream each


def streams_read(name: str) -> frozenset[str]:
    """The streams metric `name` reads: {"video"}, {"audio"} or both."""
    return _METRIC_STREAMS.get(name) or ANALYSIS_STREAMS[METRICS[name].analysis]


def list_metrics() -> list[str]:
    return list(METRICS)
