"""`ccl_bench.evaluate(pred, ref, metrics, protocol)`: clip folders -> analyses (cached) -> metrics
with bootstrap 95% intervals -> one JSON-able result.

A folder is a suite folder (`manifest.json`, as `ccl-bench suite build` and `ccl-bench sample` write)
or a plain folder of clips (mp4/mkv/webm/mov, audio in the file or a same-stem wav/flac), with prompts from a
sidecar CSV/JSONL (`io.prompts`, attached by file stem). The reference is a folder or a features file
(`features.reference`). Clips that cannot be decoded are listed with their fault and left out; a metric with
too few clips, without the caption or transcript it reads, or whose weights are missing, is reported
`unavailable` with the reason, never as a number. The result's form: `ccl_bench/schema/result-v1.schema.json`.

The pieces live where their concept does: clip sets in `io.clipset`, the analysis loop in
`features.analyse`, the per-clip store in `features.store`, a metric's entry in `scoring`, the
provenance in `provenance`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import validate
from .errors import CCLBenchError, UnknownNameError
from .features import Analysis, FeatureCache
from .features.analyse import analyse, make_analysis
from .features.reference import read_reference_features
from .features.store import SetResults, load_results, save_results
from .io.clipset import ClipItem, ClipSet, attach_prompts, load_clipset
from .io.prompts import read_prompts
from .io.reader import decoder_id
from .metrics import METRICS
from .paths import cache_dir as default_cache_dir
from .paths import portable
from .progress import progress
from .provenance import provenance
from .schema import SCHEMA_VERSION
from .scoring import compute_metric, context_for, unavailable

DEFAULT_PROTOCOL = "videogpt"

__all__ = ["DEFAULT_PROTOCOL", "ClipItem", "ClipSet", "SetResults", "analyse", "compute_metric", "context_for", "evaluate",
           "load_clipset", "load_results", "make_analysis", "save_results"]


def evaluate(pred: str | Path, ref: str | Path | None = None, metrics: Sequence[str] | None = None,
             protocol: str = DEFAULT_PROTOCOL, device: str | None = None, weights_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, bootstrap: int = 200, seed: int = 0, show_progress: bool = True,
             details: bool = False, prompts: str | Path | None = None, save_ref_features: str | Path | None = None):
    """Evaluate the clips in `pred` (against `ref` for the distribution metrics). metrics: names from
    `ccl_bench.metrics.METRICS` (default: all); protocol: the FVD/KVD preset. `ref`: a folder of clips, or a
    reference features file (`features.reference`: ccl-bench's `.npz` or JavisBench's `.pt`). prompts: a CSV or
    JSONL (`io.prompts`) whose records attach to the clips by id = file stem (captions and transcripts for the
    text metrics, categories for the per-category rows). save_ref_features: write the reference folder's feature
    rows there (`.npz`), for `--ref FILE` later. -> the result dict (`ccl_bench/schema/result-v1.schema.json`)
    `{"schema_version", "metrics": {name: {...}}, "clips": {...}, "provenance": {...}}`; with `details`, also the
    per-clip results of the predicted and reference sets (for paired comparisons)."""

    from .features.i3d import PRESETS

    if metrics is not None and not list(metrics):
        raise CCLBenchError(f"--metrics: empty list; name at least one (known: {', '.join(METRICS)})")
    names = list(metrics) if metrics is not None else list(METRICS)
    bootstrap = validate.positive_int("--bootstrap", bootstrap, allow_zero=True)
    for n in names:
        if n not in METRICS:
            raise UnknownNameError("metric", n, list(METRICS))
    # Each sync metric brings its chance-corrected twin.
    names += [f"{n}-cc" for n in names if f"{n}-cc" in METRICS and f"{n}-cc" not in names]
    if protocol not in PRESETS:
        raise UnknownNameError("FVD protocol", protocol, list(PRESETS))
    from .distributed import device_for, world

    device = device_for(world(), device)
    pred_set = load_clipset(pred)
    ref_file = read_reference_features(ref) if ref is not None and Path(ref).is_file() else None
    ref_set = load_clipset(ref) if ref is not None and ref_file is None else None
    if save_ref_features is not None:
        save_ref_features = _features_path(save_ref_features, ref_set)
    prompt_record = None
    if prompts is not None:
        prompt_record = attach_prompts(pred_set, read_prompts(prompts), portable(prompts))
    cache = FeatureCache(validate.cache_folder(cache_dir, default_cache_dir()))  # probed now, not after the analysis

    out: dict[str, Any] = {}
    analyses: dict[str, Analysis] = {}
    for n in names:
        m = METRICS[n]
        if n in out:  # made unavailable with an earlier metric of its analysis
            continue
        if m.needs_ref and ref_set is None and ref_file is None:
            out[n] = unavailable("needs reference clips (--ref DIR) or reference features (--ref FILE)")
            continue
        if m.needs_ref and ref_file is not None and m.analysis not in ref_file.analyses:
            out[n] = unavailable(ref_file.missing_reason(m.analysis))
            continue
        lacking = _lacking_text(m.reads_text, pred_set)
        if lacking:  # a text metric on clips with no caption: said before its weights are looked for
            out[n] = unavailable(lacking)
            continue
        if m.analysis not in analyses:
            a = make_analysis(m.analysis, protocol, weights_dir, device)
            try:
                _ = a.cache_id  # loads and verifies weights where the analysis has any
            except CCLBenchError as exc:
                place = getattr(exc, "missing", None)  # a weights file to place: where, and where it comes from
                extra = {"place": place[0], "source": place[1]} if place else {}
                out.update({k: {**unavailable(str(exc)), **extra} for k in names if METRICS[k].analysis == m.analysis
                            and k not in out and not _lacking_text(METRICS[k].reads_text, pred_set)})
                continue
            analyses[m.analysis] = a
        if m.needs_ref and ref_file is not None and m.analysis in analyses:
            a = analyses[m.analysis]
            ref_file.check(m.analysis, a.name, a.protocol, n)  # refused here, before any clip is analysed
    ref_kinds = {k: a for k, a in analyses.items() if any(METRICS[n].needs_ref and METRICS[n].analysis == k
                                                          for n in names if n not in out)}
    if save_ref_features is not None and not ref_kinds:
        why = "; ".join(f"{n}: {out[n]['reason']}" for n in names if METRICS[n].needs_ref and n in out)
        raise CCLBenchError(f"--save-ref-features {save_ref_features}: no metric asked for reads reference features"
                            + (f" that can be made here ({why})" if why else " (name fvd, fad, avsync-fvd, ... in --metrics)"))
    pred_res = analyse(pred_set, analyses, cache, "pred", show_progress)
    ref_res = None
    if ref_file is not None and ref_kinds:
        ref_res = ref_file.set_results(list(ref_kinds))
    elif ref_set is not None and ref_kinds:
        ref_res = analyse(ref_set, ref_kinds, cache, "ref", show_progress)
    from .distributed import broadcast_from_main

    w = world()
    if broadcast_from_main(w.main and not pred_res.ids, w):
        raise validate.NoClipsEvaluated(pred_set.folder, len(pred_set.items) + len(pred_set.missing), pred_res.excluded)
    if not w.main:  # rank 0 holds the gathered results and computes; the others receive its result
        result = broadcast_from_main(None, w)
        return (result, pred_res, ref_res) if details else result
    ddof = PRESETS[protocol].covariance_ddof
    ctx = context_for(pred_res.items, ddof)
    for n in names:
        if n in out:
            continue
        with progress(show_progress) as bar:
            families = len({i.label for i in pred_res.items if i.label is not None})
            task = bar.add_task(f"intervals {n}", total=bootstrap * (1 + (families if families > 1 else 0)))
            out[n] = compute_metric(n, pred_res, ref_res, ctx, bootstrap, seed, tick=lambda t=task: bar.advance(t))
        a = analyses[METRICS[n].analysis]
        out[n]["protocol"] = METRICS[n].protocol(a.name, a.protocol, ctx)
    clips = {"pred": {"folder": portable(pred_set.folder), "clips": len(pred_set.items) + len(pred_set.missing),
                      "used": len(pred_res.ids), "excluded": _portable(pred_res.excluded),
                      "warnings": _portable(pred_res.warnings),
                      "conversions": {k: dict(v) for k, v in pred_res.conversions.items() if v}}}
    if ref_file is not None:
        n_ref = len(ref_file.ids)
        clips["ref"] = {**ref_file.describe(), "clips": n_ref, "used": n_ref, "excluded": [], "warnings": [],
                        "conversions": {}}
        made = ref_file.header.get("decoder")
        if made and made != decoder_id():
            clips["ref"]["warnings"].append({"path": portable(ref_file.path), "warning": f"features made with decoder "
                                             f"{made}; these clips are read with {decoder_id()}"})
    elif ref_res is not None:
        clips["ref"] = {"folder": portable(ref_set.folder), "clips": len(ref_set.items) + len(ref_set.missing),
                        "used": len(ref_res.ids), "excluded": _portable(ref_res.excluded),
                        "warnings": _portable(ref_res.warnings),
                        "conversions": {k: dict(v) for k, v in ref_res.conversions.items() if v}}
    if pred_set.task:
        clips["pred"]["task"] = pred_set.task
    if prompt_record is not None:
        clips["pred"]["prompts"] = prompt_record
    for n in names:  # a text metric over some clips only: how many it read
        _note_text_coverage(out[n], _text_read(n), pred_res.items)
    if save_ref_features is not None and ref_res is not None:
        from .features.reference import save_reference_features

        served = {k: [n for n in names if METRICS[n].needs_ref and METRICS[n].analysis == k] for k in ref_kinds}
        save_reference_features(save_ref_features, ref_res, ref_kinds, served, portable(ref_set.folder))
        clips["ref"]["saved_features"] = portable(save_ref_features)
    weights = {k: a.protocol.get("weights_sha256") for k, a in analyses.items() if a.protocol.get("weights_sha256")}
    prov = provenance(seed, {"device": device, "processes": w.size, "fvd_protocol": protocol, "covariance_ddof": ddof,
                             "bootstrap": {"samples": bootstrap, "seed": seed, "level": 0.95}, "weights_sha256": weights,
                             "decoder": decoder_id(), "short_clip_policy": short_clip_policy(analyses)})
    result = broadcast_from_main({"schema_version": SCHEMA_VERSION, "suite": _suite_of(pred_set),
                                  "metrics": {n: out[n] for n in names}, "clips": clips, "provenance": prov}, w)
    return (result, pred_res, ref_res) if details else result


def _features_path(path: str | Path, ref_set: ClipSet | None) -> Path:
    """--save-ref-features FILE: an `.npz` in a writable folder, and a reference folder to take the features from."""
    p = Path(path)
    if ref_set is None:
        raise CCLBenchError(f"--save-ref-features {p}: needs --ref DIR (a folder of reference clips)")
    if p.suffix.lower() != ".npz":
        raise CCLBenchError(f"--save-ref-features {p}: name a .npz file")
    validate.writable_folder("--save-ref-features", p.parent if str(p.parent) else Path("."))
    return p


def _lacking_text(reads: tuple[str, ...], cs: ClipSet) -> str | None:
    """Why a metric that reads a clip's text (`Metric.reads_text`: caption, transcript) has nothing to read, or None."""
    if not reads or any(i.text.get(k) for i in cs.items for k in reads):
        return None
    what = " or ".join(reads)
    return (f"no clip has a {what}: give --prompts FILE (.csv or .jsonl with id,caption[,transcript]; id = the clip's "
            f"file stem) or a manifest.json with `{reads[0]}` per clip")


