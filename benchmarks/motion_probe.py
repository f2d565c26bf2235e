"""How steady is a model's generated picture? Prints, per scene family, the frame-to-frame change of generated
clips beside the suite's own clips: what the visual-event detector of `ccl-event-sync-v1` reads as events.

    python benchmarks/motion_probe.py results/av-sync/clips/reference results/av-sync/clips/ccl/t2av ... \\
        --strip frames.png
    python benchmarks/motion_probe.py --checkpoint checkpoints/av-sync/ccl --num 12 \\
        --settings 25:ucg:4:3 100:ucg:4:3 25:ucg:1:3 25:ucg:4:1

The first form reads clip folders (a `ccl-bench run` output: `manifest.json` + clips); the first folder is the
reference row. The second samples the suite's first `--num` test prompts (on `--device`, the CPU by default) with
each sampler setting `steps:guidance:text scale:shift` (the suite's own clips as the reference row), so a
setting's effect on the picture is seen without writing clips; `--task t2v` samples the video alone, e.g. of the stage-1 streams
(`--checkpoint checkpoints/av-sync/streams`), whose flicker every stage-2 model inherits. Columns, means over a family's clips:

- flicker: mean |grey[i+1] - grey[i]| over frames and pixels (grey levels, 0-255); split into the frame pairs
  2k -> 2k+1 and 2k+1 -> 2k+2 (a video token of temporal patch 2 holds frames 2k and 2k+1: a flicker made at the
  tokens' borders shows in the second);
- fg mass: mean foreground mass against the clip's temporal median (grey levels; `onsets.foreground`);
- events: visual events per clip (`onsets.visual_events`), of which kinematic / photometric frames over their floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GREY = np.array([0.299, 0.587, 0.114], np.float32)


def clip_motion(video: np.ndarray, fps: float) -> dict[str, float]:
    """uint8 `[T, H, W, 3]` -> flicker, foreground mass, visual events and the frames over each kind's floor."""
    from ccl_bench.features.onsets import events_from_strength, foreground, visual_strength

    grey = video.astype(np.float32) @ GREY
    vs = visual_strength(video)
    change = np.abs(np.diff(grey, axis=0)).mean((1, 2))  # [T - 1]: frame i -> i + 1
    return {"flicker": float(change.mean()), "pairs 2k>2k+1": float(change[0::2].mean()),
            "pairs 2k+1>2k+2": float(change[1::2].mean()), "fg mass": float(foreground(video)[0].mean()),
            "events": float(len(events_from_strength(vs, fps))), "kinematic": float((vs.kinematic >= 1).sum()),
            "photometric": float((vs.photometric >= 1).sum())}


