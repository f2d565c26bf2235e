"""The analysis loop: every analysis over every clip of a set, from the cache where it holds the result,
else decoding the clip once; sharded over torchrun processes."""

from __future__ import annotations

from collections import Counter

from ..errors import ClipError
from ..io import read_clip
from ..io.clipset import ClipSet
from ..io.reader import decoder_id
from ..io.streams import RECORD_ID, clip_key, stream_record, stream_warnings
from ..progress import progress
from . import Analysis, AVAlignAnalysis, I3DFeatures, SyncAnalysis, VGGishFeatures
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
    from . import BACKBONES  # the learned backbones (Metrics II), one loader file each

    if kind in BACKBONES:
        return BACKBONES[kind](weights_dir, device)
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
    warned: list[tuple[int, dict]] = []
    conversions = {k: Counter() for k in ("decode", *analyses)}
    decoder = decoder_id()  # part of every cache key: decoders may differ in the frames they give
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
                key = clip_key(content_hash(item.video, item.audio), decoder)
                keys = {k: a.clip_key(key, item.text) for k, a in analyses.items()}  # text metrics key on the text too
                cached = {k: cache.get(a.cache_id, keys[k]) for k, a in analyses.items()}
                streams = cache.get(RECORD_ID, key)  # what reading found, so warnings read the same from the cache
                clip = None
                if streams is None or any(v is None for v in cached.values()):
                    clip = read_clip(item.video, audio_path=item.audio)
                    clip.metadata.update(item.text)
                    if clip.num_samples == 0:
                        raise ClipError(item.video, "audio track holds no samples")
                    if streams is None:
                        streams = stream_record(clip)
                        cache.put(RECORD_ID, key, streams)
            except ClipError as exc:
                excluded.append((index, {"path": exc.path, "fault": exc.fault}))
                bar.advance(task)
                continue
            done[index] = {}
            conversions["decode"].update(str(n) for n in streams["notes"])
            warned += [(index, {"path": str(item.video), "warning": msg}) for msg in stream_warnings(streams)]
            for kind, a in analyses.items():
                if cached[kind] is not None:
                    done[index][kind] = cached[kind]
                    continue
                if a.batchable:
                    x, conv = a.prepare(clip)
                    pending[kind].append((index, keys[kind], x))
                    if len(pending[kind]) >= batch:
                        flush(kind)
                else:
                    res, conv = a.compute(clip)
                    cache.put(a.cache_id, keys[kind], res)
                    done[index][kind] = res
                conversions[kind].update(conv)
            bar.advance(task)
        for kind in pending:
            flush(kind)
    parts = gather_to_main((done, excluded, conversions, warned), w)
    out = SetResults(excluded=list(cs.missing), results={k: [] for k in analyses},
                     conversions={k: Counter() for k in ("decode", *analyses)}, warnings=list(cs.warnings))
    if parts is None:
        return out
    every = {i: r for d, *_ in parts for i, r in d.items()}
    for index in sorted(every):
        out.ids.append(cs.items[index].id)
        out.items.append(cs.items[index])
        for kind in analyses:
            out.results[kind].append(every[index][kind])
    out.excluded += [e for _, e in sorted((e for _, ex, _, _ in parts for e in ex), key=lambda x: x[0])]
    out.warnings += [e for _, e in sorted((e for *_, wa in parts for e in wa), key=lambda x: x[0])]
    for _, _, conv, _ in parts:
        for kind, c in conv.items():
            out.conversions[kind].update(c)
    return out
