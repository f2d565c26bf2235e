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


def generate(checkpoint: str | Path, suite: str, task: str, num: int, out: str | Path, guidance: str = "ucg",
             steps: int = 25, sampler: str = "euler", seed: int = 0, split: str = "test", device: str | None = None,
             batch_size: int = 16, scales=None, show_progress: bool = True) -> dict:
    """Sample `num` clips for the prompts (and, for A2V/V2A, the conditioning clips) of a suite's split.
    Returns the manifest (also written to `out/manifest.json`)."""
    from reference_impl.diffusion import GuidanceScales, sample
    from reference_impl.text import WordHashEncoder

    if task not in TASKS:
        raise CCLBenchError(f"unknown task '{task}' (known: {', '.join(TASKS)})")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, info = load_trained(checkpoint, device)
    spec = load_suite(suite)
    rend = spec.rendering(info.get("rendering", "tiny"))
    vc, ac = codecs_for(rend)
    video, audio, metas = render_split(spec, split, rend.name, num, seed, show_progress=False)
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=model.cfg.text_dim)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    clips, info_out = [], None
    with progress(show_progress) as bar:
        bar_task = bar.add_task(f"sample {task} ({guidance}, {steps} steps)", total=num)
        for s in range(0, num, batch_size):
            sl = slice(s, min(num, s + batch_size))
            text, mask = enc([m["caption"] for m in metas[sl]])
            null_text, null_mask = enc([""] * len(text))
            xv, xa, info_out = sample(
                model, task, text.to(device), mask.to(device), null_text.to(device), null_mask.to(device),
                tuple(lv[sl].shape), tuple(la[sl].shape), cond_video=lv[sl].to(device), cond_audio=la[sl].to(device),
                steps=steps, sampler=sampler, guidance=guidance, scales=scales or GuidanceScales(), generator=g)
            gen_video = vc.decode(xv.cpu()) if task in ("t2av", "a2v", "t2v") else video[sl]
            gen_audio = ac.decode(xa.cpu(), rend.num_samples) if task in ("t2av", "v2a", "t2a") else audio[sl]
            for j, meta in enumerate(metas[sl]):
                clip = AVClip(gen_video[j].numpy(), rend.fps, gen_audio[j : j + 1].numpy().astype(np.float32), rend.sample_rate)
                path = write_clip(clip, out / f"{meta['id']}.{rend.format}")
                condition = {"a2v": {"modality": "audio", "source": meta["id"]},
                             "v2a": {"modality": "video", "source": meta["id"]}}.get(task)
                clips.append({"id": meta["id"], "video": path.name, "audio": None, "caption": meta["caption"],
                              "label": meta["label"], "events": meta["events"],
                              # A2V/V2A: the events are the conditioning clip's, true of the kept stream;
                              # T2AV/T2V/T2A: the prompt's source clip's, a reference only.
                              "events_from": "condition" if condition else "prompt",
                              "perturbation": None, "condition": condition})
                bar.advance(bar_task)
    manifest = {"suite": spec.name, "split": split, "rendering": rend.name, "seed": seed, "generated": True,
                "model": info.get("name"), "checkpoint": str(checkpoint), "task": task, "guidance": guidance,
                "sampler": sampler, "steps": steps, "passes_per_step": info_out.passes_per_step,
                "nfe_per_clip": info_out.nfe_per_clip, "ccl_bench_version": __version__, "clips": clips}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
