"""`ccl-bench sample`: generate clips with a trained reference model, written like a suite.

The prompts and conditioning clips come from a suite folder on disk (`reference`, as `ccl-bench suite
build` or `ccl-bench run` wrote it): the same files the generated clips are then measured against."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import CCLBenchError
from ..io import AVClip, read_clip, write_clip
from ..paths import atomic_write, portable
from ..progress import progress
from ..suites import Rendering, build_suite, load_suite
from .data import encode_clips
from .models import codecs_for, load_trained

TASKS = ("t2av", "a2v", "v2a", "t2v", "t2a")


def parse_scales(spec: str | None):
    """`--scales text=2,modality=1.5` -> `GuidanceScales` (fields not named keep their defaults; None: all defaults).
    Fields: text (s_t), modality (s_m), perturbed (s_p), audio_text, audio_modality (the audio stream's own), rescale."""
    from dataclasses import fields, replace

    from reference_impl.diffusion import GuidanceScales

    scales = GuidanceScales()
    if not spec:
        return scales
    known = [f.name for f in fields(GuidanceScales)]
    values = {}
    for part in str(spec).split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in known:
            raise CCLBenchError(f"--scales {spec}: '{part}' is not FIELD=NUMBER with FIELD one of {', '.join(known)}")
        try:
            values[key] = float(value)
        except ValueError:
            raise CCLBenchError(f"--scales {spec}: {key}={value!r} is not a number") from None
        if not np.isfinite(values[key]):
            raise CCLBenchError(f"--scales {spec}: {key}={value} is not finite")
    return replace(scales, **values)


def scales_label(scales) -> str | None:
    """The guidance scales that differ from the defaults, `field=value` comma-joined in field order (what a result's
    `settings.scales` records); None when every scale is the default."""
    from dataclasses import fields

    from reference_impl.diffusion import GuidanceScales

    default = GuidanceScales()
    changed = [f"{f.name}={getattr(scales, f.name):g}" for f in fields(GuidanceScales)
               if getattr(scales, f.name) != getattr(default, f.name)]
    return ",".join(changed) or None


def clip_noise(seed: int, index: int, video_shape, audio_shape) -> tuple[torch.Tensor, torch.Tensor]:
    """The initial noise of clip `index`: its own generator, so a clip's sample does not depend on the
    batch it was drawn in or on which process drew it."""
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1)[0]))
    return torch.randn(video_shape, generator=g), torch.randn(audio_shape, generator=g)


@dataclass
class Timing:
    """Wall seconds of one `generate` call's phases (the slowest process's, under torchrun)."""

    load_s: float = 0.0  # loading the checkpoint onto the device
    condition_s: float = 0.0  # reading the suite folder's clips and encoding them to latents
    sample_s: float = 0.0  # the sampler alone (every step of every clip), device synchronised
    write_s: float = 0.0  # decoding latents and writing the clip files


def read_suite_folder(folder: Path, spec_name: str, rend: Rendering, num: int):
    """The first `num` clips of a suite folder -> (video uint8 `[N, T, H, W, 3]`, audio `[N, S]`, manifest
    entries). Refused with the reason when the folder is another suite's or rendering's, or too short."""
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise CCLBenchError(f"{folder}: not a suite folder (no manifest.json); build one with `ccl-bench suite build`")
    manifest = json.loads(mpath.read_text())
    if manifest.get("suite") != spec_name or manifest.get("rendering") != rend.name:
        raise CCLBenchError(f"{mpath}: holds suite {manifest.get('suite')!r} rendering {manifest.get('rendering')!r}, "
                            f"not {spec_name!r} {rend.name!r}")
    entries = manifest["clips"][:num]
    if len(entries) < num:
        raise CCLBenchError(f"{mpath}: lists {len(entries)} clips, {num} asked for")
    clips = [read_clip(folder / c["video"], audio_path=folder / c["audio"] if c.get("audio") else None) for c in entries]
    video = torch.from_numpy(np.stack([c.video for c in clips]))
    audio = torch.from_numpy(np.stack([c.audio[0] for c in clips]))
    return video, audio, entries


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


CAPTIONS = ("own", "mismatched")


def caption_source(metas: list[dict], i: int, captions: str) -> int:
    """Whose caption prompt i is sampled with: its own, or [design] (claim 4, text and the conditioning
    stream disagreeing) its neighbour's, `i + 1` (`i - 1` for the last): families cycle with the index,
    so a neighbour is always another family."""
    if captions == "own":
        return i
    if captions != "mismatched" or len(metas) < 2:
        raise CCLBenchError(f"--captions {captions}: use own or mismatched (mismatched needs at least 2 prompts)")
    return i + 1 if i + 1 < len(metas) else i - 1


def prompt_caption(metas: list[dict], i: int, captions: str) -> str:
    return metas[caption_source(metas, i, captions)]["caption"]


