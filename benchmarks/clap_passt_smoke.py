"""fad-clap, clap-score and fd-passt end to end with full-size networks of random weights (or the released
files, with --weights-dir) on a device: LAION-CLAP HTSAT-tiny over fadtk's 10 s windows, HTSAT-base +
RoBERTa-base for the caption score, PaSST-S over one 10 s input; the time of each per clip, and for one clip
the device's embeddings against the same networks on the CPU in float32 (a device-specific fault shows there).

Clips are synthetic (noise, 8 s at 16 kHz, as the av-sync suite's native rendering); with random weights the
values mean nothing, the run shows the full networks on the device. Writes `clap_passt.json`.

    python benchmarks/clap_passt_smoke.py --out results/clap --device cuda
    python benchmarks/clap_passt_smoke.py --out /tmp/c --tiny          # reduced depth, CPU
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ccl_bench.features import clap as C
from ccl_bench.features import passt as P
from ccl_bench.features import roberta as R
from ccl_bench.io import AVClip
from ccl_bench.profiling import timed_once

CAPTION = "a dog barks twice while rain falls on a tin roof"


def byte_tokenizer() -> R.ByteLevelBPE:
    """RoBERTa's special tokens and the 256 byte characters, no merges: a valid tokenizer of the same code."""
    table = R.byte_characters()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{table[b]: 4 + b for b in range(256)}}
    return R.ByteLevelBPE(vocab, {})


def random_features(kind: str, device: str, tiny: bool, seed: int = 0):
    """An analysis holding random weights in place of a file (same code path after loading)."""
    torch.manual_seed(seed)
    if kind == "passt":
        feats = P.PaSSTFeatures(device=device, cfg=P.PaSSTConfig(depth=1) if tiny else None)
        model = P.PaSST(feats.cfg)
    else:
        preset = C.PRESETS[kind]
        text = R.RobertaConfig(layers=1) if tiny else None
        audio = C.HTSATConfig(depths=(2, 2, 2, 2)) if tiny else None
        feats = C.ClapFeatures(kind, device=device, text=text, audio=audio)
        model = C.build_clap(preset, text, audio)
        model.audio_branch.init_front_end()
        feats.tokenizer = byte_tokenizer()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
    feats._model = model.eval().to(device)
    return feats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--weights-dir", default=None, help="use the released files from this folder")
    ap.add_argument("--tiny", action="store_true", help="reduced depth (CPU test scale)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    clips = [AVClip(np.zeros((2, 8, 8, 3), np.uint8), 25, rng.normal(0, 0.1, (1, 8 * 16000)).astype(np.float32), 16000,
                    {"caption": CAPTION}) for _ in range(args.clips)]
    report = {"device": args.device, "torch": torch.__version__, "weights": "released" if args.weights_dir else "random",
              "tiny": args.tiny, "clips": args.clips, "clip_s": 8.0, "analyses": {}}
    if args.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(0)
    for kind in ("fadtk-audio", "av-benchmark", "passt"):
        if args.weights_dir:
            feats = (P.PaSSTFeatures(args.weights_dir, args.device) if kind == "passt"
                     else C.ClapFeatures(kind, args.weights_dir, args.device))
            feats.load()
        else:
            feats = random_features(kind, args.device, args.tiny)
        key = "features" if kind in ("fadtk-audio", "passt") else "score"
        feats.compute(clips[0])  # warm-up
        times, shapes = [], None
        for c in clips:
            out, dt = timed_once(lambda c=c, f=feats, k=key: f.compute(c)[0][k], args.device)
            times.append(dt)
            shapes = list(out.shape)
        entry = {"s_per_clip_median": float(np.median(times)), "s_per_clip": times, "output_shape": shapes,
                 "protocol": feats.protocol.get("name")}
        if args.device != "cpu":  # the same weights on the CPU, float32
            dev_out = feats.compute(clips[0])[0][key]
            feats._model = feats._model.to("cpu")
            feats.device = "cpu"
            cpu_out = feats.compute(clips[0])[0][key]
            entry["max_abs_diff_vs_cpu"] = float(np.max(np.abs(dev_out - cpu_out)))
        report["analyses"][kind] = entry
        print(kind, json.dumps(entry)[:300], flush=True)
        feats = None  # free the device before the next network
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clap_passt.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
