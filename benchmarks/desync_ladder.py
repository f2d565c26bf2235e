"""DeSync on the av-sync offset ladder with a full-size Synchformer of random weights (or the released
one, with --weights-dir): every preset's windows and offsets per clip, and the time per clip.

Clips are rendered in memory (native rendering: 224 x 224, 25 fps, 16 kHz, 8 s), audio delayed by each
offset of the ladder. With random weights the offsets mean nothing; the run shows the full network and
every preset's windows end to end. Writes `desync_ladder.json` to --out.

    python benchmarks/desync_ladder.py --out results/desync --device cuda
    python benchmarks/desync_ladder.py --out /tmp/d --tiny          # reduced width, CPU, seconds
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch

from ccl_bench.features import synchformer as S
from ccl_bench.profiling import timed_once
from ccl_bench.suites import load_suite, make_clip, parse_perturbation


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--offsets", default="0,0.2,0.4,-0.4,1.0")
    ap.add_argument("--num", type=int, default=2, help="clips per offset")
    ap.add_argument("--weights-dir", help="load the released synchformer_state_dict.pth from here (default: random)")
    ap.add_argument("--tiny", action="store_true", help="reduced width and depth (the same code), for a CPU check")
    args = ap.parse_args(argv)

    cfg = S.SynchformerConfig(dim=16, video_depth=1, video_heads=2, audio_depth=1, audio_heads=2, mlp_ratio=2,
                              global_layers=1, global_heads=2) if args.tiny else S.SynchformerConfig()
    torch.manual_seed(0)
    random_model = None if args.weights_dir else S.Synchformer(cfg).eval().to(args.device)
    spec = load_suite("av-sync")
    rendering = spec.renderings["native"]
    rows = []
    for preset in S.PRESETS:
        feats = S.DeSyncFeatures(preset, args.weights_dir, args.device, cfg=cfg)
        if random_model is not None:
            feats._model = random_model  # random weights of the released layout; nothing to verify
        for off in (float(x) for x in args.offsets.split(",")):
            for i in range(args.num):
                clip = make_clip(spec, "test", rendering, i, 0, args.num, parse_perturbation(f"offset={off}"))
                (res, conv), seconds = timed_once(partial(feats.compute, clip), args.device)
                rows.append({"preset": preset, "offset_s": off, "clip": i, "offsets": res["offsets"].tolist(),
                             "windows": res["windows"].tolist(), "conversions": conv,
                             "seconds": round(seconds, 3)})
                print(json.dumps(rows[-1]))
    params = sum(p.numel() for p in (random_model or feats.model).parameters())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "desync_ladder.json").write_text(json.dumps({
        "weights": "random" if random_model is not None else str(feats.protocol.get("weights_sha256")),
        "config": vars(cfg), "parameters": params, "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        "decoder": "in-memory render (no decoding)", "rows": rows}, indent=1))
    print(f"{params / 1e6:.1f} M parameters; wrote {out / 'desync_ladder.json'}")


if __name__ == "__main__":
    main()
