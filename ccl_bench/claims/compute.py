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
    """Every record of every profiler JSON under `folder`, in the order `quantity` prefers them: the default
    clip before the variants (a record marked `variant`, or a `<scale>-<mode>-<variant>.json` file such as
    `-1000-audio-tokens`), and within each, the newest run first (its provenance `date_utc`), so a measurement
    repeated at a later commit replaces the earlier one, as in benchmarks/compute.py's tables."""
    folder = Path(folder)
    rows = []
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            d = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        if not (isinstance(d, dict) and isinstance(d.get("records"), list)):
            continue
        date = str((d.get("provenance") or {}).get("date_utc") or "")
        variant_file = f.stem.startswith("wan-") and not f.stem.endswith(("-train", "-sample"))
        for r in d["records"]:
            if isinstance(r, dict) and "model" in r and "mode" in r:
                rows.append((bool(r.get("variant")) or variant_file, date, f, r))
    rows.sort(key=lambda t: t[1], reverse=True)  # newest first; stable within a run
    return [(f, r) for variant, _, f, r in sorted(rows, key=lambda t: t[0])]


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
