"""Load a Wan2.1 T2V checkpoint into a `VideoStream` and report which keys were used, missing and
unexpected. Accepts safetensors or torch pickles (`.pth`/`.pt`/`.bin`, read with weights_only=True),
nested under `state_dict`/`model`/`module` or not, with or without a key prefix (`model.`, `video.`,
`model.diffusion_model.`, ...): the prefix is found from `patch_embedding.weight`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

ANCHOR = "patch_embedding.weight"


@dataclass
class LoadReport:
    path: str
    prefix: str
    used: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "name: file shape vs model shape"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        return (f"{self.path}: prefix '{self.prefix}', {len(self.used)} used, {len(self.missing)} missing, "
                f"{len(self.unexpected)} unexpected, {len(self.mismatched)} shape mismatches")


class CheckpointError(ValueError):
    pass


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a state dict ({type(obj).__name__})")
    return obj


def find_prefix(keys, anchor: str = ANCHOR) -> str:
    hits = sorted((k[: -len(anchor)] for k in keys if k.endswith(anchor)), key=len)
    if not hits:
        raise CheckpointError(f"no '{anchor}' key: not a Wan2.1 DiT checkpoint")
    return hits[0]


def load_wan_checkpoint(stream: nn.Module, source: str | Path | dict, strict: bool = True) -> LoadReport:
    """Copy the Wan2.1 weights of `source` (a file or a state dict) into `stream`.

    strict: raise `CheckpointError` (listing the keys) unless every Wan key of the stream is in the file
    with its shape and the file holds nothing else under the prefix. Streams on the `meta` device get
    the file's tensors assigned (no copy)."""
    state = source if isinstance(source, dict) else read_state_dict(source)
    report = LoadReport(path="<state dict>" if isinstance(source, dict) else str(source), prefix=find_prefix(state))
    own = stream.state_dict()
    picked = {}
    for key, value in state.items():
        if not key.startswith(report.prefix):
            report.unexpected.append(key)
            continue
        name = key[len(report.prefix):]
        if name not in own:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(own[name].shape):
            report.mismatched.append(f"{name}: {tuple(value.shape)} vs {tuple(own[name].shape)}")
        else:
            picked[name] = value
    report.used = sorted(picked)
    report.missing = sorted(set(own) - set(picked) - {m.split(":")[0] for m in report.mismatched})
    if strict and not report.ok:
        detail = "; ".join(f"{k}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}"
                           for k, v in (("missing", report.missing), ("unexpected", report.unexpected),
                                        ("mismatched", report.mismatched)) if v)
        raise CheckpointError(f"{report.summary()} ({detail})")
    on_meta = any(p.is_meta for p in stream.parameters())
    stream.load_state_dict(picked, strict=False, assign=on_meta)
    return report
