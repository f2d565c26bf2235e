"""On-disk cache of per-clip results, keyed by the clip's content and the analysis' protocol.

`<root>/<cache_id>/<content hash>.npz`: the content hash is the SHA-256 of the clip's bytes (video
file, plus its sidecar audio), never its name; `cache_id` carries the protocol and weights checksum.
Entries are written to a temporary file and renamed, so a killed run leaves no half entry, and
several processes may write the same entry (the last rename wins; the contents are equal)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..paths import atomic_write


def content_hash(*paths: str | Path | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p is None:
            continue
        with Path(p).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


class FeatureCache:
    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root else None

    def path(self, cache_id: str, key: str) -> Path | None:
        return None if self.root is None else self.root / cache_id / f"{key}.npz"

    def get(self, cache_id: str, key: str) -> dict[str, np.ndarray] | None:
        p = self.path(cache_id, key)
        if p is None or not p.is_file():
            return None
        try:
            with np.load(p) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):  # unreadable entry: recompute it
            return None

    def put(self, cache_id: str, key: str, arrays: dict[str, np.ndarray]) -> None:
        p = self.path(cache_id, key)
        if p is None:
            return
        atomic_write(p, lambda tmp: np.savez(tmp, **arrays))
