"""Reference features from a file instead of reference clips (`ccl-bench eval --ref FILE`), for the
distribution metrics (FVD, KVD, FAD, FD-PANNs, avsync-fvd/fad): a benchmark whose real clips are not
redistributed ships the features of its real clips instead.

Two forms are read:

- **ccl-bench reference features** (`.npz`, written by `ccl-bench eval --ref DIR --save-ref-features FILE`;
  `numpy.load(FILE)` reads it, no pickle):
  | key                 | array                  | meaning                                                    |
  |---------------------|------------------------|------------------------------------------------------------|
  | `header`            | 0-d str                | JSON: see below                                            |
  | `ids`               | `[N]` str              | the reference clips' ids, in order                         |
  | `labels`            | `[N]` str              | each clip's category / scene family (`""`: none)           |
  | `features/<kind>`   | `[R, D]` float64       | the analysis `<kind>`'s feature rows of every clip, in order|
  | `rows/<kind>`       | `[N]` int64            | how many of those rows each clip has (VGGish: one per 0.96 s)|
  The header: `{"format": "ccl-bench-reference-features", "format_version": 1, "ccl_bench": version, "clips": N,
  "source": the folder (portable), "decoder", "date_utc", "commit", "analyses": {<kind>: {"name", "protocol"
  (preset constants and `weights_sha256`), "metrics": [metric names it serves], "rows": R, "dim": D}}}`.
  `<kind>` is a metric's `analysis` (`ccl-bench list metrics`): `i3d`, `vggish`, `panns`, `avsync-video`, ...

- **JavisBench's FVD/FAD cache** (`.pt`, e.g. `JavisBench-vanilla-max4s.pt` and `JavisBench-mini-vanilla-max4s.pt`
  on the `JavisDiT/JavisBench` dataset, under `cache/fvd_fad/`, read by its `--fvd_avcache_path`): a torch file
  holding `{"video": [N, 400], "audio": [N, 1024]}`, one row per benchmark item in the order of its CSV.
  `video` are I3D logits (`i3d_pretrained_400.pt`, JavisBench's letterbox preset): ccl-bench's `i3d` analysis
  under `--protocol javisbench`, the only preset they are accepted for. `audio` are AudioCLIP embeddings,
  which no ccl-bench metric computes: FAD against them is unavailable (it says why). The file records no
  weights checksum; the result says so. JavisBench itself truncates both sets to the smaller N, row by row in
  its CSV order; here every row of each set is used (the same where the predicted set is the whole benchmark).

A file whose analysis name or protocol (preset constants, weights checksum) differs from the metric's is
refused with one line naming both: features of two protocols are not comparable."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CCLBenchError
from ..io.clipset import ClipItem
from .store import SetResults

FORMAT = "ccl-bench-reference-features"
FORMAT_VERSION = 1
JAVISBENCH_FORMAT = "javisbench-fvd-fad-cache"
IGNORED_IN_MATCH = ("weights_check",)  # how this machine verified the file, not what the features are


@dataclass
class ReferenceFeatures:
    """Per-clip feature rows of a reference set, read from a file. `analyses[kind]`: the header of the
    analysis `kind` (`name`, `protocol`); `rows[kind]`: one `[r_i, D]` array per clip."""

    path: Path
    format: str
    ids: list[str]
    labels: list[str | None]
    analyses: dict[str, dict]
    rows: dict[str, list[np.ndarray]]
    header: dict = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # kind -> what the file does not record
    absent: dict[str, str] = field(default_factory=dict)  # kind -> why the file has none (JavisBench's audio)

    def missing_reason(self, kind: str) -> str:
        have = ", ".join(self.analyses) or "none"
        return self.absent.get(kind) or f"{self.path.name} holds no {kind} features (it holds: {have})"

    def check(self, kind: str, name: str, protocol: dict, metric: str) -> None:
        """Refuse (one line) when the file's features of `kind` were made otherwise than this evaluation's
        analysis (`name`, `protocol`, both after its weights are loaded) makes them."""
        mine = self.analyses[kind]
        want = {k: v for k, v in protocol.items() if k not in IGNORED_IN_MATCH}
        have = {k: v for k, v in mine.get("protocol", {}).items() if k not in IGNORED_IN_MATCH}
        if self.format == JAVISBENCH_FORMAT:
            have["weights_sha256"] = want.get("weights_sha256")  # not recorded: see `notes`
        faults = [f"analysis {mine.get('name')} vs {name}"] if mine.get("name") != name else []
        faults += [f"{k} {_short(have.get(k))} vs {_short(want.get(k))}" for k in sorted(set(have) | set(want))
                   if have.get(k) != want.get(k)]
        if faults:
            hint = " (use --protocol javisbench)" if self.format == JAVISBENCH_FORMAT and kind == "i3d" else ""
            raise CCLBenchError(f"{self.path}: its {kind} features do not match {metric}'s protocol ({'; '.join(faults)}): "
                                f"not comparable{hint}")

    def set_results(self, kinds: Sequence[str]) -> SetResults:
        """The reference set as the metrics read it: one result per clip of each kind in `kinds` (that the file has)."""
        items = [ClipItem(i, self.path, label=lab) for i, lab in zip(self.ids, self.labels, strict=True)]
        return SetResults(ids=list(self.ids), items=items,
                          results={k: [{"features": r} for r in self.rows[k]] for k in kinds if k in self.rows},
                          conversions={k: Counter() for k in ("decode", *kinds)})

    def describe(self) -> dict:
        """What the result records of the file (`clips.ref`)."""
        from .. import weights
        from ..paths import portable

        out = {"features_file": portable(self.path), "format": self.format, "sha256": weights.sha256_of(self.path),
               "analyses": {k: {"name": a.get("name"), "rows": int(sum(len(r) for r in self.rows[k])),
                                "weights_sha256": a.get("protocol", {}).get("weights_sha256")}
                            for k, a in self.analyses.items()}}
        if self.format == FORMAT:
            out["made_with"] = {k: self.header.get(k) for k in ("ccl_bench", "source", "decoder", "date_utc", "commit")}
        if self.notes:
            out["notes"] = dict(self.notes)
        return out


def _short(x) -> str:
    s = json.dumps(x, sort_keys=True, default=str) if not isinstance(x, str) else x
    return s if len(s) <= 24 else s[:12] + "..."


def read_reference_features(path: str | Path, ids: Sequence[str] | None = None) -> ReferenceFeatures:
    """Read a reference features file (`.npz`: ccl-bench's form; `.pt`: JavisBench's cache). ids: the item ids of a
    JavisBench file's rows, in its CSV order (default: the row numbers `"0"`, `"1"`, ...)."""
    p = Path(path)
    if not p.is_file():
        raise CCLBenchError(f"{p}: reference features file not found")
    if p.suffix.lower() == ".npz":
        return _read_npz(p)
    if p.suffix.lower() in (".pt", ".pth"):
        return _read_javisbench(p, ids)
    raise CCLBenchError(f"{p}: --ref takes a folder of clips, a ccl-bench features file (.npz) or JavisBench's "
                        "FVD/FAD cache (.pt)")


