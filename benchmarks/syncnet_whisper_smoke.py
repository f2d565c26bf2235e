"""Sync-C / Sync-D and WER end to end with full-size networks of random weights (or the released files,
with --weights-dir) on a device: S3FD over every 25 fps frame, SyncNet's offset search over a face track,
Whisper's transcription, and the time of each per clip.

Clips are synthetic (noise frames, noise audio): random S3FD weights find random "faces", so the SyncNet
scoring also runs on a fixed face box, to time it on a track of the clip's full length. The values mean
nothing with random weights; the run shows the full networks on the device. Writes `syncnet_whisper.json`.

    python benchmarks/syncnet_whisper_smoke.py --out results/syncwer --device cuda
    python benchmarks/syncnet_whisper_smoke.py --out /tmp/s --tiny        # reduced widths, CPU
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ccl_bench.features import s3fd as D
from ccl_bench.features import syncnet as S
from ccl_bench.features import whisper_wer as A
from ccl_bench.io import AVClip
from ccl_bench.profiling import timed_once

DIMS = {"tiny.en": {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
                    "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4},
        "large-v3": {"n_mels": 128, "n_audio_ctx": 1500, "n_audio_state": 1280, "n_audio_head": 20, "n_audio_layer": 32,
                     "n_vocab": 51866, "n_text_ctx": 448, "n_text_state": 1280, "n_text_head": 20, "n_text_layer": 32}}
TRANSCRIPT = "the quick brown fox jumps over the lazy dog"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=6.0, help="clip length (a face track needs over 4 s)")
    ap.add_argument("--size", default="360x640", help="frame height x width")
    ap.add_argument("--weights-dir", help="load the released files from here (default: random weights)")
    ap.add_argument("--tiny", action="store_true", help="narrow SyncNet, Whisper tiny.en with 6 tokens per window (CPU)")
    args = ap.parse_args(argv)

    dev = args.device
    h, w = (int(x) for x in args.size.split("x"))
    frames = round(args.seconds * 25)
    rng = np.random.default_rng(0)
    clip = AVClip(rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8), 25.0,
                  rng.normal(0, 0.1, (1, frames * 640)).astype(np.float32), 16000, {"transcript": TRANSCRIPT})
    torch.manual_seed(0)
    narrow = {"lip": (4, 8, 16), "aud": (4, 8, 8, 8, 8, 16), "embed": 32} if args.tiny else {}
    size = "tiny.en" if args.tiny else "large-v3"
    rows: dict = {"device": dev, "gpu": torch.cuda.get_device_name() if dev.startswith("cuda") else None,
                  "weights": args.weights_dir or "random", "frames": frames, "frame_size": [h, w]}

    # S3FD over every frame, then tracks and scores as the metric computes them
    feats = S.SyncNetFeatures(args.weights_dir, dev, widths=narrow)
    if not args.weights_dir:
        face = D.S3FD().eval().to(dev)
        feats._detector = lambda frame: D.detect(face, frame, dev)
        feats._model = S.SyncNet(**narrow).eval().to(dev)
    (res, conv), sec = timed_once(lambda: feats.compute(clip), dev)
    sec = round(sec, 3)
    rows["s3fd_pipeline"] = {"seconds": sec, "tracks": len(res["confidence"]), "confidence": res["confidence"].tolist(),
                             "distance": res["distance"].tolist(), "conversions": conv}
    # SyncNet alone on one face box held over the whole clip
    box = np.array([[w / 2 - 80, h / 2 - 80, w / 2 + 80, h / 2 + 80]])
    fixed = S.SyncNetFeatures(args.weights_dir, dev, detector=lambda frame: box, widths=narrow)
    fixed._model = feats.model
    (res, conv), sec = timed_once(lambda: fixed.compute(clip), dev)
    sec = round(sec, 3)
    rows["syncnet_fixed_box"] = {"seconds": sec, "confidence": res["confidence"].tolist(),
                                 "distance": res["distance"].tolist(), "offset": res["offset"].tolist(), "conversions": conv}
    print(json.dumps(rows["syncnet_fixed_box"]))

    # random weights decode junk: cap the tokens per 30 s window (the released weights decode uncapped)
    wer = A.WhisperWER(size, args.weights_dir, dev, sample_len=6 if args.tiny else None if args.weights_dir else 32)
    if not args.weights_dir:
        with torch.device(dev):  # built in place: large-v3 has 1.55 B parameters
            wer._model = A.build_model(DIMS[size]).float().eval()
    (res, conv), sec = timed_once(lambda: wer.compute(clip), dev)
    sec = round(sec, 3)
    rows["whisper"] = {"size": size, "seconds": sec, "hypothesis": str(res["hypothesis"][0]),
                       "errors": res["errors"].tolist(), "words": res["words"].tolist(), "conversions": conv}
    print(json.dumps(rows["whisper"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "syncnet_whisper.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {out / 'syncnet_whisper.json'}")


if __name__ == "__main__":
    main()
