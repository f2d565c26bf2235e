"""`ccl_bench.evaluate(pred, ref, metrics, protocol)`: clip folders -> analyses (cached) -> metrics
with bootstrap 95% intervals -> one JSON-able result.

A folder is a suite folder (`manifest.json`, as `ccl-bench suite build` and `ccl-bench sample` write)
or a plain folder of clips (mp4/mkv/webm/mov, audio in the file or a same-stem wav/flac). Clips that
cannot be decoded are listed with their fault and left out; a metric with too few clips, or whose
weights are missing, is reported `unavailable` with the reason, never as a number."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import CCLBenchError, ClipError, UnknownNameError
from .features import (
    Analysis,
    AVAlignAnalysis,
    AVSyncEncoderFeatures,
    FeatureCache,
    I3DFeatures,
    SyncAnalysis,
    VGGishFeatures,
    content_hash,
)
from .io import VIDEO_SUFFIXES, read_clip
from .io.reader import find_sidecar
from .metrics import METRICS, Context
from .metrics.score import family_entries, metric_entry
from .progress import progress

DEFAULT_PROTOCOL = "videogpt"


@dataclass
class ClipItem:
    id: str
    video: Path
    audio: Path | None = None  # sidecar
    events: list[float] | None = None  # ground-truth event times (s), where the folder gives them
    events_true_of: str | None = None  # "video" | "audio" | "both" | None: which stream the events describe
    label: str | None = None  # scene family (manifest `label`), for the per-family breakdown
    caption: str | None = None  # the prompt (manifest `caption`), for prompt accuracy


@dataclass
class ClipSet:
    folder: Path
    items: list[ClipItem]
    manifest: dict | None = None
    missing: list[dict] = field(default_factory=list)  # listed in the manifest but absent

    @property
    def task(self) -> str | None:
        return (self.manifest or {}).get("task")


def load_clipset(folder: str | Path, require_files: bool = True) -> ClipSet:
    """require_files=False keeps manifest entries whose media are absent (their events are still read)."""
    d = Path(folder)
    if not d.exists():
        raise CCLBenchError(f"{d}: folder not found")
    if not d.is_dir():
        raise CCLBenchError(f"{d}: not a folder (give a folder of clips or a suite folder with manifest.json)")
    mpath = d / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text())
            entries = manifest["clips"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CCLBenchError(f"{mpath}: not a valid manifest ({type(exc).__name__}: {exc})") from None
        task = manifest.get("task")
        items, missing = [], []
        for c in entries:
            video = d / c["video"]
            if require_files and not video.is_file():
                missing.append({"path": str(video), "fault": "listed in manifest.json but not found"})
                continue
            perturbed = (c.get("perturbation") or {}).get("kind")
            # Which stream the listed events are exact for: a suite clip's events hold for both streams
            # unless a perturbation changed one; a generated clip's, for the stream it was conditioned on.
            true_of = {"v2a": "video", "a2v": "audio"}.get(task) if task else (
                "both" if perturbed is None else ("audio" if perturbed == "freeze" else "video"))
            items.append(ClipItem(str(c.get("id", video.stem)), video, d / c["audio"] if c.get("audio") else None,
                                  [float(e["t"]) for e in c.get("events", [])], true_of, c.get("label"),
                                  c.get("caption")))
        return ClipSet(d, items, manifest, missing)
    videos = sorted(p for p in d.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
    if not videos:
        raise CCLBenchError(f"{d}: no clips ({', '.join(VIDEO_SUFFIXES)}) and no manifest.json")
    return ClipSet(d, [ClipItem(v.stem, v, find_sidecar(v)) for v in videos])


def make_analysis(kind: str, protocol: str, weights_dir, device: str) -> Analysis:
    if kind == "i3d":
        return I3DFeatures(protocol, weights_dir, device)
    if kind == "vggish":
        return VGGishFeatures(weights_dir, device)
    if kind == "sync":
        return SyncAnalysis()
    if kind == "av-align":
        return AVAlignAnalysis()
    if kind in ("avsync-video", "avsync-audio"):
        return AVSyncEncoderFeatures(kind.removeprefix("avsync-"), weights_dir, device)
    raise ValueError(kind)


def default_cache_dir() -> Path:
    if os.environ.get("CCL_BENCH_HOME"):
        return Path(os.environ["CCL_BENCH_HOME"]) / "features"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ccl-bench")) / "features"


@dataclass
class SetResults:
    """Per-clip results of each analysis for one clip set (clips that failed are left out)."""

    ids: list[str] = field(default_factory=list)
    items: list[ClipItem] = field(default_factory=list)
    results: dict[str, list[dict]] = field(default_factory=dict)
    excluded: list[dict] = field(default_factory=list)
    conversions: dict[str, Counter] = field(default_factory=dict)


def analyse(cs: ClipSet, analyses: dict[str, Analysis], cache: FeatureCache, label: str, show_progress: bool,
            batch: int = 8) -> SetResults:
    """Run every analysis over every clip: from the cache where it holds the result, else decoding the
    clip once. Results are written to the cache as they are made, so a killed run resumes. Under
    torchrun each process takes every size-th clip, and rank 0 gathers the results in clip order (the
    same lists one process would make); the other ranks get an empty `SetResults`."""
    from .distributed import gather_to_main, world

    w = world()
    for a in analyses.values():
        a.cache = cache
    mine = list(range(len(cs.items)))[w.rank :: w.size]
    done: dict[int, dict] = {}  # clip index -> {kind: result}
    excluded: list[tuple[int, dict]] = []
    conversions = {k: Counter() for k in analyses}
    pending: dict[str, list] = {k: [] for k, a in analyses.items() if a.batchable}  # (index, key, input)

    def flush(kind: str) -> None:
        a, todo = analyses[kind], pending[kind]
        if not todo:
            return
        feats = a.compute_batch([x for _, _, x in todo])
        for (index, key, _), f in zip(todo, feats, strict=True):
            res = {"features": f[None]}
            cache.put(a.cache_id, key, res)
            done[index][kind] = res
        todo.clear()

    with progress(show_progress and w.main) as bar:
        task = bar.add_task(f"analyse {label} ({', '.join(analyses)})", total=len(mine))
        for index in mine:
            item = cs.items[index]
            try:
                key = content_hash(item.video, item.audio)
                cached = {k: cache.get(a.cache_id, key) for k, a in analyses.items()}
                clip = None
                if any(v is None for v in cached.values()):
                    clip = read_clip(item.video, audio_path=item.audio)
                    if clip.num_samples == 0:
                        raise ClipError(item.video, "audio track holds no samples")
            except ClipError as exc:
                excluded.append((index, {"path": exc.path, "fault": exc.fault}))
                bar.advance(task)
                continue
            done[index] = {}
            for kind, a in analyses.items():
                if cached[kind] is not None:
                    done[index][kind] = cached[kind]
                    continue
                if a.batchable:
                    x, conv = a.prepare(clip)
                    pending[kind].append((index, key, x))
                    if len(pending[kind]) >= batch:
                        flush(kind)
                else:
                    res, conv = a.compute(clip)
                    cache.put(a.cache_id, key, res)
                    done[index][kind] = res
                conversions[kind].update(conv)
            bar.advance(task)
        for kind in pending:
            flush(kind)
    parts = gather_to_main((done, excluded, conversions), w)
    out = SetResults(excluded=list(cs.missing), results={k: [] for k in analyses},
                     conversions={k: Counter() for k in analyses})
    if parts is None:
        return out
    every = {i: r for d, _, _ in parts for i, r in d.items()}
    for index in sorted(every):
        out.ids.append(cs.items[index].id)
        out.items.append(cs.items[index])
        for kind in analyses:
            out.results[kind].append(every[index][kind])
    out.excluded += [e for _, e in sorted(e for _, ex, _ in parts for e in ex)]
    for _, _, conv in parts:
        for kind, c in conv.items():
            out.conversions[kind].update(c)
    return out


def _unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


def context_for(items: Sequence[ClipItem], ddof: int) -> Context:
    """Known events of a kept stream, per clip: V2A keeps the conditioning video, A2V its audio."""
    def known(i: ClipItem, stream: str):
        return np.array(i.events) if i.events is not None and i.events_true_of == stream else None

    from .features.avsync_labels import clip_labels

    return Context(covariance_ddof=ddof, gt_visual=[known(i, "video") for i in items],
                   gt_audio=[known(i, "audio") for i in items],
                   prompt_labels=[clip_labels(i.label, i.caption) if i.caption or i.label else None for i in items])


def compute_metric(name: str, pred: SetResults, ref: SetResults | None, ctx: Context, bootstrap: int, seed: int,
                   tick=None) -> dict:
    """One metric's entry (`ccl_bench.metrics.score`), with its breakdown per scene family."""
    m = METRICS[name]
    p = pred.results[m.analysis]
    r = ref.results[m.analysis] if (ref is not None and m.needs_ref) else None
    out = metric_entry(m, p, r, ctx, bootstrap, seed, tick)
    labels = [i.label for i in pred.items]
    if "value" in out and len({x for x in labels if x is not None}) > 1:
        ref_labels = [i.label for i in ref.items] if r is not None else None
        out["per_family"] = family_entries(m, p, r, ctx, labels, ref_labels, bootstrap, seed, tick)
    return out