def generate(checkpoint: str | Path, suite: str, task: str, num: int, out: str | Path, guidance: str = "ucg",
             steps: int = 25, sampler: str = "euler", seed: int = 0, split: str = "test", device: str | None = None,
             batch_size: int = 16, scales=None, show_progress: bool = True, overrides: dict | None = None,
             reference: str | Path | None = None, captions: str = "own", text_embeddings: str | None = None) -> dict:
    """Sample `num` clips for the prompts (and, for A2V/V2A, the conditioning clips) of the suite folder
    `reference` (default: the split built into a temporary folder). Under torchrun each process samples
    its share of the prompts; rank 0 writes the manifest. Returns the manifest (also written to
    `out/manifest.json`) with `timing` (`Timing` fields, seconds) added."""
    from .. import validate
    from ..distributed import device_for, world

    if task not in TASKS:
        raise CCLBenchError(f"unknown task '{task}' (known: {', '.join(TASKS)})")
    num, steps = validate.positive_int("--num", num), validate.positive_int("--steps", steps)
    validate.writable_folder("--out", out)
    if captions not in CAPTIONS:
        raise CCLBenchError(f"--captions {captions}: use own or mismatched")
    device = device_for(world(), device)
    if reference is not None:
        return _generate(checkpoint, suite, task, num, out, guidance, steps, sampler, seed, split, device, batch_size,
                         scales, show_progress, overrides, Path(reference), captions, text_embeddings)
    with tempfile.TemporaryDirectory(prefix="ccl-bench-suite-") as tmp:
        info = json.loads((Path(checkpoint) / "config.json").read_text()) if (Path(checkpoint) / "config.json").is_file() else {}
        build_suite(load_suite(suite), tmp, split=split, rendering=info.get("rendering", "tiny"), num=num, seed=seed,
                    show_progress=False)
        return _generate(checkpoint, suite, task, num, out, guidance, steps, sampler, seed, split, device, batch_size,
                         scales, show_progress, overrides, Path(tmp), captions, text_embeddings)


def _generate(checkpoint, suite, task, num, out, guidance, steps, sampler, seed, split, device, batch_size, scales,
              show_progress, overrides, reference: Path, captions: str = "own", text_embeddings: str | None = None) -> dict:
    from reference_impl.diffusion import GuidanceScales, sample
    from reference_impl.text import text_encoder

    from ..distributed import barrier, broadcast_from_main, gather_to_main, my_share, world

    w = world()
    timing = Timing()
    t0 = time.perf_counter()
    model, info = load_trained(checkpoint, device, overrides)
    _sync(device)
    timing.load_s = time.perf_counter() - t0
    spec = load_suite(suite)
    rend = spec.rendering(info.get("rendering", "tiny"))
    vc, ac = codecs_for(rend)
    t0 = time.perf_counter()
    video, audio, metas = read_suite_folder(reference, spec.name, rend, num)
    lv, la = encode_clips(video, audio, vc, ac)
    timing.condition_s = time.perf_counter() - t0
    try:
        enc = text_encoder(model.cfg.text_dim, text_embeddings)
    except FileNotFoundError as exc:
        raise CCLBenchError(f"--text-embeddings {exc}") from None
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
            t0 = time.perf_counter()
            xv, xa, info_out = sample(
                model, task, text.to(device), mask.to(device), null_text.to(device), null_mask.to(device),
                (len(idx), *lv.shape[1:]), (len(idx), *la.shape[1:]), cond_video=lv[idx].to(device),
                cond_audio=la[idx].to(device), steps=steps, sampler=sampler, guidance=guidance,
                scales=scales or GuidanceScales(), init_noise=(torch.stack([n[0] for n in noise]),
                                                               torch.stack([n[1] for n in noise])))
            _sync(device)
            timing.sample_s += time.perf_counter() - t0
            t0 = time.perf_counter()
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
                                  # the caption's own family (another's with --captions mismatched); `label`: the clip's
                                  "caption_label": metas[caption_source(metas, i, captions)]["label"],
                                  "label": meta["label"], "events": meta["events"],
                                  # A2V/V2A: the events are the conditioning clip's, true of the kept stream;
                                  # T2AV/T2V/T2A: the prompt's source clip's, a reference only.
                                  "events_from": "condition" if condition else "prompt",
                                  "perturbation": None, "condition": condition}))
                bar.advance(bar_task)
            timing.write_s += time.perf_counter() - t0
    gathered = gather_to_main((clips, info_out, asdict(timing)), w)
    manifest = None
    if w.main:
        every = sorted((c for part, _, _ in gathered for c in part), key=lambda c: c[0])
        info_out = next(i for _, i, _ in gathered if i is not None)
        manifest = {"suite": spec.name, "split": split, "rendering": rend.name, "seed": seed, "generated": True,
                    "model": info.get("name"), "checkpoint": portable(checkpoint), "task": task, "guidance": guidance,
                    "scales": asdict(scales or GuidanceScales()), "captions": captions,
                    "sampler": sampler, "steps": steps, "passes_per_step": info_out.passes_per_step,
                    "nfe_per_clip": info_out.nfe_per_clip, "processes": w.size, "ccl_bench_version": __version__,
                    "clips": [c for _, c in every]}
        atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
        # The slowest process decides when the clips are all there.
        manifest["timing"] = {k: max(t[k] for _, _, t in gathered) for k in asdict(timing)}
    manifest = broadcast_from_main(manifest, w)
    barrier(w)
    return manifest
