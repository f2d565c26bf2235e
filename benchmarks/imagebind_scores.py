"""IB scores and JavisScore on av-sync clips with a full-size ImageBind-huge of random weights (or the
released `imagebind_huge.pth`, with --weights-dir): per clip and perturbation, each preset's cosines and the
seconds it took. With random weights the values mean nothing; the run shows the full network (1.07 B
parameters in its three branches) and every front end end to end on the device. With the released file a
swapped soundtrack should lower ib-av and javisscore below the intact clips'.

Clips are rendered in memory (native rendering: 224 x 224, 25 fps, 16 kHz, 8 s, with their captions).
Writes `imagebind_scores.json` to --out.

    python benchmarks/imagebind_scores.py --out results/imagebind --device cuda
    python benchmarks/imagebind_scores.py --out /tmp/ib --tiny          # reduced width, CPU
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch

from ccl_bench.features import imagebind as IB
from ccl_bench.metrics.learned import cosine, javis_score
from ccl_bench.profiling import timed_once
from ccl_bench.suites import load_suite, make_clip, parse_perturbation

TINY = IB.ImageBindConfig(out_dim=8, vision_dim=16, vision_depth=1, vision_heads=2, text_dim=16, text_depth=1,
                          text_heads=2, audio_dim=16, audio_depth=1, audio_heads=2)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--perturbations", default="none,offset=0.4,swap")
    ap.add_argument("--num", type=int, default=2, help="clips per perturbation")
    ap.add_argument("--weights-dir", help="load the released imagebind_huge.pth from here (default: random)")
    ap.add_argument("--tiny", action="store_true", help="reduced width and depth (the same code), for a CPU check")
    args = ap.parse_args(argv)

    cfg = TINY if args.tiny else IB.ImageBindConfig()
    torch.manual_seed(0)
    random_model = None if args.weights_dir else IB.ImageBind(cfg).eval().to(args.device)
    analyses = {p: IB.ImageBindFeatures(p, args.weights_dir, args.device, cfg=cfg) for p in IB.PRESETS}
    analyses["javisscore"] = IB.JavisScoreFeatures(args.weights_dir, args.device, cfg=cfg)
    for a in analyses.values():
        if random_model is not None:
            a._model = random_model  # random weights of the released layout; nothing to verify
    spec = load_suite("av-sync")
    rendering = spec.renderings["native"]
    rows = []
    for name in args.perturbations.split(","):
        pert = None if name == "none" else parse_perturbation(name)
        for i in range(args.num):
            clip = make_clip(spec, "test", rendering, i, 0, max(args.num, 2), pert)
            row = {"perturbation": name, "clip": i, "caption": clip.metadata.get("caption")}
            for key, a in analyses.items():
                (res, conv), seconds = timed_once(partial(a.compute, clip), args.device)
                row[f"{key}_seconds"] = round(seconds, 3)
                if key == "javisscore":
                    row["javisscore"], row["javisscore_windows"] = javis_score(res["cosines"]), list(res["cosines"].shape)
                    continue
                emb = {k: res[k][0] for k in ("video", "audio", "text") if len(res[k])}
                for metric, (x, y) in {"ib_av": ("audio", "video"), "ib_tv": ("text", "video"),
                                       "ib_ta": ("text", "audio")}.items():
                    if x in emb and y in emb:
                        row[f"{metric}@{key}"] = round(cosine(emb[x], emb[y]), 6)
                row[f"{key}_conversions"] = conv
            rows.append(row)
            print(json.dumps(row))
    params = sum(p.numel() for p in (random_model or analyses["av-benchmark"].model).parameters())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "imagebind_scores.json").write_text(json.dumps({
        "weights": "random" if random_model is not None else str(analyses["av-benchmark"].protocol.get("weights_sha256")),
        "config": vars(cfg), "parameters": params, "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        "values": "raw cosines in [-1, 1] (papers print x100)", "rows": rows}, indent=1))
    print(f"{params / 1e6:.1f} M parameters; wrote {out / 'imagebind_scores.json'}")


if __name__ == "__main__":
    main()
