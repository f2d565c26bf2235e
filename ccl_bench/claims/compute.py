"""Claim 7: each model's training and sampling cost, read from the profiler records
(`ccl-bench profile --out results/compute/<scale>-<mode>.json`; benchmarks/compute.py)."""

from __future__ import annotations

import json
from pathlib import Path

# quantity -> (profiler mode, how to read it from a record)
QUANTITIES = {
    "flops_per_clip": ("sample", lambda r: r["flops_guided_step"] * r["sampling_steps"]),
    "sec_per_clip": ("sample", lambda r: r["sec_per_clip"]),
    "flops_fwd_train": ("train", lambda r: r["flops_fwd"]),
    "step_ms_train": ("train", lambda r: r["step_ms"]),
    "peak_mem_gb_train": ("train", lambda r: r["peak_mem_gb"]),
}


def load_records(folder: str | Path) -> list[tuple[Path, dict]]:
    """Every record of every profiler JSON under `folder`; `<scale>-<mode>.json` files first (the
    default clip), then the variants (e.g. `-1000-audio-tokens`), and within that order records marked
    as a `variant` (benchmarks/compute.py's one file per run) after the others, so the default wins a tie."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    plain = [f for f in files if f.stem.count("-") <= 2 and f.stem.endswith(("-train", "-sample"))]
    out = []
    for f in plain + [f for f in files if f not in plain]:
        try:
            d = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict) and isinstance(d.get("records"), list):
            out += [(f, r) for r in d["records"] if isinstance(r, dict) and "model" in r and "mode" in r]
    return sorted(out, key=lambda fr: bool(fr[1].get("variant")))  # stable: file order kept otherwise


def quantity(records: list[tuple[Path, dict]], model: str, scale: str, name: str,
             guidance: str | None) -> tuple[float, Path] | None:
    """The first record of `model` at `scale` giving `name` (sampling: with `guidance`), or None."""
    if name not in QUANTITIES:
        raise KeyError(f"unknown compute quantity '{name}' (known: {', '.join(QUANTITIES)})")
    mode, read = QUANTITIES[name]
    for path, r in records:
        if r["model"] != model or r.get("scale") != scale or r["mode"] != mode or r.get("status") == "oom":
            continue
        if mode == "sample" and guidance is not None and r.get("guidance") != guidance:
            continue
        try:
            return float(read(r)), path
        except (KeyError, TypeError):
            continue
    return None
