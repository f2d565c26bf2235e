"""`ccl-bench train`: a reference model on a suite's training split, in the protocol's two stages.

- `stage="streams"` (stage 1): the video stream alone on T2V and/or the audio stream alone on T2A, no
  interaction. Trained once and shared by every model; two runs (one stream each, e.g. one per GPU)
  are joined into one folder by `merge_streams`.
- `stage="joint"` with `init_from` (stage 2): the named model, its streams loaded from stage 1, its
  interaction freshly initialised, trained with the cross-modal learning rate 10x the streams'.
  Without `init_from` the model trains from scratch (the old protocol).

The data are the same for every run (`data_seed`); `seed` moves initialisation and batch draws."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from ..errors import CCLBenchError
from ..paths import portable_value
from ..progress import progress
from ..provenance import provenance
from ..suites import load_suite
from .data import encode_clips, render_split
from .models import build_for_rendering

DEFAULT_CLIPS = {"tiny": 64, "small": 2048}  # training clips rendered for each model scale
DEFAULT_BATCH = {"tiny": 4, "small": 32}
# Learning rates per stage [design at small scale]: stage 1 trains streams from scratch at the rate that
# measured well (lr 5e-4, batch 128 on the H100); stage 2 keeps the paper's ratio (cross-modal 10x the
# streams; the paper: 1e-4 / 1e-5 at Wan scale) at rates a few thousand small steps can move.
STAGE_LR = {"streams": {"lr": 5e-4, "lr_cross": 5e-4}, "stage2": {"lr": 5e-5, "lr_cross": 5e-4}}
STREAM_FILES = ("ema.safetensors", "config.json")


def parse_task_mix(text: str | None) -> dict[str, float] | None:
    """`"t2av=0.6,t2v=0.1,..."` -> task probabilities; None passes through."""
    if not text:
        return None
    mix = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise CCLBenchError(f"--task-mix '{item}': use TASK=PROBABILITY, e.g. --task-mix t2av=0.6,t2v=0.4")
    return mix


def read_stage1(paths: str | Path | list, need: tuple[str, ...] | None = None
                ) -> tuple[dict[str, torch.Tensor], dict, list[str]]:
    """One folder holding both streams, or several (e.g. `video,audio` runs) -> (state dict float32 of
    the `need` streams (default both), the model config dict of stage 1, the folders). One-line errors for a
    bad folder."""
    from safetensors.torch import load_file

    from reference_impl.diffusion.stages import STREAM_FIELDS, STREAMS, streams_in

    shared = set(STREAM_FIELDS["video"]) & set(STREAM_FIELDS["audio"])  # layers, text_dim, freq_dim
    folders = [Path(p) for p in (paths.split(",") if isinstance(paths, str) else paths if isinstance(paths, list) else [paths])]
    state, model_cfg = {}, None
    for d in folders:
        missing = [f for f in STREAM_FILES if not (d / f).is_file()]
        if missing:
            raise CCLBenchError(f"--init-from {d}: not a stage-1 streams folder (missing {', '.join(missing)}); "
                                "train one with `ccl-bench train --stage streams --out DIR`")
        info = json.loads((d / "config.json").read_text())
        if info.get("train", {}).get("stage") != "streams":
            raise CCLBenchError(f"--init-from {d}: config.json says stage {info.get('train', {}).get('stage')!r}, "
                                "not 'streams' (a stage-1 run)")
        part = load_file(str(d / "ema.safetensors"))
        clash = set(part) & set(state)
        if clash:
            raise CCLBenchError(f"--init-from {d}: gives the {', '.join(streams_in(part))} stream again")
        state.update({k: v.float() for k, v in part.items()})
        # each stream's shapes come from the folder that holds it (a wider video run beside a default audio run)
        fields = {f: info["model"][f] for s in streams_in(part) for f in STREAM_FIELDS[s] if f in info["model"]}
        if model_cfg is not None:
            differ = [f for f in fields if f in model_cfg and f in shared and model_cfg[f] != fields[f]]
            if differ:
                raise CCLBenchError(f"--init-from {d}: its {differ[0]}={fields[differ[0]]} differs from "
                                    f"{model_cfg[differ[0]]} of the other stream's run")
        model_cfg = {**(model_cfg or info["model"]), **fields}
    have, need = streams_in(state), need or STREAMS
    if set(have) != set(need):
        wants = "stage 2 needs both video and audio" if set(need) == set(STREAMS) else \
            f"this stage-1 run trains the {', '.join(need)} stream"
        raise CCLBenchError(f"--init-from {','.join(map(str, folders))}: holds the {', '.join(have) or 'no'} stream(s); "
                            f"{wants}")
    return state, model_cfg, [str(d) for d in folders]


def merge_streams(parts: list[str | Path], out: str | Path) -> Path:
    """Join stage-1 runs of one stream each into one streams folder (`ema.safetensors` bf16 +
    `config.json` naming its parts and their steps)."""
    from safetensors.torch import save_file

    state, model_cfg, folders = read_stage1([Path(p) for p in parts])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in sorted(state.items())}, str(out / "ema.safetensors"))
    infos = [json.loads((Path(d) / "config.json").read_text()) for d in folders]
    merged = {**infos[0], "model": model_cfg, "streams": ["video", "audio"],
              "parts": [{"folder": portable_value(d), "streams": i.get("streams"), "steps_done": i.get("steps_done"),
                         "train": i.get("train")} for d, i in zip(folders, infos, strict=True)]}
    (out / "config.json").write_text(json.dumps(merged, indent=1, default=str))
    return out


def train(model: str, suite: str, scale: str, steps: int, out: str | Path, seed: int = 0, resume: bool = False,
          overrides: dict | None = None, rendering: str = "tiny", num_clips: int | None = None,
          batch_size: int | None = None, device: str | None = None, show_progress: bool = True,
          stage: str = "joint", streams: tuple[str, ...] = ("video", "audio"), init_from: str | None = None,
          data_seed: int = 0, text_embeddings: str | None = None, **train_fields) -> Path:
    """Train one run into `out`; train_fields are `TrainConfig` fields (lr, lr_cross, task_probs, ...)."""
    from reference_impl.checkpoints import init_from as load_init
    from reference_impl.diffusion import LatentData, TrainConfig, Trainer
    from reference_impl.diffusion.stages import (
        StreamsModel,
        check_stream_config,
        load_stage1_streams,
        stage1_task_probs,
        stream_fields,
    )
    from reference_impl.text import text_encoder

    from ..distributed import device_for, world

    out = Path(out)
    if out.exists() and (out / "checkpoint.pt").exists() and not resume:
        raise CCLBenchError(f"{out}: holds a training run already; add --resume to continue it or pick another --out")
    if stage not in ("joint", "streams"):
        raise CCLBenchError(f"--stage {stage}: use 'streams' (stage 1) or 'joint' (a model; stage 2 with --init-from)")
    # A Wan2.1 file starts the video stream (`reference_impl.init_from`); folders are stage-1 streams: stage 2
    # starts from them, and a stage-1 run continues from one (its EMA, with a fresh optimizer) to train longer.
    wan_file = init_from if init_from and Path(init_from).is_file() else None
    if stage == "streams" and wan_file:
        raise CCLBenchError(f"--init-from {init_from}: a stage-1 run continues from a stage-1 folder, not a file")
    need = tuple(s for s in ("video", "audio") if s in streams) if stage == "streams" else None
    stage1 = read_stage1(init_from, need) if init_from and not wan_file else None  # before any expensive work
    w = world()  # under torchrun: DDP (or FSDP2 at Wan scales) over the processes, batch_size global
    device = device_for(w, device)
    train_fields.setdefault("parallel", "fsdp" if scale.startswith("wan") else "ddp")
    lrs = STAGE_LR["streams"] if stage == "streams" else STAGE_LR["stage2"] if init_from else {}
    for key, value in lrs.items():
        if train_fields.get(key) is None:
            train_fields[key] = value
    train_fields = {k: v for k, v in train_fields.items() if v is not None}
    torch.manual_seed(seed)  # parameter initialisation
    spec = load_suite(suite)
    rend = spec.rendering(rendering)
    base = "none" if stage == "streams" else model
    if stage1 is not None:  # the streams keep stage 1's shapes (a --set that contradicts them is refused below)
        overrides = {**stream_fields(stage1[1]), **(overrides or {})}
    net, vc, ac = build_for_rendering(base, scale, rend, overrides or {})
    if stage == "streams":
        streams = tuple(streams)
        net = StreamsModel(net.cfg, streams)
        train_fields.setdefault("task_probs", stage1_task_probs(net.streams))
    if wan_file:
        from reference_impl.streams import CheckpointError

        try:
            load_init(net, wan_file)
        except CheckpointError as exc:
            raise CCLBenchError(f"--init-from {exc}") from None
        init_from = portable_value(wan_file)  # recorded, not read again: never the machine's folders
    elif stage1 is not None:
        state, stage1_cfg, folders = stage1
        try:
            check_stream_config(stage1_cfg, net.cfg, getattr(net, "streams", ("video", "audio")))
            load_stage1_streams(net, state)
        except ValueError as exc:
            raise CCLBenchError(f"--init-from {','.join(folders)}: {exc}") from None
        init_from = ",".join(portable_value(f) for f in folders)  # as recorded: relative to the working directory
    n = num_clips or DEFAULT_CLIPS.get(scale, 256)
    video, audio, metas = render_split(spec, "train", rendering, n, data_seed, show_progress)
    lv, la = encode_clips(video, audio, vc, ac)
    try:
        enc = text_encoder(net.cfg.text_dim, text_embeddings)
        text, mask = enc([m["caption"] for m in metas])
        null_text, null_mask = enc([""])
    except (FileNotFoundError, ValueError) as exc:
        raise CCLBenchError(f"--text-embeddings {exc}") from None
    data = LatentData(lv, la, text, mask, null_text, null_mask)
    cfg = TrainConfig(steps=steps, seed=seed, batch_size=batch_size or DEFAULT_BATCH.get(scale, 16), stage=stage,
                      init_from=init_from, **train_fields)
    meta = {"suite": spec.name, "rendering": rend.name, "scale": scale, "name": "streams" if stage == "streams" else model,
            "train_clips": n, "data_seed": data_seed, "video_codec": vc.to_dict(), "audio_codec": ac.to_dict(),
            "text_encoder": enc.describe() if text_embeddings else {"kind": "word-hash", "dim": enc.dim, "max_len": enc.max_len},
            "device": str(device),
            "processes": w.size,
            # where the weights came from: commit, versions, the command, and the card it ran on
            "provenance": provenance(seed, extra={"device_name": torch.cuda.get_device_name(device)
                                                  if str(device).startswith("cuda") else platform.processor() or "cpu",
                                                  "started": "resumed" if resume else "fresh"})}
    if stage == "streams":
        meta["streams"] = list(net.streams)
    trainer = Trainer(net, data, cfg, out, device=device, meta=meta)
    label = f"streams ({', '.join(net.streams)})" if stage == "streams" else model
    with progress(show_progress and w.main) as bar:
        task = bar.add_task(f"train {label} ({scale})", total=steps)

        def tick(record):
            if isinstance(record["loss"], float):  # a logged step (others carry no host copy of the loss)
                bar.update(task, description=f"train {label} loss {record['loss']:.4f}")
            bar.update(task, completed=record["step"])

        trainer.fit(resume=resume, on_step=tick)
    if w.main:
        (out / "train_command.json").write_text(json.dumps(
            {"model": model, "suite": suite, "scale": scale, "steps": steps, "seed": seed, "overrides": overrides or {},
             "processes": w.size, "stage": stage, "streams": list(streams) if stage == "streams" else None,
             "init_from": init_from, "data_seed": data_seed,
             "train_fields": {k: v for k, v in train_fields.items() if k != "parallel"}}, indent=1, default=str))
    return out
