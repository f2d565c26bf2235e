"""Train the suite-native encoders (protocol `ccl-avsync-features-v1`) on the av-sync `train` split of
the `tiny` rendering, save their weights, and record their held-out accuracy on the `test` split.

    python benchmarks/train_avsync_features.py --threads 2 \
        --out ccl_bench/features/weights --results results/features

Writes `<out>/avsync_{video,audio}_encoder.safetensors` and `<results>/avsync-encoders.json` (+ `.md`)
with the accuracies per head on clean test clips, on the same clips through the models' codecs (what
the `ceiling` row shows), on degraded copies (noise, blockiness, blur, shifts) and on the `native`
rendering (224 x 224, 25 fps, 8 s: read as four 2 s windows). The weights' SHA-256 printed at the end
go into `ccl_bench/weights.py` (REGISTRY), which refuses any other file. Deterministic by seed."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ccl_bench import weights as W
from ccl_bench.features import avsync_encoders as E
from ccl_bench.runner import avsync_training as T
from ccl_bench.runner.data import render_split
from ccl_bench.suites import load_suite


def native_inputs(spec, num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """The first `num` test clips at the native rendering, through the encoders' preprocessing
    -> video `[num, 4, 3, 32, 32, 32]`, audio `[num, 4, 32000]`, metadata (count masked: 8 s of events)."""
    from ccl_bench.features import mono_at
    from ccl_bench.suites import make_clip

    rend = spec.rendering("native")
    vids, auds, metas = [], [], []
    for i in range(num):
        clip = make_clip(spec, "test", rend, i, seed, num)
        vids.append(E.video_input(clip.video, clip.fps)[0])
        auds.append(E.audio_input(mono_at(clip, E.RATE, []))[0])
        metas.append({"label": clip.metadata["label"], "caption": clip.metadata["caption"], "events": None})
    return torch.stack(vids), torch.stack(auds), metas


@torch.no_grad()
def predict_windows(model, x: torch.Tensor, modality: str) -> dict[str, np.ndarray]:
    """Windowed inputs `[N, W, ...]` -> predictions from the windows' mean logits (as the metric reads a clip)."""
    out = {h: [] for h in E.HEADS[modality]}
    for clip in x:
        _, logits = model(clip)
        for h in out:
            out[h].append(int(logits[h].mean(0).argmax()))
    return {h: np.array(v) for h, v in out.items()}


def git_commit() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() if r.returncode == 0 else None
    except OSError:
        return None