def _text_read(name: str) -> tuple[str, ...]:
    """What of a clip's prompt a metric reads: its `reads_text`, or for a prompt metric (prompt accuracy) the
    category and caption its labels come from."""
    from .metrics import PromptMetric

    if isinstance(METRICS[name], PromptMetric):
        return ("category", "caption")
    return METRICS[name].reads_text


def _note_text_coverage(entry: dict, reads: tuple[str, ...], items: list[ClipItem]) -> None:
    """Beside a text metric's value: how many of its clips had the text it reads (the others have no score)."""
    if not reads or "value" not in entry:
        return
    k = sum(1 for i in items if any(i.label if t == "category" else i.text.get(t) for t in reads))
    entry["n_with_text"] = k
    if k < len(items):
        entry["note"] = f"{k} of {len(items)} clips have a {' or '.join(reads)}; the value is over those"


def _suite_of(cs: ClipSet) -> dict | None:
    """The suite a manifest folder was built from: its name, its version where the manifest records one (else
    null), and the ccl-bench version that wrote the folder."""
    m = cs.manifest or {}
    if not m.get("suite"):
        return None
    return {"name": str(m["suite"]), "version": m.get("suite_version"), "built_with": m.get("ccl_bench_version")}


# What each analysis does with a clip shorter than it reads: never a silent drop. An analysis may declare
# its own (`short_clips` attribute); these are the shipped ones', as their modules implement them.
SHORT_CLIPS = {
    "i3d": "fewer than 16 frames: the last frame repeated (a conversion, counted per clip)",
    "vggish": "under ~0.975 s: no 0.96 s example, so the clip adds no row to FAD (the set's rows are counted)",
    "sync": "any length (onsets and visual events over the whole clip)",
    "av-align": "any length (peaks over the whole clip)",
    "avsync-video": "under 2 s: one window, the last frame repeated (a conversion, counted per clip)",
    "avsync-audio": "under 2 s: one window, zero-padded (a conversion, counted per clip)",
    "panns": "under 0.31 s: no embedding (a conversion, counted per clip)",
    "clip-javisbench": "fewer than 48 frames: some frames repeated (a conversion)",
    "clip-javisbench-cv2": "fewer than 48 frames: some frames repeated (a conversion)",
    "synchformer-av-benchmark": "under 8 s: no DeSync value for the clip (its metric counts only the clips with one)",
    "synchformer-javisbench": "under 8 s: zero-padded to 8 s (black frames, silence), as JavisBench",
    "synchformer-versebench": "under 4.8 s: no DeSync value for the clip (its metric counts only the clips with one)",
    "imagebind-av-benchmark": "under 8 s: no IB-score for the clip, as av-benchmark's loader drops it (a conversion)",
    "imagebind-javisbench": "any length from 1 frame (sub-clips spread over the whole clip)",
    "imagebind-javisscore": "shorter than one 2 s window: one window of everything; under 3 frames: no JavisScore",
    "syncnet": "a face track of 100 detections or fewer (about 4 s at 25 fps) is not scored; a clip with none has no value",
    "whisper-large-v3": "any length (the whole clip in Whisper's 30 s windows)",
    "whisper-tiny.en": "any length (the whole clip in Whisper's 30 s windows)",
    "passt": "any length: the first 8 s zero-padded to 10 s (a clip without samples has no embedding)",
    "clap-fadtk-audio": "any length: a window every 1 s, each zero-padded to 10 s",
    "clap-fadtk-music": "any length: a window every 1 s, each zero-padded to 10 s",
    "clap-av-benchmark": "any length: the clip repeated and zero-padded to 10 s (LAION-CLAP's repeatpad)",
}


def short_clip_policy(analyses: dict[str, Analysis]) -> dict[str, str]:
    """Per analysis used, what it does with a clip shorter than it reads."""
    return {k: getattr(a, "short_clips", None) or SHORT_CLIPS.get(k, "not declared by this analysis")
            for k, a in analyses.items()}


def _portable(excluded: list[dict]) -> list[dict]:
    """Excluded (or warned-about) clips with their paths as results may name them (`paths.portable`)."""
    return [{**e, "path": portable(e["path"])} for e in excluded]
