"""Per-clip analysis results of one clip set: in memory (`SetResults`) and on disk (`per_clip.npz`
beside the clips, what `ccl-bench compare` pairs prompt by prompt)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.clipset import ClipItem
from ..paths import atomic_write


@dataclass
class SetResults:
    """Per-clip results of each analysis for one clip set (clips that failed are left out)."""

    ids: list[str] = field(default_factory=list)
    items: list[ClipItem] = field(default_factory=list)
    results: dict[str, list[dict]] = field(default_factory=dict)  # analysis -> one dict of arrays per kept clip
    excluded: list[dict] = field(default_factory=list)  # {"path", "fault"} of each clip left out
    conversions: dict[str, Counter] = field(default_factory=dict)  # analysis (and "decode") -> what was converted, how often
    warnings: list[dict] = field(default_factory=list)  # {"path", "warning"}: evaluated, but worth a look


def save_results(res: SetResults, path: str | Path, keep_other_analyses: bool = False) -> Path:
    """Per-clip analysis results to one `.npz` (keys `analysis|clip id|array`), for paired comparisons.
    keep_other_analyses: an existing file's analyses that `res` does not hold stay (a reference set that
    several tasks evaluate, each with the analyses its metrics need)."""
    arrays = {f"{kind}|{cid}|{key}": value for kind, per_clip in res.results.items()
              for cid, r in zip(res.ids, per_clip, strict=True) for key, value in r.items()}
    if keep_other_analyses and Path(path).is_file():
        old = load_results(path)
        arrays = {**{f"{kind}|{cid}|{key}": v for kind, by_clip in old.items() if kind not in res.results
                     for cid, r in by_clip.items() for key, v in r.items()}, **arrays}
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_results(path: str | Path) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """-> {analysis: {clip id: {array name: array}}}."""
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    with np.load(path) as z:
        for k in z.files:
            kind, cid, key = k.split("|")
            out.setdefault(kind, {}).setdefault(cid, {})[key] = z[k]
    return out