def markdown(rec: dict) -> str:
    lines = ["# Suite-native encoders (`ccl-avsync-features-v1`): held-out accuracy", "",
             f"Command: `{rec['command']}`  ", f"Commit {rec['provenance']['commit']}, {rec['provenance']['date_utc']}, "
             f"seed {rec['settings']['seed']}, torch {rec['provenance']['torch']}, {rec['provenance']['threads']} CPU threads, "
             f"{rec['provenance']['seconds']:.0f} s.", "",
             "| encoder | params | weights sha256 | test condition | clips | family | colour | pitch | count |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in ("video", "audio"):
        enc = rec["encoders"][m]
        for cond, acc in enc["test"].items():
            cells = [f"{acc[h]['accuracy']:.3f} ({acc[h]['clips']})" if h in acc and acc[h]["accuracy"] is not None else "-"
                     for h in ("family", "colour", "pitch", "count")]
            lines.append(f"| {m} | {enc['params']:,} | `{enc['sha256'][:16]}` | {cond} | {acc['family']['clips']} | "
                         + " | ".join(cells) + " |")
    lines += ["", "Accuracy (labelled clips). Chance: family 0.2, colour 0.125, pitch 0.5, count 0.2. `codec`: the test "
              "clips through the reference models' codecs (video: the pixel codec is lossless; audio: log-mel and "
              "Griffin-Lim); `degraded`: the training augmentations at a fixed seed; `native`: 224 x 224, 25 fps, 8 s "
              "clips read as four 2 s windows (count not scored: the 8 s clip's events are not the window's).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-clips", type=int, default=2048)
    ap.add_argument("--test-clips", type=int, default=500)
    ap.add_argument("--native-clips", type=int, default=25, help="test clips also read at the native rendering")
    ap.add_argument("--codec-clips", type=int, default=512, help="train clips whose audio also goes through the codec")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="ccl_bench/features/weights", help="folder for the weights files")
    ap.add_argument("--results", default="results/features", help="folder for avsync-encoders.json/.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    spec = load_suite("av-sync")
    video, audio, metas = render_split(spec, "train", "tiny", args.train_clips, args.seed, show_progress=False)
    print(f"rendered {len(metas)} train clips ({time.perf_counter() - start:.0f} s)", flush=True)
    # Griffin-Lim is slow on a CPU: the first --codec-clips clips get a codec copy, the rest their own.
    codec_audio = audio.clone()
    codec_audio[: args.codec_clips] = T.codec_round_trip(audio[: args.codec_clips])
    print(f"codec round trip of {min(args.codec_clips, len(audio))} train clips ({time.perf_counter() - start:.0f} s)",
          flush=True)
    tv, ta, tmetas = render_split(spec, "test", "tiny", args.test_clips, args.seed, show_progress=False)
    t_codec = T.codec_round_trip(ta)
    nv, na, nmetas = native_inputs(spec, args.native_clips, args.seed) if args.native_clips else (None, None, [])
    out, res = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    res.mkdir(parents=True, exist_ok=True)
    rec = {"protocol": E.PROTOCOL, "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
           "settings": {k: v for k, v in vars(args).items() if k not in ("out", "results")}, "encoders": {}}
    g = torch.Generator().manual_seed(args.seed + 1)
    for m in ("video", "audio"):
        heads = E.HEADS[m]
        labels = T.label_tensor(metas, heads)
        inputs = {"video": video} if m == "video" else {"audio": audio, "codec": codec_audio}
        model, log = T.train_encoder(m, inputs, labels, args.epochs, args.batch, args.lr, args.seed,
                                     log=lambda s: print(s, flush=True))
        path = out / W.lookup(E.WEIGHTS[m]).filename
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path),
                  metadata={"protocol": E.PROTOCOL, "modality": m, "seed": str(args.seed)})
        sha = W.sha256_of(path)
        # Score what was saved, loaded back as the metric loads it.
        from safetensors.torch import load_file

        shipped = E.ENCODERS[m]()
        shipped.load_state_dict(load_file(str(path)))
        shipped.eval()
        tl = T.label_tensor(tmetas, heads)
        test = {"clean": T.accuracy(T.predict(shipped, tv if m == "video" else ta, m), tl)}
        if m == "audio":
            test["codec"] = T.accuracy(T.predict(shipped, t_codec, m), tl)
        degraded = (T.augment_video(E.video_batch(tv), g) if m == "video" else T.augment_audio(ta, t_codec, g))
        with torch.no_grad():
            _, logits = shipped(degraded)
        test["degraded"] = T.accuracy({h: logits[h].argmax(1).numpy() for h in heads}, tl)
        if nmetas:
            test["native"] = T.accuracy(predict_windows(shipped, nv if m == "video" else na, m),
                                        T.label_tensor(nmetas, heads))
        rec["encoders"][m] = {"file": path.name, "sha256": sha, "bytes": path.stat().st_size,
                              "params": E.count_params(shipped), "train": {"steps": log.steps, "first_loss": log.first_loss,
                                                                           "last_loss": log.last_loss, "seconds": log.seconds},
                              "test": test}
        summary = {c: {h: a["accuracy"] for h, a in t.items()} for c, t in test.items()}
        print(f"{m}: {path} sha256 {sha}; test {json.dumps(summary)}", flush=True)
    rec["provenance"] = {"commit": git_commit(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "torch": torch.__version__, "numpy": np.__version__, "threads": args.threads, "device": "cpu",
                         "seconds": time.perf_counter() - start}
    (res / "avsync-encoders.json").write_text(json.dumps(rec, indent=1))
    (res / "avsync-encoders.md").write_text(markdown(rec))
    print(f"wrote {res / 'avsync-encoders.json'} (+ .md); pin in ccl_bench/weights.py: "
          + ", ".join(f"{E.WEIGHTS[m]} sha256={rec['encoders'][m]['sha256']}" for m in ("video", "audio")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