def provenance(extra: dict | None = None) -> dict:
    import cv2
    import librosa
    import torch

    info = {"ccl_bench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "librosa": librosa.__version__, "opencv": cv2.__version__,
            "machine": platform.machine(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    commit = _git_commit()
    if commit:
        info["commit"] = commit
    return {**info, **(extra or {})}


def _git_commit() -> str | None:
    """`$CCL_BENCH_COMMIT`, else the source tree's git HEAD (None outside a git checkout)."""
    import subprocess

    if os.environ.get("CCL_BENCH_COMMIT"):
        return os.environ["CCL_BENCH_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def evaluate(pred: str | Path, ref: str | Path | None = None, metrics: Sequence[str] | None = None,
             protocol: str = DEFAULT_PROTOCOL, device: str | None = None, weights_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, bootstrap: int = 200, seed: int = 0, show_progress: bool = True,
             details: bool = False):
    """Evaluate the clips in `pred` (against `ref` for the distribution metrics). metrics: names from
    `ccl_bench.metrics.METRICS` (default: all); protocol: the FVD/KVD preset. -> the result dict
    `{"metrics": {name: {...}}, "clips": {...}, "provenance": {...}}`; with `details`, also the
    per-clip results of the predicted and reference sets (for paired comparisons)."""

    from .features.i3d import PRESETS

    names = list(metrics) if metrics else list(METRICS)
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
    ref_set = load_clipset(ref) if ref is not None else None
    cache = FeatureCache(cache_dir if cache_dir is not None else default_cache_dir())

    out: dict[str, Any] = {}
    analyses: dict[str, Analysis] = {}
    for n in names:
        m = METRICS[n]
        if m.needs_ref and ref_set is None:
            out[n] = _unavailable("needs reference clips (--ref DIR)")
            continue
        if m.analysis not in analyses:
            a = make_analysis(m.analysis, protocol, weights_dir, device)
            try:
                _ = a.cache_id  # loads and verifies weights where the analysis has any
            except CCLBenchError as exc:
                out.update({k: _unavailable(str(exc)) for k in names if METRICS[k].analysis == m.analysis})
                continue
            analyses[m.analysis] = a
    pred_res = analyse(pred_set, analyses, cache, "pred", show_progress)
    ref_kinds = {k: a for k, a in analyses.items() if any(METRICS[n].needs_ref and METRICS[n].analysis == k
                                                          for n in names)}
    ref_res = analyse(ref_set, ref_kinds, cache, "ref", show_progress) if ref_set is not None and ref_kinds else None
    from .distributed import broadcast_from_main

    w = world()
    if not w.main:  # rank 0 holds the gathered results and computes; the others receive its result
        result = broadcast_from_main(None, w)
        return (result, pred_res, ref_res) if details else result
    ddof = PRESETS[protocol].covariance_ddof
    ctx = context_for(pred_res.items, ddof)
    for n in names:
        if n in out:
            continue
        with progress(show_progress) as bar:
            task = bar.add_task(f"intervals {n}", total=None)
            out[n] = compute_metric(n, pred_res, ref_res, ctx, bootstrap, seed, tick=lambda t=task: bar.advance(t))
        a = analyses[METRICS[n].analysis]
        out[n]["protocol"] = METRICS[n].protocol(a.name, a.protocol, ctx)
    clips = {"pred": {"folder": str(pred_set.folder), "clips": len(pred_set.items) + len(pred_set.missing),
                      "used": len(pred_res.ids), "excluded": pred_res.excluded,
                      "conversions": {k: dict(v) for k, v in pred_res.conversions.items() if v}}}
    if ref_res is not None:
        clips["ref"] = {"folder": str(ref_set.folder), "clips": len(ref_set.items) + len(ref_set.missing),
                        "used": len(ref_res.ids), "excluded": ref_res.excluded,
                        "conversions": {k: dict(v) for k, v in ref_res.conversions.items() if v}}
    if pred_set.task:
        clips["pred"]["task"] = pred_set.task
    weights = {k: a.protocol.get("weights_sha256") for k, a in analyses.items() if a.protocol.get("weights_sha256")}
    prov = provenance({"device": device, "processes": w.size, "bootstrap": {"samples": bootstrap, "seed": seed, "level": 0.95},
                       "fvd_protocol": protocol, "weights_sha256": weights})
    result = broadcast_from_main({"metrics": {n: out[n] for n in names}, "clips": clips, "provenance": prov}, w)
    return (result, pred_res, ref_res) if details else result


def save_results(res: SetResults, path: str | Path) -> Path:
    """Per-clip analysis results to one `.npz` (keys `analysis|clip id|array`), for paired comparisons."""
    arrays = {f"{kind}|{cid}|{key}": value for kind, per_clip in res.results.items()
              for cid, r in zip(res.ids, per_clip, strict=True) for key, value in r.items()}
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_results(path: str | Path) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """-> {analysis: {clip id: {array name: array}}}."""
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    with np.load(path) as z:
        for k in z.files:
            kind, cid, key = k.split("|")
            out.setdefault(kind, {}).setdefault(cid, {})[key] = z[k]
    return out
