"""`init_from(model, path)`: start a model (or some of its streams) from weights on disk, deciding
from what the path is:

- a Wan2.1 DiT file (`.safetensors`, `.pth`, `.pt`, `.bin`; keys `patch_embedding.weight`, ... under any
  prefix): the video stream, through `load_wan_checkpoint` (strict: every Wan key, nothing else);
- a `ccl-bench train` folder (its `ema.safetensors`), or several comma-separated: the streams it holds
  (`video_stream.*`, `audio_stream.*`) and, where it was trained with the same interaction, the
  interaction too (the whole model);
- a state-dict file with `video_stream.*` / `audio_stream.*` keys: as a folder's weights.

Everything not loaded keeps its initialisation. Errors are `CheckpointError`, one line naming the path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .streams.wan_loader import CheckpointError, find_prefix, load_wan_checkpoint, read_state_dict

PARTS = {"video": "video_stream.", "audio": "audio_stream.", "interaction": "interactions."}


@dataclass
class InitReport:
    source: str
    kind: str  # "wan2.1" | "ccl-bench"
    loaded: dict[str, int] = field(default_factory=dict)  # part -> tensors loaded

    def summary(self) -> str:
        parts = ", ".join(f"{k} ({n} tensors)" for k, n in self.loaded.items())
        return f"{self.source}: {self.kind}, loaded {parts}"


def _files(path: str) -> list[Path]:
    out = []
    for p in (Path(s.strip()) for s in str(path).split(",") if s.strip()):
        if p.is_dir():
            f = p / "ema.safetensors"
            if not f.is_file():
                raise CheckpointError(f"{p}: a folder to start from needs ema.safetensors (a `ccl-bench train` output)")
            out.append(f)
        elif p.is_file():
            out.append(p)
        else:
            raise CheckpointError(f"{p}: no such file or folder to start from")
    if not out:
        raise CheckpointError(f"'{path}': nothing to start from")
    return out


def _is_dual_stream(state: dict) -> bool:
    return any(k.startswith((PARTS["video"], PARTS["audio"])) for k in state)


def init_from(model: nn.Module, path: str | Path) -> InitReport:
    """Load what `path` holds into `model` (a `DualStreamModel`, or anything with `video_stream` /
    `audio_stream`) in place -> which parts were loaded."""
    files = _files(str(path))
    states = [read_state_dict(f) for f in files]
    if len(states) == 1 and not _is_dual_stream(states[0]):
        try:
            find_prefix(states[0])
        except CheckpointError:
            raise CheckpointError(f"{files[0]}: neither a Wan2.1 DiT checkpoint nor ccl-bench weights "
                                  "(no patch_embedding.weight, no video_stream.* / audio_stream.* keys)") from None
        report = load_wan_checkpoint(model.video_stream, states[0])
        return InitReport(str(path), "wan2.1", {"video": len(report.used)})
    own = model.state_dict()
    merged: dict[str, torch.Tensor] = {}
    for f, st in zip(files, states, strict=True):
        if not _is_dual_stream(st):
            raise CheckpointError(f"{f}: holds no video_stream.* / audio_stream.* weights")
        clash = set(st) & set(merged)
        if clash:
            raise CheckpointError(f"{f}: gives {sorted(clash)[0]} again")
        merged.update(st)
    loaded = {}
    for part, prefix in PARTS.items():
        given = {k: v for k, v in merged.items() if k.startswith(prefix)}
        if not given:
            continue
        wanted = {k for k in own if k.startswith(prefix)}
        missing, foreign = sorted(wanted - set(given)), sorted(set(given) - wanted)
        if part == "interaction" and (missing or foreign):
            continue  # another interaction (e.g. stage-1 streams into any model): its streams only
        if missing or foreign:
            raise CheckpointError(f"{path}: the {part} stream does not fit this model (missing {missing[:3]}, "
                                  f"unexpected {foreign[:3]})")
        for k, v in given.items():
            if v.shape != own[k].shape:
                raise CheckpointError(f"{path}: {k} has shape {tuple(v.shape)}, the model {tuple(own[k].shape)}")
        with torch.no_grad():
            for k, v in given.items():
                own[k].copy_(v.to(own[k].dtype))
        loaded[part] = len(given)
    return InitReport(str(path), "ccl-bench", loaded)
