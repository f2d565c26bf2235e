"""Clip sets: a suite folder (`manifest.json`, as `ccl-bench suite build` and `ccl-bench sample` write)
or a plain folder of clips (mp4/mkv/webm/mov, audio in the file or a same-stem wav/flac); `attach_prompts`
gives a set the captions, transcripts and categories of a prompt file (`io.prompts`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import validate
from ..errors import CCLBenchError
from .reader import VIDEO_SUFFIXES, find_sidecar


@dataclass
class ClipItem:
    id: str
    video: Path
    audio: Path | None = None  # sidecar
    events: list[float] | None = None  # ground-truth event times (s), where the folder gives them
    events_true_of: str | None = None  # "video" | "audio" | "both" | None: which stream the events describe
    label: str | None = None  # scene family (manifest `label`), for the per-family breakdown
    text: dict[str, str] = field(default_factory=dict)  # the manifest's "caption" / "transcript", for text metrics
    conditioned_on: str | None = None  # "video" | "audio": the stream a generated clip was given (V2A, A2V)


@dataclass
class ClipSet:
    folder: Path
    items: list[ClipItem]
    manifest: dict | None = None
    missing: list[dict] = field(default_factory=list)  # listed in the manifest but absent
    warnings: list[dict] = field(default_factory=list)  # {"path", "warning"}: clip files the manifest does not list

    @property
    def task(self) -> str | None:
        return (self.manifest or {}).get("task")


def attach_prompts(cs: ClipSet, prompts: dict, source: str) -> dict:
    """Give each clip the prompt whose id is its id (a plain folder's clip id is its file stem): caption and
    transcript into `ClipItem.text` (the text metrics), category into `ClipItem.label` (the per-category
    breakdown); a prompt's field replaces the manifest's. `prompts`: `{id: io.prompts.Prompt}`; source: the
    file, as the result names it. -> the record of what matched: `{"file", "attached", "clips_without_prompt":
    [ids], "prompts_without_clip": [ids]}` (nothing is dropped unsaid)."""
    ids = {i.id for i in cs.items} | {Path(m["path"]).stem for m in cs.missing}
    if cs.items and not ids & set(prompts):  # surely the wrong file, or ids written otherwise: say so before any work
        example = sorted(prompts)[0]
        raise CCLBenchError(f"{source}: no prompt id matches a clip of {cs.folder} (a clip's id is its file stem, e.g. "
                            f"{sorted(ids)[0]!r}; this file's ids are e.g. {example!r})")
    attached = 0
    for item in cs.items:
        p = prompts.get(item.id)
        if p is None:
            continue
        item.text = {**item.text, **p.text()}
        if p.category:
            item.label = p.category
        attached += 1
    return {"file": source, "attached": attached,
            "clips_without_prompt": sorted(i.id for i in cs.items if i.id not in prompts),
            "prompts_without_clip": sorted(k for k in prompts if k not in ids)}


def load_clipset(folder: str | Path, require_files: bool = True) -> ClipSet:
    """require_files=False keeps manifest entries whose media are absent (their events are still read)."""
    d = Path(folder)
    if not d.exists():
        raise CCLBenchError(f"{d}: folder not found")
    if not d.is_dir():
        raise CCLBenchError(f"{d}: not a folder (give a folder of clips or a suite folder with manifest.json)")
    mpath = d / "manifest.json"
    validate.partial_build(d)  # a build that has not finished is refused, not read as a plain folder
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CCLBenchError(f"{mpath}: not a valid manifest ({type(exc).__name__}: {exc})") from None
        entries = validate.manifest(mpath, manifest)
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
                                  [float(e["t"]) for e in c.get("events") or []], true_of, c.get("label"),
                                  {k: str(c[k]) for k in ("caption", "transcript") if c.get(k)},
                                  {"v2a": "video", "a2v": "audio"}.get(task)))
        listed = {(d / c["video"]).resolve() for c in entries}
        unlisted = [{"path": str(p), "warning": "in the folder but not listed in manifest.json: not evaluated"}
                    for p in _videos_in(d) if p.resolve() not in listed]
        return ClipSet(d, items, manifest, missing, unlisted)
    videos = _videos_in(d)
    if not videos:
        raise CCLBenchError(f"{d}: no clips ({', '.join(VIDEO_SUFFIXES)}) and no manifest.json")
    return ClipSet(d, [ClipItem(v.stem, v, find_sidecar(v)) for v in videos])


def _videos_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))


def known_events(items: Sequence[ClipItem], stream: str) -> list[np.ndarray | None]:
    """Per clip, the event times (s) that stand in for detection on `stream` ("video" | "audio"): those of
    the stream a generated clip was conditioned on (V2A keeps the video, A2V the audio); None elsewhere.
    A suite clip, perturbed or not, is measured by the detectors on both streams, as a T2AV clip is, so
    the calibration ladder compares like with like (with a perturbed copy's kept stream known instead,
    an offset of 40 ms scored event-hit 1.0 on the tiny clips against 0.94 aligned)."""
    return [np.array(i.events) if i.events is not None and i.conditioned_on == stream == i.events_true_of else None
            for i in items]
