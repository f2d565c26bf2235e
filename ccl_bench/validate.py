"""Checks of options, folders and manifests that run before any expensive work, each failing with one
line that names the option (or file) and the fault (`CCLBenchError`).

Counts are refused when 0, negative or missing where a value is needed, never replaced by a default;
output folders are probed by writing a file, so a read-only, full or misnamed folder is found before
an evaluation of minutes, not after it."""

from __future__ import annotations

import errno
import math
import os
import re
import tempfile
from pathlib import Path

from .errors import CCLBenchError

RESULT_SUFFIXES = (".json", ".csv", ".md")


def positive_int(option: str, value, *, allow_zero: bool = False) -> int:
    """A count given by the user: a whole number >= 1 (>= 0 with `allow_zero`), else refused."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CCLBenchError(f"{option} {value!r}: expected a whole number >= {low}")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise CCLBenchError(f"{option} {value!r}: expected a whole number >= {low}") from None
    if n < low:
        raise CCLBenchError(f"{option} {n}: must be at least {low}" + (" (0 turns it off)" if allow_zero else ""))
    return n


def name_list(option: str, text: str | None, known: list[str] | None = None) -> list[str] | None:
    """`"a,b"` -> ["a", "b"]; None (option not given) -> None; an empty list or empty item is refused."""
    if text is None:
        return None
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise CCLBenchError(f"{option} {text!r}: empty list; name at least one"
                            + (f" (known: {', '.join(known)})" if known else ""))
    if not all(items):
        raise CCLBenchError(f"{option} {text!r}: an empty name between commas")
    return items


_DEVICE = re.compile(r"^(cpu|cuda|mps)(:\d+)?$")


def device(requested: str | None) -> str | None:
    """`--device`: cpu, cuda, cuda:N or mps, and only one this machine has. None: not given."""
    if requested is None:
        return None
    if not _DEVICE.match(requested) or (requested.startswith("cpu:")):
        raise CCLBenchError(f"--device {requested!r}: unknown device (use cpu, cuda or cuda:N)")
    import torch

    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CCLBenchError(f"--device {requested}: no CUDA device is visible on this machine (use --device cpu)")
        index = int(requested.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise CCLBenchError(f"--device {requested}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if requested.startswith("mps") and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise CCLBenchError(f"--device {requested}: no MPS device on this machine (use --device cpu)")
    return requested


def _fault(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "not writable (permission denied)"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return exc.strerror or type(exc).__name__


def writable_folder(label: str, path: str | Path) -> Path:
    """A folder we are about to write into: created if absent, then probed by writing and removing a
    small file (which finds read-only mounts, full disks and quotas). `label` names it in the error
    (`--out DIR`, `$CCL_BENCH_HOME`)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CCLBenchError(f"{label} {p}: is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".ccl-bench-probe-", dir=p)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise CCLBenchError(f"{label} {p}: cannot write there ({_fault(exc)})") from None
    return p


def home() -> Path | None:
    """`$CCL_BENCH_HOME` if set, checked as a writable folder (it holds the cache and the weights)."""
    from .paths import home_root

    value = home_root()
    if value is None:
        return None
    return writable_folder("$CCL_BENCH_HOME", value)


def cache_folder(option_value: str | Path | None, default: Path) -> Path:
    """The feature cache: `--cache-dir` if given, else `default` under `$CCL_BENCH_HOME` (both checked)."""
    if option_value is not None:
        return writable_folder("--cache-dir", option_value)
    home()
    return writable_folder("feature cache", default)


class NoClipsEvaluated(CCLBenchError):
    """Every clip of the predicted set failed: nothing to report, and the exit status says so (1)."""

    exit_code = 1

    def __init__(self, folder: Path, clips: int, excluded: list[dict]):
        first = f" (first: {excluded[0]['path']}: {excluded[0]['fault']})" if excluded else ""
        super().__init__(f"{folder}: none of its {clips} clips could be evaluated{first}")


def result_paths(out: str | Path) -> list[Path]:
    """`--out BASE` of an evaluation -> [BASE.json, BASE.csv, BASE.md]. A `.json`, `.csv` or `.md`
    suffix of BASE is dropped first, so `--out r.csv` writes r.json, r.csv and r.md, one beside the other."""
    p = Path(out)
    base = p.with_suffix("") if p.suffix.lower() in RESULT_SUFFIXES else p
    return [base.with_name(base.name + s) for s in RESULT_SUFFIXES]


def result_files(option: str, out: str | Path) -> list[Path]:
    """Check, before any work, that the result files of `--out BASE` can be written: the folder is
    writable and no target is a folder, a device or another non-regular file (which `os.replace`
    would otherwise replace)."""
    paths = result_paths(out)
    if str(out).endswith(os.sep) or Path(out).is_dir():
        raise CCLBenchError(f"{option} {out}: is a folder; give a file name base, e.g. {Path(out) / 'result'} "
                            "(writes result.json, result.csv and result.md)")
    for p in paths:
        if p.is_dir():
            raise CCLBenchError(f"{option} {out}: {p} is a folder; pick another name")
        if p.exists() and not p.is_file():
            raise CCLBenchError(f"{option} {out}: {p} exists and is not a regular file (a device, pipe or socket); "
                                "pick another name")
    writable_folder(option, paths[0].parent)
    return paths


# --- suite folders -------------------------------------------------------------------------------


def partial_build(folder: Path) -> None:
    """Refuse a suite folder whose build has not finished (`manifest.partial.json`)."""
    partial = folder / "manifest.partial.json"
    if not partial.is_file():
        return
    import json

    try:
        head = json.loads(partial.read_text())
    except (OSError, ValueError):
        head = {}
    head = head if isinstance(head, dict) else {}
    done = len(head.get("clips") or []) if isinstance(head.get("clips"), list) else "some"
    opts = "".join(f" --{k} {head[k]}" for k in ("split", "rendering", "seed", "format") if head.get(k) is not None)
    raise CCLBenchError(f"{folder}: the suite build is incomplete ({partial.name}: {done} clips written, no finished "
                        f"manifest.json); resume it with `ccl-bench suite build {head.get('suite', 'SUITE')} --out {folder}"
                        f"{opts} --num N` with the same options as before, then evaluate")


def _where(mpath: Path, at: str, fault: str) -> CCLBenchError:
    return CCLBenchError(f"{mpath}: {at}: {fault}")


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def manifest(mpath: Path, data) -> list[dict]:
    """The `clips` of a parsed manifest.json, every field the evaluation reads checked for its type.
    -> the clip entries. Raises naming the manifest, the entry (`clips[3].events[0].t`) and the fault."""
    if not isinstance(data, dict):
        raise CCLBenchError(f"{mpath}: not a valid manifest (expected an object with 'clips', got {type(data).__name__})")
    if "clips" not in data:
        raise CCLBenchError(f"{mpath}: not a valid manifest (no 'clips' list)")
    clips = data["clips"]
    if not isinstance(clips, list):
        raise _where(mpath, "clips", f"expected a list, got {type(clips).__name__}")
    if data.get("task") is not None and not isinstance(data["task"], str):
        raise _where(mpath, "task", f"expected a task name, got {data['task']!r}")
    for i, c in enumerate(clips):
        at = f"clips[{i}]"
        if not isinstance(c, dict):
            raise _where(mpath, at, f"expected an object, got {type(c).__name__}")
        if not isinstance(c.get("video"), str) or not c["video"].strip():
            raise _where(mpath, f"{at}.video", f"expected a file name, got {c.get('video')!r}")
        if c.get("audio") is not None and (not isinstance(c["audio"], str) or not c["audio"].strip()):
            raise _where(mpath, f"{at}.audio", f"expected a file name or null, got {c['audio']!r}")
        if c.get("id") is not None and not isinstance(c["id"], str | int):
            raise _where(mpath, f"{at}.id", f"expected a name, got {c['id']!r}")
        if c.get("label") is not None and not isinstance(c["label"], str):
            raise _where(mpath, f"{at}.label", f"expected a scene family name or null, got {c['label']!r}")
        if c.get("perturbation") is not None and not isinstance(c["perturbation"], dict):
            raise _where(mpath, f"{at}.perturbation", f"expected an object or null, got {c['perturbation']!r}")
        events = c.get("events", [])
        if events is None:
            continue
        if not isinstance(events, list):
            raise _where(mpath, f"{at}.events", f"expected a list, got {type(events).__name__}")
        for j, e in enumerate(events):
            if not isinstance(e, dict) or not _is_number(e.get("t")):
                got = e.get("t") if isinstance(e, dict) else e
                raise _where(mpath, f"{at}.events[{j}].t", f"expected a finite time in seconds, got {got!r}")
    return clips
