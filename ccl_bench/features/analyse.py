"""The analysis loop: every analysis over every clip of a set, from the cache where it holds the result,
else decoding the clip once; sharded over torchrun processes."""

from __future__ import annotations

from collections import Counter

from ..errors import ClipError
from ..io import read_clip
from ..io.clipset import ClipSet
from ..progress import progress
from . import Analysis, AVAlignAnalysis, AVSyncEncoderFeatures, I3DFeatures, SyncAnalysis, VGGishFeatures
from .cache import FeatureCache, content_hash
from .store import SetResults


def make_analysis(kind: str, protocol: str, weights_dir, device: str) -> Analysis:
    """The analysis a metric reads (`Metric.analysis`): i3d (with the FVD preset `protocol`), vggish, sync, av-align,
    avsync-video, avsync-audio (the suite-native encoders)."""
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


def analyse(cs: ClipSet, analyses: dict[str, Analysis], cache: FeatureCache, label: str, show_progress: bool,
            batch: int = 8) -> SetResults:
    """Run every analysis over every clip: from the cache where it holds the result, else decoding the
    clip once. Results are written to the cache as they are made, so a killed run resumes. Under
    torchrun each process takes every size-th clip, and rank 0 gathers the results in clip order (the
    same lists one process would make); the other ranks get an empty `SetResults`."""
    from ..distributed import gather_to_main, world

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
