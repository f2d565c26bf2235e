"""Does a trained stream read its timestep? Prints each stream's flow-matching loss on training clips noised at
their own time t, evaluated eagerly with the stream told its own t, t = 1 and t = 0 (the other stream clean).

A stream that learned the time it is given scores best told its own t. One whose training fed it another time
scores best told that one: the stage-1 video streams trained before cff11be were fed t = 1 (the absent audio's)
in every step, by a CUDA-graph capture that gave both streams one shared time tensor.

    python benchmarks/timestep_probe.py checkpoints/av-sync/campaign/runs/streams-video \\
        checkpoints/av-sync/claims/seed0/none --clips 64

Each folder holds `ema.safetensors` and `config.json`: a stage-1 run (one or both streams) or a trained model.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load(folder: Path):
    """-> (model, streams it holds) with the folder's EMA weights, eval mode, float32 on the CPU."""
    from safetensors.torch import load_file

    from ccl_bench.runner.models import load_trained
    from reference_impl.config import ModelConfig
    from reference_impl.diffusion.stages import StreamsModel, streams_in

    info = json.loads((folder / "config.json").read_text())
    if info.get("train", {}).get("stage") == "streams":  # built from the run's own config (its overrides too)
        state = {k: v.float() for k, v in load_file(str(folder / "ema.safetensors")).items()}
        fields = dict(info["model"], video_patch=tuple(info["model"]["video_patch"]))
        model = StreamsModel(ModelConfig(**fields), streams_in(state))
        model.load_state_dict(state)
    else:
        model, _ = load_trained(folder, "cpu", None)
    return model.eval(), getattr(model, "streams", ("video", "audio"))


@functools.cache
def suite_batch(clips: int, text_dim: int) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """The first `clips` av-sync training clips (data seed 0, tiny rendering) -> latents per stream, text, mask
    (made once per size and text width, however many runs are probed)."""
    from ccl_bench.runner.data import encode_clips, render_split
    from ccl_bench.runner.models import build_for_rendering
    from ccl_bench.suites import load_suite
    from reference_impl.text import WordHashEncoder

    spec = load_suite("av-sync")
    video, audio, metas = render_split(spec, "train", "tiny", clips, 0, show_progress=False)
    _, vc, ac = build_for_rendering("none", "small", spec.rendering("tiny"), {})
    x0 = dict(zip(("video", "audio"), encode_clips(video, audio, vc, ac), strict=True))
    return (x0, *WordHashEncoder(dim=text_dim)([m["caption"] for m in metas]))


def probe(model, streams, x0: dict[str, torch.Tensor], text, mask, seed: int) -> list[dict]:
    """Per stream held: loss told its own t, t = 1 and t = 0 (the other stream clean, at t = 0).
    x0: clean latents per stream `[N, ...]`; text `[N, L, D]`, mask `[N, L]`."""
    from reference_impl.diffusion.flow import interpolate, shift_timesteps

    clips = len(text)
    g = torch.Generator().manual_seed(seed)
    t = shift_timesteps(torch.rand(clips, generator=g), 3.0)  # the training draw: Wan-shifted, s = 3
    noise = {s: torch.randn(x0[s].shape, generator=g) for s in ("video", "audio")}
    rows = []
    for s in streams:
        other = "audio" if s == "video" else "video"
        x = {s: interpolate(x0[s], noise[s], t), other: x0[other]}
        row = {"stream": s}
        for label, told in (("own t", t), ("t = 1", torch.ones(clips)), ("t = 0", torch.zeros(clips))):
            times = {s: told, other: torch.zeros(clips)}
            with torch.no_grad():
                pv, pa = model(x["video"], x["audio"], times["video"], times["audio"], text, mask)
            pred = pv if s == "video" else pa
            row[label] = float(((pred.float() - (noise[s] - x0[s])) ** 2).mean())
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--clips", type=int, default=64, help="training clips (data seed 0) to score")
    ap.add_argument("--seed", type=int, default=3, help="seed of the times and noise")
    args = ap.parse_args()
    print("| run | stream | told own t | told t = 1 | told t = 0 | reads its time |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        if not (folder / "ema.safetensors").is_file() or not (folder / "config.json").is_file():
            sys.exit(f"{folder}: not a run folder (needs ema.safetensors and config.json)")
        model, streams = load(folder)
        x0, text, mask = suite_batch(args.clips, model.cfg.text_dim)
        for r in probe(model, streams, x0, text, mask, args.seed):
            best = min(("own t", "t = 1", "t = 0"), key=r.get)
            print(f"| {folder} | {r['stream']} | {r['own t']:.4f} | {r['t = 1']:.4f} | {r['t = 0']:.4f} | "
                  f"{'yes' if best == 'own t' else 'no: best told ' + best} |")


if __name__ == "__main__":
    main()
