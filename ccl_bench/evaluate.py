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
           "evaluate_suite", "load_clipset", "load_results", "make_analysis", "match_clips", "save_results"]


def evaluate(pred: str | Path | ClipSet, ref: str | Path | None = None, metrics: Sequence[str] | None = None,
             protocol: str = DEFAULT_PROTOCOL, device: str | None = None, weights_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, bootstrap: int = 200, seed: int = 0, show_progress: bool = True,
             details: bool = False, prompts: str | Path | None = None, save_ref_features: str | Path | None = None):
    """Evaluate the clips in `pred` (a folder, or a `ClipSet` already matched to its prompts; against `ref` for the
    distribution metrics). metrics: names from `ccl_bench.metrics.METRICS` (default: all); protocol: the FVD/KVD
    preset. `ref`: a folder of clips, or a
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
    pred_set = pred if isinstance(pred, ClipSet) else load_clipset(pred)
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


# -- benchmark suites read from the user's local copy ------------------------------------------------------------

def match_clips(items: Sequence, folder: str | Path, suite: str) -> ClipSet:
    """The clips of `folder` named by the benchmark's ids (or the aliases its scripts accept), each given its
    prompt's texts, in the benchmark's order. A prompt without a clip is listed as missing; a clip no prompt
    names is a warning."""
    found = load_clipset(folder)
    by_stem = {c.video.stem: c for c in found.items}
    kept, missing, used = [], [], set()
    for it in items:
        stem = next((s for s in (it.id, *it.aliases) if s in by_stem), None)
        if stem is None:
            missing.append({"path": str(Path(folder) / f"{it.id}.mp4"), "fault": f"no clip for prompt {it.id} of {suite}"})
            continue
        c = by_stem[stem]
        used.add(stem)
        kept.append(ClipItem(it.id, c.video, c.audio, text=dict(it.text)))
    extra = [{"path": str(c.video), "warning": f"no prompt of {suite} is named {c.video.stem}: not evaluated"}
             for c in found.items if c.video.stem not in used]
    return ClipSet(found.folder, kept, None, missing + found.missing, extra + found.warnings)


def evaluate_suite(suite: str, pred: str | Path, bench_root: str | Path | None = None, metrics: Sequence[str] | None = None,
                   device: str | None = None, weights_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                   bootstrap: int = 200, seed: int = 0, show_progress: bool = True) -> dict:
    """Evaluate generated clips on a benchmark read from the user's local copy (`suites.local_copy`): prompts,
    captions, transcripts and categories from the copy, clips from `pred` named by the benchmark's ids. metrics:
    default the benchmark's list (a metric ccl-bench has not built is `unavailable` with that reason). Each
    metric gets the benchmark's headline (pooled, or the mean of category means) and a breakdown per category of
    every aspect. -> the result dict of `evaluate` plus `suite`, with `benchmark` and `per_category` per metric."""
    from .aggregation import category_entries, mean_of_category_means
    from .features.i3d import PRESETS
    from .suites import load_benchmark, read_local_copy

    spec = load_benchmark(suite)
    root, items = read_local_copy(spec, bench_root)
    names = list(metrics) if metrics is not None else [m.name for m in spec.metrics]
    if not names:
        raise CCLBenchError(f"--metrics: empty list; name at least one (the suite's: {', '.join(m.name for m in spec.metrics)})")
    for n in names:  # a name of the suite's list is kept even before ccl-bench builds it; any other must exist
        if n not in METRICS and spec.metric(n) is None:
            raise UnknownNameError("metric", n, list(METRICS))
    bootstrap = validate.positive_int("--bootstrap", bootstrap, allow_zero=True)
    clipset = match_clips(items, pred, spec.name)
    by_id = {it.id: it for it in items}
    out: dict[str, Any] = {}
    groups: dict[tuple, list[str]] = {}  # (the publisher's text rule, the reference kind) -> the metrics evaluated so
    for n in names:
        sm = spec.metric(n)
        if n not in METRICS:
            out[n] = unavailable(f"not built in ccl-bench yet ({spec.name}'s {sm.benchmark}" + (f": {sm.note}" if sm.note else "")
                                 + ")" + ("" if sm.planned else "; Step 12 builds it"))
        elif sm and sm.reference == "features" and not (root / str(spec.files.get("reference_features"))).is_file():
            out[n] = unavailable(f"{spec.name}: the local copy lacks {spec.files.get('reference_features')}, the reference "
                                 f"features {sm.benchmark} is computed against")
        elif sm and sm.reference == "audio":
            out[n] = unavailable(f"{spec.name} compares {sm.benchmark} with its real sounds; an audio-only reference set is "
                                 "not read in this version")
        else:
            groups.setdefault((sm.when if sm else None, sm.reference if sm else None, sm.caption if sm else "caption"),
                              []).append(n)
    result: dict[str, Any] = {}
    row = {it.id: k for k, it in enumerate(items)}  # a shipped feature file holds one row per prompt, in this order
    for (rule, reference, caption), group in groups.items():
        ref = root / str(spec.files["reference_features"]) if reference == "features" else None
        kept = [c for c in clipset.items if by_id[c.id].has(rule)]
        if caption != "caption":  # the text this metric reads as its caption, as the publisher's script gives it
            kept = [ClipItem(c.id, c.video, c.audio, text={k: v for k, v in {**c.text, "caption": c.text.get(caption)}.items()
                                                           if v}) for c in kept]
        subset = ClipSet(clipset.folder, kept, None, clipset.missing, clipset.warnings)
        if not subset.items:
            out.update({n: unavailable(f"no prompt of {spec.name} with a {rule} has a clip") for n in group})
            continue
        res, pred_res, ref_res = evaluate(subset, ref, metrics=group, protocol=spec.fvd_protocol, device=device,
                                          weights_dir=weights_dir, cache_dir=cache_dir, bootstrap=bootstrap, seed=seed,
                                          show_progress=show_progress, details=True)
        if not result or (rule is None and reference is None and caption == "caption"):  # the run over every prompt
            result = res
        if not pred_res.items:  # another torchrun process: rank 0 holds the per-clip results and aggregates
            out.update({n: e for n, e in res["metrics"].items() if n in group})
            continue
        ctx = context_for(pred_res.items, PRESETS[spec.fvd_protocol].covariance_ddof)
        for n, entry in res["metrics"].items():
            if n not in group:
                continue  # a `-cc` twin: evaluated, not on the benchmark's list
            m = METRICS[n]
            paired = None  # the shipped reference row of each evaluated clip's prompt
            if m.needs_ref and ref_res is not None and "value" in entry:
                entry, paired = _paired_reference(m, entry, pred_res, ref_res, row, len(items), ctx, bootstrap, seed)
            if "value" in entry:
                p = pred_res.results[m.analysis]
                cats = {a.name: [by_id[c.id].categories[a.name] for c in pred_res.items] for a in spec.aspects}
                breakdown = {a: category_entries(m, p, ctx, labels, bootstrap, seed, paired) for a, labels in cats.items()}
                entry["per_category"] = {a: b for a, b in breakdown.items() if b}
                if spec.headline == "mean-of-category-means":
                    pooled = {k: entry.pop(k) for k in ("value", "ci95", "interval", "n") if k in entry}
                    head = mean_of_category_means(m, p, ctx, cats[spec.headline_over], bootstrap, seed, ref=paired)
                    entry = {**entry, **head, "pooled": pooled}
            if spec.metric(n) and spec.metric(n).when:
                entry["prompts"] = f"only prompts with a {spec.metric(n).when} ({len(subset.items)} clips)"
            if caption != "caption":
                entry["caption_from"] = caption
            out[n] = entry
    for n, entry in out.items():
        sm = spec.metric(n)
        if sm:
            entry["benchmark"] = sm.benchmark
    if not result:  # nothing computable: the clips are still accounted for
        pred_info = {"folder": portable(clipset.folder), "clips": len(clipset.items) + len(clipset.missing), "used": 0,
                     "excluded": [], "warnings": _portable(clipset.warnings), "conversions": {}}
        prov = provenance(seed, {"device": device or "cpu", "processes": 1, "fvd_protocol": spec.fvd_protocol,
                                 "covariance_ddof": None, "weights_sha256": {}, "decoder": decoder_id(),
                                 "bootstrap": {"samples": bootstrap, "seed": seed, "level": 0.95}, "short_clip_policy": {}})
        result = {"schema_version": SCHEMA_VERSION, "clips": {"pred": pred_info}, "provenance": prov}
    result["clips"]["pred"]["missing"] = _portable(clipset.missing)
    result["clips"]["pred"]["clips"] = len(items)
    result["metrics"] = {n: out[n] for n in names}
    result["suite"] = {"name": spec.name, "kind": "benchmark", "version": spec.version, "local_copy": portable(root),
                       "prompts": len(items), "headline": spec.headline, "headline_over": spec.headline_over,
                       "aspects": [a.name for a in spec.aspects], "protocol": spec.protocol}
    return result


def _paired_reference(m, entry: dict, pred_res: SetResults, ref_res: SetResults, row: dict, prompts: int, ctx, bootstrap: int,
                      seed: int) -> tuple[dict, list | None]:
    """A distribution metric against a benchmark's shipped features: the rows of the prompts whose clips were
    evaluated (every row when every prompt has a clip, as the publisher's script requires). -> (the entry over
    those pairs, the reference result per evaluated clip), or unavailable when the file's rows are not the prompts'."""
    from .metrics.score import metric_entry

    ref_p = ref_res.results[m.analysis]
    if len(ref_p) != prompts:
        return unavailable(f"the reference features hold {len(ref_p)} rows, the benchmark {prompts} prompts: not one row "
                           "per prompt"), None
    paired = [ref_p[row[c.id]] for c in pred_res.items]
    again = metric_entry(m, pred_res.results[m.analysis], paired, ctx, bootstrap, seed)
    keep = {k: entry[k] for k in ("protocol",) if k in entry}
    return {**again, **keep, "reference_rows": "the shipped features of the evaluated prompts' rows"}, paired
