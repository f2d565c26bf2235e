"""Pseudo-models that frame every table (`ccl-bench run --model ceiling|floor`): no checkpoint, no
sampling; their clips are written like `ccl-bench sample`'s, for the same prompts and conditions.

- `ceiling`: the suite's own clips for the prompts, the generated streams encoded and decoded by the
  reference models' codecs (`reference_impl.codecs`: the pixel codec is lossless, the log-mel codec
  loses the phase, which Griffin-Lim recovers): what a perfect model of these codecs could score;
- `floor`: noise clips of the same shapes: uniform random 8-bit frames and white noise (sigma 0.25,
  clipped to [-1, 1]) for the generated streams, clip i drawn from its own generator seeded by
  `(seed, i)`.
A kept stream (A2V's audio, V2A's video) is the suite's own, as for a model. The prompts and clips
come from the suite folder the clips are then measured against (`reference`), as `generate` reads them."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..io import AVClip, write_clip
from ..paths import atomic_write
from ..suites import load_suite
from .data import render_split
from .models import codecs_for
from .sample import Timing, read_suite_folder

PSEUDO_MODELS = {
    "ceiling": "the suite's clips encoded and decoded by the reference models' codecs (what a perfect model could score)",
    "floor": "noise clips: uniform random frames and white noise of the same shapes, deterministic by seed",
}
MAKES_VIDEO = ("t2av", "a2v", "t2v")
MAKES_AUDIO = ("t2av", "v2a", "t2a")
NOISE_STD = 0.25


def noise_clip(seed: int, index: int, video_shape, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip `index` of the floor: uint8 video `video_shape`, float32 audio `[num_samples]`."""
    rng = np.random.default_rng([seed, index])
    video = rng.integers(0, 256, video_shape, dtype=np.uint8)
    audio = np.clip(rng.normal(0.0, NOISE_STD, num_samples), -1, 1).astype(np.float32)
    return video, audio


def generate_pseudo(name: str, suite: str, task: str, num: int, out: str | Path, reference: str | Path | None = None,
                    rendering: str = "tiny", seed: int = 0, split: str = "test") -> dict:
    """Write the pseudo-model's clips for the first `num` clips of the suite folder `reference` (default: `split`
    rendered in memory) into `out` -> the manifest (also written), with `timing` as `generate` gives it."""
    spec = load_suite(suite)
    rend = spec.rendering(rendering)
    timing = Timing()
    t0 = time.perf_counter()
    if reference is None:
        video, audio, metas = render_split(spec, split, rend.name, num, seed, show_progress=False)
    else:
        video, audio, metas = read_suite_folder(Path(reference), spec.name, rend, num)
    timing.condition_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if name == "ceiling":
        vc, ac = codecs_for(rend)
        gen_video = vc.decode(vc.encode(video)) if task in MAKES_VIDEO else video
        gen_audio = ac.decode(ac.encode(audio), rend.num_samples) if task in MAKES_AUDIO else audio
    else:
        noise = [noise_clip(seed, i, video.shape[1:], audio.shape[1]) for i in range(num)]
        gen_video = torch.from_numpy(np.stack([v for v, _ in noise])) if task in MAKES_VIDEO else video
        gen_audio = torch.from_numpy(np.stack([a for _, a in noise])) if task in MAKES_AUDIO else audio
    timing.sample_s = time.perf_counter() - t0  # the codecs' round trip, or drawing the noise
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for i, meta in enumerate(metas):
        clip = AVClip(gen_video[i].numpy(), rend.fps, gen_audio[i : i + 1].numpy().astype(np.float32), rend.sample_rate)
        path = write_clip(clip, out / f"{meta['id']}.{rend.format}")
        condition = {"a2v": {"modality": "audio", "source": meta["id"]},
                     "v2a": {"modality": "video", "source": meta["id"]}}.get(task)
        clips.append({"id": meta["id"], "video": path.name, "audio": None, "caption": meta["caption"], "label": meta["label"],
                      "events": meta["events"], "events_from": "condition" if condition else "prompt", "perturbation": None,
                      "condition": condition})
    manifest = {"suite": spec.name, "split": split, "rendering": rend.name, "seed": seed, "generated": True, "model": name,
                "pseudo_model": PSEUDO_MODELS[name], "checkpoint": None, "task": task, "passes_per_step": 0, "nfe_per_clip": 0,
                "processes": 1, "ccl_bench_version": __version__, "clips": clips}
    timing.write_s = time.perf_counter() - t0
    manifest["timing"] = asdict(timing)
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest
