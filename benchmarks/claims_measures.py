"""Write the claims study's model measurements (claims 1 and 2) into a run matrix.

    python benchmarks/claims_measures.py --checkpoints CK --streams STREAMS --runs results/claims/matrix [--num 64]

CK holds the stage-2 checkpoints as `CK/seed<k>/<model>/{ema.safetensors,config.json}` (what
`ccl-bench train --model M --init-from STREAMS --seed k --out CK/seed<k>/M` writes); STREAMS is the
stage-1 checkpoint every stage-2 run started from: a joined streams folder, or `VIDEO,AUDIO`, the two stage-1 runs
of one stream each (campaign-v4's `runs/streams-video,runs/streams-audio`), joined here as `--init-from` joins them.
For every seed and model it writes
    <runs>/seed<k>/measures/prediction-drift/<model>.json          claim 1, every test prompt
    <runs>/seed<k>/measures/background-audio-share/<model>.json    claim 2, background-object prompts
    <runs>/seed<k>/measures/foreground-audio-share/<model>.json
(per-example values keyed by the suite's clip ids, so models pair prompt by prompt); then
`ccl-bench claims --suite av-sync --runs <runs>` gives claims 1 and 2 their verdicts."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccl_bench.runner.data import encode_clips, render_split  # noqa: E402
from ccl_bench.runner.measures import audio_attention_shares, background_tokens, prediction_drift, write_measure  # noqa: E402
from ccl_bench.runner.models import codecs_for, load_trained  # noqa: E402
from ccl_bench.runner.train import merge_streams  # noqa: E402
from ccl_bench.suites import load_suite  # noqa: E402
from ccl_bench.suites.build import generate_scene  # noqa: E402
from ccl_bench.suites.synth import grid  # noqa: E402

BACKGROUND_FAMILY = "background-object"


def load_stage1(streams: str, device):
    """-> (stage-1 model, its config.json dict) from one joined streams folder or `VIDEO,AUDIO` stage-1 runs."""
    parts = [p.strip() for p in streams.split(",") if p.strip()]
    if len(parts) == 1:
        return load_trained(parts[0], device)
    with tempfile.TemporaryDirectory() as tmp:  # the joined weights live only as long as the loading
        return load_trained(merge_streams(parts, Path(tmp) / "streams"), device)


def held_out(spec, rendering: str, num: int, data_seed: int, text_dim: int, device):
    """The test split's first `num` prompts: latents, text embeddings, ids, and the background-object
    clips' indices with their background token masks."""
    from reference_impl.text import WordHashEncoder

    rend = spec.rendering(rendering)
    video, audio, metas = render_split(spec, "test", rendering, num, data_seed, show_progress=False)
    vc, ac = codecs_for(rend)
    lv, la = encode_clips(video, audio, vc, ac)
    text, mask = WordHashEncoder(dim=text_dim)([m["caption"] for m in metas])
    x, y = grid(rend.height, rend.width)
    bg_idx, covers = [], []
    for i, m in enumerate(metas):
        if m["label"] == BACKGROUND_FAMILY:
            scene = generate_scene(spec, "test", i, data_seed, rend.duration)
            bg_idx.append(i)
            covers.append(spec.family_table()[BACKGROUND_FAMILY].foreground(scene, x, y))
    return lv.to(device), la.to(device), text.to(device), mask.to(device), [m["id"] for m in metas], bg_idx, covers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", required=True, help="CK/seed<k>/<model>/ (stage-2 checkpoints)")
    ap.add_argument("--streams", required=True, help="the stage-1 streams checkpoint, or VIDEO,AUDIO stage-1 runs")
    ap.add_argument("--runs", required=True, help="the run matrix to write measures into")
    ap.add_argument("--models", default="ccl,ccl-no-lct,gated,ltx2", help="comma-separated")
    ap.add_argument("--suite", default="av-sync")
    ap.add_argument("--num", type=int, default=64, help="test prompts (every 5th is a background-object clip)")
    ap.add_argument("--data-seed", type=int, default=0, help="the suite's seed (as `ccl-bench run --seed`)")
    ap.add_argument("--seeds", help="comma-separated training seeds (default: every seed<k> folder)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    seeds = {int(k) for k in args.seeds.split(",")} if args.seeds else None
    spec = load_suite(args.suite)
    stage1, info1 = load_stage1(args.streams, args.device)
    data = held_out(spec, info1.get("rendering", "tiny"), args.num, args.data_seed, stage1.cfg.text_dim, args.device)
    lv, la, text, mask, ids, bg_idx, covers = data
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for seed_dir in sorted(Path(args.checkpoints).glob("seed*")):
        m = re.fullmatch(r"seed(\d+)", seed_dir.name)
        if not m:
            continue
        seed = int(m.group(1))
        if seeds is not None and seed not in seeds:
            continue
        for name in models:
            ck = seed_dir / name
            if not (ck / "ema.safetensors").is_file():
                print(f"skip {ck}: no checkpoint")
                continue
            model, _ = load_trained(ck, args.device)
            info = {"checkpoint": str(ck), "streams": str(args.streams), "suite": spec.name, "split": "test"}
            d = prediction_drift(model, stage1, lv, la, text, mask, seed=seed)
            print(f"seed {seed} {name}: prediction-drift {np.mean(d):.4g}", flush=True)
            write_measure(args.runs, seed, "prediction-drift", name, ids, d, info)
            if not bg_idx:
                continue
            grid_v = model.video_stream.patchify(lv[:1])[1]
            bg = np.stack([background_tokens(c, grid_v) for c in covers])
            try:
                s = audio_attention_shares(model, lv[bg_idx], la[bg_idx], text[bg_idx], mask[bg_idx], bg, seed=seed)
            except ValueError as exc:
                print(f"seed {seed} {name}: no attention share ({exc})")
                continue
            print(f"seed {seed} {name}: background-audio-share {s.background.mean():.4g}, "
                  f"foreground {s.foreground.mean():.4g}", flush=True)
            write_measure(args.runs, seed, "background-audio-share", name, [ids[i] for i in bg_idx], s.background, info)
            write_measure(args.runs, seed, "foreground-audio-share", name, [ids[i] for i in bg_idx], s.foreground, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
