"""Scenes -> clips -> files + `manifest.json`. Deterministic by seed; an interrupted build resumes.

manifest.json = {"suite", "split", "rendering", "seed", "clips": [{"id", "video", "audio",
"caption", "label", "events": [{"t", "kind", "object"}], "perturbation"}], ...}, paths relative."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import CCLBenchError
from ..io import AVClip, write_clip
from ..paths import atomic_write
from .perturb import SWAP_PAIRING, apply_perturbation, swap_sources
from .scene import Scene
from .spec import Rendering, SuiteSpec

MANIFEST = "manifest.json"
PARTIAL = "manifest.partial.json"


def clip_id(split: str, index: int) -> str:
    return f"{split}-{index:05d}"


def generate_scene(spec: SuiteSpec, split: str, index: int, seed: int, duration: float) -> Scene:
    """Scene `index` of `split`: families cycle with the index (balanced), parameters come from the
    generator seeded with `(seed, split id, index)`, so any clip can be made alone."""
    families = spec.family_table()
    family = list(families.values())[index % len(families)]
    rng = np.random.default_rng([seed, spec.split_id(split), index])
    return family.sample(rng, duration)


def render_scene(spec: SuiteSpec, scene: Scene, rendering: Rendering, audio_only: bool = False) -> AVClip:
    """Render `scene` at `rendering`: frames at `i / fps`, `duration * sample_rate` samples."""
    family = spec.family_table()[scene.family]
    times = np.arange(rendering.num_frames) / rendering.fps
    if audio_only:
        video = np.zeros((1, rendering.height, rendering.width, 3), np.uint8)
    else:
        video = family.render_video(scene, times, rendering.height, rendering.width)
    audio = family.render_audio(scene, rendering.sample_rate, rendering.num_samples)
    audio = np.repeat(audio, rendering.channels, axis=0) if rendering.channels > 1 else audio
    meta = {"caption": scene.caption, "label": scene.label, "events": [e.to_json() for e in scene.events]}
    return AVClip(video=video, fps=rendering.fps, audio=np.clip(audio, -1, 1), sample_rate=rendering.sample_rate, metadata=meta)


def make_clip(spec: SuiteSpec, split: str, rendering: Rendering, index: int, seed: int, num: int,
              perturbation: dict[str, Any] | None = None) -> AVClip:
    """Clip `index` of a build of `num` clips, perturbed if asked (swap takes the audio of clip
    `swap_sources(num, seed)[index]`, a random other clip, recorded as the perturbation's `source`)."""
    scene = generate_scene(spec, split, index, seed, rendering.duration)
    clip = render_scene(spec, scene, rendering)
    if perturbation is None:
        return clip
    other = None
    if perturbation["kind"] == "swap":
        j = int(swap_sources(num, seed)[index])
        perturbation = {**{k: v for k, v in perturbation.items() if k != "sources"}, "source": clip_id(split, j)}
        other = render_scene(spec, generate_scene(spec, split, j, seed, rendering.duration), rendering, audio_only=True).audio
    return apply_perturbation(clip, perturbation, other)


def build_suite(spec: SuiteSpec, out: str | Path, *, split: str | None = None, rendering: str | None = None,
                num: int | None = None, seed: int | None = None, perturbation: dict[str, Any] | None = None,
                fmt: str | None = None, show_progress: bool = True) -> Path:
    """Write `num` clips of `split` at `rendering` into `out`, with `manifest.json`; returns its path.

    Already written clips of an interrupted build with the same settings are kept, not redone."""
    from ..progress import progress

    d = spec.defaults
    split = split or d.get("split", "test")
    seed = int(d.get("seed", 0) if seed is None else seed)
    num = int(d.get("num", 16) if num is None else num)
    if num < 1:
        raise CCLBenchError(f"--num must be at least 1, got {num}")
    rend = spec.rendering(rendering or d.get("rendering", "native"))
    spec.split_id(split)
    fmt = (fmt or rend.format).lstrip(".")
    if perturbation is not None and perturbation["kind"] == "swap":  # the pairing, in the manifest's header too
        perturbation = dict(perturbation, pairing=SWAP_PAIRING,
                            sources=[clip_id(split, int(j)) for j in swap_sources(num, seed)])
    from ..validate import writable_folder

    out = writable_folder("--out", out)

    header = {
        "suite": spec.name, "split": split, "rendering": rend.name, "seed": seed,
        "rendering_spec": {k: getattr(rend, k) for k in ("width", "height", "fps", "sample_rate", "channels", "duration")},
        "format": fmt, "perturbation": perturbation, "ccl_bench_version": __version__,
    }
    done = _resume(out, header)
    clips: list[dict[str, Any]] = []
    with progress(show_progress) as bar:
        task = bar.add_task(f"{spec.name} {split}/{rend.name}", total=num)
        for i in range(num):
            cid = clip_id(split, i)
            if cid in done:
                clips.append(done[cid])
                bar.advance(task)
                continue
            clip = make_clip(spec, split, rend, i, seed, num, perturbation)
            video = write_clip(clip, out / f"{cid}.{fmt}")
            clips.append({
                "id": cid, "video": video.name, "audio": None,
                "caption": clip.metadata["caption"], "label": clip.metadata["label"],
                "events": clip.metadata["events"], "perturbation": clip.metadata.get("perturbation"),
            })
            _write_json(out / PARTIAL, dict(header, clips=clips))
            bar.advance(task)
    path = out / MANIFEST
    _write_json(path, dict(header, clips=clips))
    (out / PARTIAL).unlink(missing_ok=True)
    return path


def _resume(out: Path, header: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Entries of an earlier, interrupted build in `out` with identical settings whose files exist."""
    partial = out / PARTIAL
    if not partial.is_file():
        return {}
    try:
        old = json.loads(partial.read_text())
    except json.JSONDecodeError:
        return {}
    if any(old.get(k) != v for k, v in header.items()):
        return {}
    return {c["id"]: c for c in old.get("clips", []) if (out / c["video"]).is_file()}


def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=1))