def by_family(rows: list[tuple[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """(family, motion) per clip -> family -> mean motion, with 'all' over every clip and `clips` counted."""
    groups = defaultdict(list)
    for family, motion in rows:
        groups[family].append(motion)
        groups["all"].append(motion)
    return {f: {"clips": len(ms), **{k: float(np.mean([m[k] for m in ms])) for k in ms[0]}}
            for f, ms in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def read_folder(folder: Path) -> dict[str, dict[str, float]]:
    from ccl_bench.io.reader import read_clip

    manifest = folder / "manifest.json"
    if not manifest.is_file():
        sys.exit(f"{folder}: no manifest.json (not a clip folder written by ccl-bench)")
    rows = []
    for c in json.loads(manifest.read_text())["clips"]:
        clip = read_clip(folder / c["video"])
        rows.append((c["label"], clip_motion(clip.video, clip.fps)))
    return by_family(rows)


def sweep(checkpoint: Path, settings: list[str], num: int, seed: int, task: str = "t2av",
          device: str = "cpu") -> dict[str, dict[str, dict[str, float]]]:
    """The suite's own clips and each sampler setting's samples (`task`: t2av, or t2v for a stage-1 `streams`
    folder) of the first `num` test prompts; the noise is drawn on the CPU whatever the `device`."""
    import torch

    from ccl_bench.runner.data import encode_clips
    from ccl_bench.runner.models import codecs_for, load_trained
    from ccl_bench.runner.sample import clip_noise, read_suite_folder
    from ccl_bench.suites import build_suite, load_suite
    from reference_impl.diffusion import GuidanceScales, sample
    from reference_impl.text import text_encoder

    model, info = load_trained(checkpoint, device, None)
    spec = load_suite(info.get("suite", "av-sync"))
    rend = spec.rendering(info.get("rendering", "tiny"))
    vc, ac = codecs_for(rend)
    with tempfile.TemporaryDirectory() as tmp:
        build_suite(spec, tmp, split="test", rendering=rend.name, num=num, seed=seed, show_progress=False)
        video, audio, metas = read_suite_folder(Path(tmp), spec.name, rend, num)
    lv, la = encode_clips(video, audio, vc, ac)
    enc = text_encoder(model.cfg.text_dim, None)
    text, mask = (t.to(device) for t in enc([m["caption"] for m in metas]))
    null_text, null_mask = (t.to(device) for t in enc([""] * num))
    noise = [clip_noise(seed, i, lv.shape[1:], la.shape[1:]) for i in range(num)]  # as `ccl-bench run` draws it
    init = torch.stack([n[0] for n in noise]), torch.stack([n[1] for n in noise])
    labels = [m["label"] for m in metas]
    out = {"suite's clips": by_family([(f, clip_motion(v.numpy(), rend.fps)) for f, v in zip(labels, video, strict=True)])}
    for setting in settings:
        steps, guidance, text_scale, shift = setting.split(":")
        with torch.no_grad():
            xv, _, _ = sample(model, task, text, mask, null_text, null_mask, tuple(lv.shape), tuple(la.shape),
                              steps=int(steps), guidance=guidance, scales=GuidanceScales(text=float(text_scale)),
                              shift=float(shift), init_noise=init)
        gen = vc.decode(xv.float().cpu()).numpy()
        out[setting] = by_family([(f, clip_motion(v, rend.fps)) for f, v in zip(labels, gen, strict=True)])
    return out


def frame_strip(folders: list[Path], clip_ids: list[str], out: Path, frames: int = 16, zoom: int = 4) -> None:
    """A PNG with one row per clip and folder (in that order): its first `frames` frames side by side, `zoom`x."""
    from PIL import Image

    from ccl_bench.io.reader import read_clip

    rows = []
    for cid in clip_ids:
        for folder in folders:
            names = {c["id"]: c["video"] for c in json.loads((folder / "manifest.json").read_text())["clips"]}
            if cid not in names:
                sys.exit(f"{folder}: no clip {cid} in its manifest.json")
            video = read_clip(folder / names[cid]).video[:frames]
            rows.append(np.concatenate([np.pad(f, ((1, 1), (1, 1), (0, 0)), constant_values=128) for f in video], 1))
    width = max(r.shape[1] for r in rows)
    img = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=128) for r in rows], 0)
    Image.fromarray(img).resize((img.shape[1] * zoom, img.shape[0] * zoom), Image.NEAREST).save(out)


def table(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| clips | family | n | flicker | 2k>2k+1 | 2k+1>2k+2 | fg mass | events | kinematic frames | photometric frames |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, fams in rows.items():
        for fam, m in fams.items():
            lines.append(f"| {name} | {fam} | {m['clips']} | {m['flicker']:.2f} | {m['pairs 2k>2k+1']:.2f} "
                         f"| {m['pairs 2k+1>2k+2']:.2f} | {m['fg mass']:.2f} | {m['events']:.2f} | {m['kinematic']:.2f} "
                         f"| {m['photometric']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", type=Path, help="clip folders; the first is the reference row")
    ap.add_argument("--checkpoint", type=Path, help="sample the test prompts with this model instead")
    ap.add_argument("--settings", nargs="+", default=["25:ucg:4:3"], help="steps:guidance:text scale:shift")
    ap.add_argument("--num", type=int, default=12, help="test prompts to sample (--checkpoint)")
    ap.add_argument("--task", default="t2av", choices=["t2av", "t2v"], help="what --checkpoint samples (t2v: a stage-1 "
                    "streams folder, or any model's video alone)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="where --checkpoint samples (cpu, cuda)")
    ap.add_argument("--strip", type=Path, help="also write a PNG of the first 16 frames of --strip-clips in each folder")
    ap.add_argument("--strip-clips", default="test-00000,test-00003", help="clip ids for --strip, comma-separated")
    args = ap.parse_args()
    if args.checkpoint:
        print(table(sweep(args.checkpoint, args.settings, args.num, args.seed, args.task, args.device)))
    elif args.folders:
        from ccl_bench.paths import portable

        print(table({portable(f): read_folder(f) for f in args.folders}))
        if args.strip:
            frame_strip(args.folders, args.strip_clips.split(","), args.strip)
    else:
        ap.error("give clip folders or --checkpoint")


if __name__ == "__main__":
    main()
