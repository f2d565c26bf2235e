"""`ccl-bench sample`: generate clips with a trained reference model, written like a suite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import CCLBenchError
from ..io import AVClip, write_clip
from ..progress import progress
from ..suites import load_suite
from .data import encode_clips, render_split
from .models import codecs_for, load_trained

TASKS = ("t2av", "a2v", "v2a", "t2v", "t2a")


CAPTIONS = ("own", "mismatched")


def prompt_caption(metas: list[dict], i: int, captions: str) -> str:
    """The caption prompt i is sampled with: its own, or [design] (claim 4, text and the conditioning
    stream disagreeing) its neighbour's, `i + 1` (`i - 1` for the last): families cycle with the index,
    so a neighbour is always another family."""
    if captions == "own":
        return metas[i]["caption"]
    if captions != "mismatched" or len(metas) < 2:
        raise CCLBenchError(f"--captions {captions}: use own or mismatched (mismatched needs at least 2 prompts)")
    return metas[i + 1 if i + 1 < len(metas) else i - 1]["caption"]


def clip_noise(seed: int, index: int, video_shape, audio_shape) -> tuple[torch.Tensor, torch.Tensor]:
    """The initial noise of clip `index`: its own generator, so a clip's sample does not depend on the
    batch it was drawn in or on which process drew it."""
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1)[0]))
    return torch.randn(video_shape, generator=g), torch.randn(audio_shape, generator=g)


def generate(checkpoint: str | Path, suite: str, task: str, num: int, out: str | Path, guidance: str = "ucg",
             steps: int = 25, sampler: str = "euler", seed: int = 0, split: str = "test", device: str | None = None,
             batch_size: int = 16, scales=None, show_progress: bool = True, overrides: dict | None = None,
             captions: str = "own") -> dict:
    """Sample `num` clips for the prompts (and, for A2V/V2A, the conditioning clips) of a suite's split.
    Under torchrun each process samples its share of the prompts; rank 0 writes the manifest.
    Returns the manifest (also written to `out/manifest.json`)."""
    from reference_impl.diffusion import GuidanceScales, sample
    from reference_impl.text import WordHashEncoder

    from ..distributed import barrier, broadcast_from_main, device_for, gather_to_main, my_share, world

    if task not in TASKS:
        raise CCLBenchError(f"unknown task '{task}' (known: {', '.join(TASKS)})")
    if captions not in CAPTIONS:
        raise CCLBenchError(f"--captions {captions}: use own or mismatched")
    w = world()
    device = device_for(w, device)
    model, info = load_trained(checkpoint, device, overrides)
    spec = load_suite(suite)
    rend = spec.rendering(info.get("rendering", "tiny"))
    vc, ac = codecs_for(rend)
    video, audio, metas = render_split(spec, split, rend.name, num, seed, show_progress=False)
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=model.cfg.text_dim)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mine = my_share(num, w)
    clips, info_out = [], None
    with progress(show_progress and w.main) as bar:
        bar_task = bar.add_task(f"sample {task} ({guidance}, {steps} steps)", total=len(mine))
        for s in range(0, len(mine), batch_size):
            idx = mine[s : s + batch_size]
            text, mask = enc([prompt_caption(metas, i, captions) for i in idx])
            null_text, null_mask = enc([""] * len(idx))
            noise = [clip_noise(seed, i, lv.shape[1:], la.shape[1:]) for i in idx]
            xv, xa, info_out = sample(
                model, task, text.to(device), mask.to(device), null_text.to(device), null_mask.to(device),
                (len(idx), *lv.shape[1:]), (len(idx), *la.shape[1:]), cond_video=lv[idx].to(device),
                cond_audio=la[idx].to(device), steps=steps, sampler=sampler, guidance=guidance,
                scales=scales or GuidanceScales(), init_noise=(torch.stack([n[0] for n in noise]),
                                                               torch.stack([n[1] for n in noise])))
            gen_video = vc.decode(xv.cpu()) if task in ("t2av", "a2v", "t2v") else video[idx]
            gen_audio = ac.decode(xa.cpu(), rend.num_samples) if task in ("t2av", "v2a", "t2a") else audio[idx]
            for j, i in enumerate(idx):
                meta = metas[i]
                clip = AVClip(gen_video[j].numpy(), rend.fps, gen_audio[j : j + 1].numpy().astype(np.float32), rend.sample_rate)
                path = write_clip(clip, out / f"{meta['id']}.{rend.format}")
                condition = {"a2v": {"modality": "audio", "source": meta["id"]},
                             "v2a": {"modality": "video", "source": meta["id"]}}.get(task)
                clips.append((i, {"id": meta["id"], "video": path.name, "audio": None,
                                  "caption": prompt_caption(metas, i, captions),
                                  "label": meta["label"], "events": meta["events"],
                                  # A2V/V2A: the events are the conditioning clip's, true of the kept stream;
                                  # T2AV/T2V/T2A: the prompt's source clip's, a reference only.
                                  "events_from": "condition" if condition else "prompt",
                                  "perturbation": None, "condition": condition}))
                bar.advance(bar_task)
    gathered = gather_to_main((clips, info_out), w)
    manifest = None
    if w.main:
        every = sorted((c for part, _ in gathered for c in part), key=lambda c: c[0])
        info_out = next(i for _, i in gathered if i is not None)
        manifest = {"suite": spec.name, "split": split, "rendering": rend.name, "seed": seed, "generated": True,
                    "model": info.get("name"), "checkpoint": str(checkpoint), "task": task, "guidance": guidance,
                    "captions": captions,
                    "sampler": sampler, "steps": steps, "passes_per_step": info_out.passes_per_step,
                    "nfe_per_clip": info_out.nfe_per_clip, "processes": w.size, "ccl_bench_version": __version__,
                    "clips": [c for _, c in every]}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    manifest = broadcast_from_main(manifest, w)
    barrier(w)
    return manifest