def _read_npz(p: Path) -> ReferenceFeatures:
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise CCLBenchError(f"{p}: not a readable .npz ({type(exc).__name__}: {exc})") from None
    if "header" not in arrays:
        raise CCLBenchError(f"{p}: no `header` array: not a ccl-bench reference features file")
    try:
        header = json.loads(str(arrays["header"]))
    except json.JSONDecodeError as exc:
        raise CCLBenchError(f"{p}: header is not valid JSON ({exc.msg})") from None
    if header.get("format") != FORMAT:
        raise CCLBenchError(f"{p}: header format {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("format_version") != FORMAT_VERSION:
        raise CCLBenchError(f"{p}: format_version {header.get('format_version')!r}; this ccl-bench reads {FORMAT_VERSION}")
    ids = [str(x) for x in arrays.get("ids", np.array([], str))]
    labels = [str(x) or None for x in arrays.get("labels", np.array([""] * len(ids)))]
    if len(labels) != len(ids) or header.get("clips") != len(ids):
        raise CCLBenchError(f"{p}: header says {header.get('clips')} clips, ids {len(ids)}, labels {len(labels)}")
    rows: dict[str, list[np.ndarray]] = {}
    for kind in header.get("analyses") or {}:
        feats, counts = arrays.get(f"features/{kind}"), arrays.get(f"rows/{kind}")
        if feats is None or counts is None:
            raise CCLBenchError(f"{p}: header lists {kind} but features/{kind} or rows/{kind} is missing")
        if feats.ndim != 2 or len(counts) != len(ids) or int(counts.sum()) != len(feats) or (counts < 0).any():
            raise CCLBenchError(f"{p}: features/{kind} {feats.shape} and rows/{kind} ({int(counts.sum())} rows over "
                                f"{len(counts)} clips) do not fit {len(ids)} clips")
        rows[kind] = np.split(feats.astype(np.float64), np.cumsum(counts)[:-1])
    return ReferenceFeatures(p, FORMAT, ids, labels, dict(header.get("analyses") or {}), rows, header)


def _read_javisbench(p: Path, ids: Sequence[str] | None) -> ReferenceFeatures:
    import pickle

    import torch

    from .i3d import PRESETS

    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise CCLBenchError(f"{p}: not a readable torch file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or "video" not in data and "audio" not in data:
        raise CCLBenchError(f"{p}: expected JavisBench's FVD/FAD cache, a dict with `video` [N, 400] and `audio` [N, D]")
    arrays = {}
    for key in ("video", "audio"):
        if key in data:
            x = data[key]
            x = x.float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)
            if x.ndim != 2:
                raise CCLBenchError(f"{p}: `{key}` has shape {tuple(x.shape)}, expected [N, D]")
            arrays[key] = x.astype(np.float64)
    n = {len(x) for x in arrays.values()}
    if len(n) != 1:
        counts = ", ".join(str(len(x)) for x in arrays.values())
        raise CCLBenchError(f"{p}: `video` and `audio` have different row counts ({counts})")
    count = n.pop()
    if ids is None:
        ids = [str(i) for i in range(count)]
    if len(ids) != count:
        raise CCLBenchError(f"{p}: {count} rows but {len(ids)} ids given")
    analyses, rows, notes, absent = {}, {}, {}, {}
    if "video" in arrays:
        if arrays["video"].shape[1] != 400:
            raise CCLBenchError(f"{p}: `video` rows are {arrays['video'].shape[1]}-d; JavisBench's I3D logits are 400-d")
        analyses["i3d"] = {"name": "i3d-javisbench", "protocol": PRESETS["javisbench"].to_dict(), "metrics": ["fvd", "kvd"]}
        rows["i3d"] = [r[None] for r in arrays["video"]]
        notes["i3d"] = ("the file records no weights checksum: JavisBench's eval code makes these rows with "
                        "i3d_pretrained_400.pt, the weights the javisbench preset loads")
    absent["vggish"] = (f"{p.name} is JavisBench's cache: its audio rows are AudioCLIP embeddings (JavisBench's FAD, "
                        "x 1e4), which no ccl-bench metric computes; this fad is VGGish's")
    return ReferenceFeatures(p, JAVISBENCH_FORMAT, list(ids), [None] * count, analyses, rows, {}, notes, absent)


def save_reference_features(path: str | Path, res: SetResults, analyses: dict, metrics: dict[str, list[str]],
                            source: str) -> Path:
    """Write the reference set's feature rows (`res`, the analyses in `analyses`: kind -> `Analysis`) in the
    ccl-bench form above. metrics: kind -> the metric names they serve; source: the folder, as results name it."""
    from .. import __version__
    from ..io.reader import decoder_id
    from ..paths import atomic_write
    from ..provenance import git_commit

    arrays: dict[str, np.ndarray] = {"ids": np.array(res.ids, dtype=str),
                                     "labels": np.array([i.label or "" for i in res.items], dtype=str)}
    head: dict = {}
    for kind, a in analyses.items():
        per_clip = [np.asarray(r["features"], np.float64) for r in res.results[kind]]
        per_clip = [x.reshape(-1, x.shape[-1]) for x in per_clip]
        dim = per_clip[0].shape[1] if per_clip else 0
        arrays[f"features/{kind}"] = np.concatenate(per_clip) if per_clip else np.zeros((0, dim))
        arrays[f"rows/{kind}"] = np.array([len(x) for x in per_clip], np.int64)
        head[kind] = {"name": a.name, "protocol": a.protocol, "metrics": metrics.get(kind, []),
                      "rows": int(len(arrays[f"features/{kind}"])), "dim": int(dim)}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "ccl_bench": __version__, "clips": len(res.ids),
              "source": source, "decoder": decoder_id(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": git_commit() or "unknown", "analyses": head}
    arrays["header"] = np.array(json.dumps(header, default=str))
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))
