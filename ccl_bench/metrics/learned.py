"""The metrics of the learned backbones (Metrics II): per-clip states and values over the analyses of
`ccl_bench.features` (`panns`, `passt`, `clip_score`, `synchformer`, `imagebind`, `syncnet`, `whisper_wer`, `clap`).
Each name without `@` is the preset the literature's first toolkit uses; `name@preset` are the others. Pure
functions over arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def _track_mean(key: str):
    """A clip's SyncNet value: the mean over its face tracks; empty for a clip without a kept track."""

    def state(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
        x = np.asarray(a[key], float)
        return ClipScores(np.array([np.mean(x)]) if len(x) else np.zeros(0))

    return state


@dataclass(frozen=True)
class WordErrors:
    """Word edits and reference words of the clips that have a transcript, `[c]` each."""

    errors: np.ndarray
    words: np.ndarray

    @staticmethod
    def merge(parts: Sequence[WordErrors]) -> WordErrors:
        if not parts:
            return WordErrors(np.zeros(0), np.zeros(0))
        return WordErrors(np.concatenate([p.errors for p in parts]), np.concatenate([p.words for p in parts]))


def _word_errors(a: dict, v: dict, ka, kv, ctx) -> WordErrors:
    return WordErrors(np.asarray(a["errors"], float), np.asarray(a["words"], float))


def _corpus_wer(s: WordErrors, r=None, ctx=None) -> float | None:
    return float(s.errors.sum() / s.words.sum()) if s.words.sum() > 0 else None


def _clip_wer(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
    e, w = np.asarray(a["errors"], float), np.asarray(a["words"], float)
    return ClipScores(e / w if len(w) else np.zeros(0))


def cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Raw cosine of two embeddings `[D]` (in [-1, 1]; papers print IB x100)."""
    return float(np.dot(x, y) / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-8))


def _ib(left: str, right: str):
    """A clip's cosine of two ImageBind embeddings (`video`, `audio`, `text`): audio and text from the sound's
    clip, video from the picture's (the same clip, except in mismatched pairs); empty where one is missing."""
    def state(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
        src = {"audio": a, "text": a, "video": v}
        x, y = np.asarray(src[left][left], float), np.asarray(src[right][right], float)
        return ClipScores(np.array([cosine(x[0], y[0])]) if len(x) and len(y) else np.zeros(0))
    return state


def javis_score(cos: np.ndarray, share: float = 0.4) -> float | None:
    """JavisBench's lowest-40% rule on one clip's window-by-frame cosines `[M, N]`: per window the mean of
    its int(share N) lowest, then the mean over windows; None where that is no frame (N < 3)."""
    cos = np.asarray(cos, float)
    k = int(cos.shape[1] * share) if cos.ndim == 2 and len(cos) else 0
    return float(np.sort(cos, axis=1)[:, :k].mean(1).mean()) if k else None


def _javis(a: dict, v: dict, ka, kv, ctx) -> ClipScores:
    s = javis_score(a["cosines"])
    return ClipScores(np.zeros(0) if s is None else np.array([s]))


def mean_score(s: ClipScores, r=None, ctx=None) -> float | None:
    return float(np.mean(s.scores)) if len(s.scores) else None


_IB_AV_NONE = "no clip has both an ImageBind video and audio embedding (each clip's reason is in the conversions)"
_IB_TEXT_NONE = ("no clip has both a caption and an ImageBind embedding: ib-tv / ib-ta read `caption` per clip from the "
                 "folder's manifest.json")
_IB = "raw cosine in [-1, 1] of ImageBind-huge embeddings (papers print it x100)"
_DESYNC_NONE = "no clip is long enough for this DeSync preset (each clip's length is in the conversions)"
_SYNCNET_NONE = ("no clip has a face tracked over more than 100 frames at 25 fps (about 4 s; each clip's reason is in "
                 "the conversions)")
_WER_NONE = "no clip has a transcript: wer reads `transcript` per clip from the manifest or the prompt file"
_SYNCNET = ("SyncNet syncnet_v2 (syncnet_python protocol: S3FD face tracks of over 100 frames, one shot per clip), 25 fps, "
            "5-frame 224 x 224 face crops against 13 x 20 MFCC windows, offsets -15 to 15 frames")


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
               reads_text=("caption",), state=_score, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean frame-caption cosine",
               unavailable="no clip has a caption (--prompts FILE, or a manifest.json with captions)"),
        Metric(name="clip-score@javisbench-cv2", description="preset javisbench-cv2: clip-score with the colour channels "
               "swapped, as JavisBench's default cv2 reader feeds them", analysis="clip-javisbench-cv2", better="higher",
               reads_text=("caption",), state=_score, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean frame-caption cosine (frames fed as BGR)",
               unavailable="no clip has a caption (--prompts FILE, or a manifest.json with captions)"),
        Metric(name="fd-passt", description="preset av-benchmark: Frechet distance of PaSST-S embeddings (768-d, one per "
               "clip: its first 8 s zero-padded to 10 s at 32 kHz)", analysis="passt", needs_ref=True, better="lower",
               min_clips=2, state=_rows, merge=FeatureRows.merge, interval="half-sampling", ddof=1, score=_fd,
               statistics="Frechet over one embedding per clip, covariance / (N - 1) (av-benchmark's compute_fd)",
               unavailable="too few embeddings for a covariance (a clip without samples has none)"),
        Metric(name="fad-clap", description="preset fadtk: Frechet distance of LAION-CLAP HTSAT-tiny audio embeddings "
               "(630k-audioset-best.pt, 512-d) of 10 s windows every 1 s", analysis="clap-fadtk-audio", needs_ref=True,
               better="lower", state=_rows, merge=FeatureRows.merge, interval="half-sampling", ddof=1, score=_fd,
               statistics="Frechet over every window of every clip, covariance / (N - 1) (fadtk clap-laion-audio)",
               unavailable="too few window embeddings for a covariance"),
        Metric(name="fad-clap@fadtk-music", description="preset fadtk-music: fad-clap with the HTSAT-base music checkpoint "
               "(music_audioset_epoch_15_esc_90.14.pt)", analysis="clap-fadtk-music", needs_ref=True, better="lower",
               state=_rows, merge=FeatureRows.merge, interval="half-sampling", ddof=1, score=_fd,
               statistics="Frechet over every window of every clip, covariance / (N - 1) (fadtk clap-laion-music)",
               unavailable="too few window embeddings for a covariance"),
        Metric(name="clap-score", description="preset av-benchmark: cosine of the LAION-CLAP caption and audio embeddings "
               "(HTSAT-base music_speech_audioset_epoch_15_esc_89.98.pt, first 8 s; raw in [-1, 1], not x100)",
               analysis="clap-av-benchmark", better="higher", reads_text=("caption",), state=_score, merge=ClipScores.merge,
               score=mean_score,
               statistics="mean over clips of the caption-audio cosine",
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
        Metric(name="sync-c", description=f"preset syncnet-python: SyncNet confidence (LSE-C), median minus minimum of the "
               f"mean embedding distance over offsets; {_SYNCNET}", analysis="syncnet", better="higher",
               state=_track_mean("confidence"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean over each clip's face tracks", unavailable=_SYNCNET_NONE),
        Metric(name="sync-d", description=f"preset syncnet-python: SyncNet distance (LSE-D), minimum over offsets of the "
               f"mean embedding distance; {_SYNCNET}", analysis="syncnet", better="lower",
               state=_track_mean("distance"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of the mean over each clip's face tracks", unavailable=_SYNCNET_NONE),
        Metric(name="wer", description="preset whisper-large-v3: word error rate (a fraction, not %) of Whisper large-v3's "
               "greedy English transcript against the prompt's transcript, both through Whisper's English normaliser; "
               "corpus-level", analysis="whisper-large-v3", better="lower", reads_text=("transcript",), state=_word_errors,
               merge=WordErrors.merge,
               score=_corpus_wer, statistics="total word edits / total reference words over the clips with a transcript",
               unavailable=_WER_NONE),
        Metric(name="wer@clip-mean", description="preset clip-mean: wer as the mean of per-clip word error rates "
               "(Whisper large-v3; short clips weigh as much as long ones)", analysis="whisper-large-v3", better="lower",
               reads_text=("transcript",), state=_clip_wer, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips with a transcript of edits / reference words", unavailable=_WER_NONE),
        Metric(name="wer@whisper-tiny.en", description="preset whisper-tiny.en: corpus-level wer with Whisper tiny.en "
               "(a quick check; not comparable with wer)", analysis="whisper-tiny.en", better="lower", state=_word_errors,
               reads_text=("transcript",), merge=WordErrors.merge, score=_corpus_wer,
               statistics="total word edits / total reference words over the clips with a transcript",
               unavailable=_WER_NONE),
        Metric(name="ib-av", description=f"preset av-benchmark: IB-score, {_IB}, video (0.5 fps pairs of the first 8 s, "
               "3 crops) vs audio (3 x 2 s); clips under 8 s unavailable", analysis="imagebind-av-benchmark",
               better="higher", state=_ib("audio", "video"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of cos(video, audio) (av-benchmark's IB-Score, not x100)",
               unavailable=_IB_AV_NONE),
        Metric(name="ib-av@javisbench", description=f"preset javisbench: ib_av, {_IB}, video (ImageBind's loader: 5 x 2 s, "
               "3 crops) vs audio (3 x 2 s)", analysis="imagebind-javisbench", better="higher",
               state=_ib("audio", "video"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of cos(video, audio) (JavisBench's ib_av, not x100)", unavailable=_IB_AV_NONE),
        Metric(name="ib-tv", description=f"preset javisbench: ib_tv, {_IB}, caption vs video", analysis="imagebind-javisbench",
               better="higher", reads_text=("caption",), state=_ib("text", "video"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of cos(caption, video) (JavisBench's ib_tv, not x100)", unavailable=_IB_TEXT_NONE),
        Metric(name="ib-ta", description=f"preset javisbench: ib_ta, {_IB}, caption vs audio", analysis="imagebind-javisbench",
               better="higher", reads_text=("caption",), state=_ib("text", "audio"), merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of cos(caption, audio) (JavisBench's ib_ta, not x100)", unavailable=_IB_TEXT_NONE),
        Metric(name="javisscore", description="preset javisbench: JavisScore, ImageBind cosines of each 2 s audio window "
               "(every 0.5 s) with each of its frames, the mean of the lowest 40% per window, the mean over windows",
               analysis="imagebind-javisscore", better="higher", state=_javis, merge=ClipScores.merge, score=mean_score,
               statistics="mean over clips of JavisScore (raw cosines, not x100)",
               unavailable="no clip has a JavisScore (clips under 3 frames leave the lowest 40% empty; audio under 25 ms "
                           "has no fbank frame)"),
    ]
