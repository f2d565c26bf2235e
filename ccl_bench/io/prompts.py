"""Prompt records for clips that carry no manifest: a sidecar CSV or JSONL (`id,caption[,transcript][,category]`),
or a benchmark's own prompt files read by its suite (`ccl_bench/suites`). One record per clip id; the clip whose
file stem is the id gets its caption, transcript and category."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import CCLBenchError

FIELDS = ("id", "caption", "transcript", "category")


@dataclass(frozen=True)
class Prompt:
    id: str  # the clip's file stem
    caption: str
    transcript: str | None = None  # the words spoken (speech metrics: wer)
    category: str | None = None  # the benchmark's category, for the per-category breakdown

    def text(self) -> dict[str, str]:
        """The `ClipItem.text` mapping: the text fields this prompt has."""
        return {k: v for k, v in (("caption", self.caption), ("transcript", self.transcript)) if v}


def _record(path: Path, where: str, row: dict) -> Prompt:
    if not isinstance(row, dict):
        raise CCLBenchError(f"{path}: {where}: not an object with id and caption")
    clean = {k: (str(v).strip() if v is not None else "") for k, v in row.items() if k is not None}
    for key in ("id", "caption"):
        if not clean.get(key):
            raise CCLBenchError(f"{path}: {where}: no {key} (each record needs id and caption)")
    return Prompt(clean["id"], clean["caption"], clean.get("transcript") or None, clean.get("category") or None)


def read_prompts(path: str | Path) -> dict[str, Prompt]:
    """Read a prompt table -> {id: Prompt}. `.csv` needs a header row with `id` and `caption` (other columns:
    `transcript`, `category`; unknown columns are ignored); `.jsonl` holds one JSON object per line. Ids are
    unique; every fault is one line naming the file, the line and the fault."""
    p = Path(path)
    if not p.is_file():
        raise CCLBenchError(f"{p}: prompt file not found")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CCLBenchError(f"{p}: not UTF-8 text") from None
    records: list[Prompt] = []
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [k for k in ("id", "caption") if k not in (reader.fieldnames or [])]
        if missing:
            raise CCLBenchError(f"{p}: the header row lacks {', '.join(missing)} (expected {','.join(FIELDS)})")
        records = [_record(p, f"line {i}", row) for i, row in enumerate(reader, start=2)]
    elif p.suffix.lower() == ".jsonl":
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CCLBenchError(f"{p}: line {i}: not valid JSON ({exc.msg})") from None
            records.append(_record(p, f"line {i}", row))
    else:
        raise CCLBenchError(f"{p}: prompts must be .csv or .jsonl (columns {','.join(FIELDS)})")
    out: dict[str, Prompt] = {}
    for r in records:
        if r.id in out:
            raise CCLBenchError(f"{p}: id {r.id!r} appears twice")
        out[r.id] = r
    if not out:
        raise CCLBenchError(f"{p}: no prompts")
    return out
