"""`ccl-bench train`: a reference model on a suite's training split."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..progress import progress
from ..suites import load_suite
from .data import encode_clips, render_split
from .models import build_for_rendering

DEFAULT_CLIPS = {"tiny": 64, "small": 2048}  # training clips rendered for each model scale
DEFAULT_BATCH = {"tiny": 4, "small": 32}


def train(model: str, suite: str, scale: str, steps: int, out: str | Path, seed: int = 0, resume: bool = False,
          overrides: dict | None = None, rendering: str = "tiny", num_clips: int | None = None,
          batch_size: int | None = None, device: str | None = None, show_progress: bool = True, **train_fields) -> Path:
    from reference_impl.diffusion import LatentData, TrainConfig, Trainer
    from reference_impl.text import WordHashEncoder

    from ..distributed import device_for, world

    out = Path(out)
    if out.exists() and (out / "checkpoint.pt").exists() and not resume:
        from ..errors import CCLBenchError

        raise CCLBenchError(f"{out}: holds a training run already; add --resume to continue it or pick another --out")
    w = world()  # under torchrun: DDP (or FSDP2 at Wan scales) over the processes, batch_size global
    device = device_for(w, device)
    train_fields.setdefault("parallel", "fsdp" if scale.startswith("wan") else "ddp")
    torch.manual_seed(seed)  # parameter initialisation
    spec = load_suite(suite)
    rend = spec.rendering(rendering)
    net, vc, ac = build_for_rendering(model, scale, rend, overrides or {})
    n = num_clips or DEFAULT_CLIPS.get(scale, 256)
    video, audio, metas = render_split(spec, "train", rendering, n, seed, show_progress)
    lv, la = encode_clips(video, audio, vc, ac)
    enc = WordHashEncoder(dim=net.cfg.text_dim)
    text, mask = enc([m["caption"] for m in metas])
    null_text, null_mask = enc([""])
    data = LatentData(lv, la, text, mask, null_text, null_mask)
    cfg = TrainConfig(steps=steps, seed=seed, batch_size=batch_size or DEFAULT_BATCH.get(scale, 16), **train_fields)
    meta = {"suite": spec.name, "rendering": rend.name, "scale": scale, "name": model, "train_clips": n,
            "video_codec": vc.to_dict(), "audio_codec": ac.to_dict(), "text_encoder": {"kind": "word-hash", "dim": enc.dim,
            "max_len": enc.max_len}, "device": str(device), "processes": w.size}
    trainer = Trainer(net, data, cfg, out, device=device, meta=meta)
    with progress(show_progress and w.main) as bar:
        task = bar.add_task(f"train {model} ({scale})", total=steps)
        if resume and trainer.resume():
            bar.update(task, completed=trainer.step)

        def tick(record):
            if isinstance(record["loss"], float):  # a logged step (others carry no host copy of the loss)
                bar.update(task, description=f"train {model} loss {record['loss']:.4f}")
            bar.update(task, completed=record["step"])

        trainer.fit(resume=False, on_step=tick)
    if w.main:
        (out / "train_command.json").write_text(json.dumps(
            {"model": model, "suite": suite, "scale": scale, "steps": steps, "seed": seed, "overrides": overrides or {},
             "processes": w.size}, indent=1))
    return out
