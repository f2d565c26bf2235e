"""Where ccl-bench keeps things, how it names them in what it writes, and how it writes a file.

- `home_dir(kind)`: `$CCL_BENCH_HOME/<kind>`, else the user cache folder `<cache>/ccl-bench/<kind>`
  (kinds: `features`, `weights`, `checkpoints`); the one resolver of `$CCL_BENCH_HOME`.
- `checkpoint_dirs()`: the search path of trained checkpoints.
- `portable(path)`: a path as it may appear in a written file (tables, manifests, provenance): relative
  to the working directory or the source tree, never a machine's absolute path.
- `atomic_write(path, content)`: the one way files are written: to a temporary name beside `path`,
  then renamed over it, so a killed process leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the checkout (or site-packages) holding ccl_bench/


def home_root() -> Path | None:
    """`$CCL_BENCH_HOME` when set (and not empty), else None."""
    value = os.environ.get("CCL_BENCH_HOME")
    return Path(value) if value else None


def home_dir(kind: str, override: str | Path | None = None) -> Path:
    """`override` if given, else `$CCL_BENCH_HOME/<kind>`, else `<user cache>/ccl-bench/<kind>`."""
    if override:
        return Path(override)
    if home_root() is not None:
        return home_root() / kind
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ccl-bench")) / kind


def cache_dir(override: str | Path | None = None) -> Path:
    """The per-clip feature cache."""
    return home_dir("features", override)


def weights_dir(override: str | Path | None = None) -> Path:
    """The metric weights (I3D, VGGish)."""
    return home_dir("weights", override)


def checkpoint_dirs() -> list[Path]:
    """Where shipped and user checkpoints are looked up, in order: `$CCL_BENCH_CHECKPOINTS`
    (os.pathsep-separated), `./checkpoints`, the source tree's `checkpoints/`, `$CCL_BENCH_HOME/checkpoints`."""
    dirs = [Path(p) for p in os.environ.get("CCL_BENCH_CHECKPOINTS", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "checkpoints", SOURCE_ROOT / "checkpoints"]
    if home_root() is not None:
        dirs.append(home_dir("checkpoints"))
    return dirs


def portable(path: str | Path, start: str | Path | None = None) -> str:
    """`path` as written into results: relative to `start` (default: the working directory) when under it,
    else relative to the source tree when under that, else `<outside>/<name>`. Never absolute, so a
    committed file names no machine's folders."""
    p = Path(path)
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    resolved = p.resolve()
    for base in (Path(start) if start is not None else Path.cwd(), SOURCE_ROOT):
        try:
            return resolved.relative_to(Path(base).resolve()).as_posix() or "."
        except ValueError:
            continue
    return f"<outside>/{resolved.name}"


def portable_value(value: str) -> str:
    """A command-line or `--set` value as written into results: `portable` where it names a path (absolute, `~`,
    or an existing relative one), else as given."""
    if value.startswith(("/", "~")) or os.sep in value and Path(value).exists():
        return portable(Path(value).expanduser())
    return value


def portable_options(options: dict) -> dict:
    """`--set` options as written into results: path values made `portable`, the rest as given."""
    return {k: portable_value(v) if isinstance(v, str) else v for k, v in options.items()}


def atomic_write(path: str | Path, content: str | bytes | Callable[[Path], object]) -> Path:
    """Write `content` to `path` through a temporary file beside it and a rename. `content` is text,
    bytes, or a function that writes the temporary path it is given (for numpy, PyAV, soundfile,
    torch); the temporary name keeps `path`'s suffix, so such writers pick the same format.
    The parent folder is created. -> `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        if isinstance(content, str):
            tmp.write_text(content)
        elif isinstance(content, bytes | bytearray):
            tmp.write_bytes(content)
        else:
            content(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def scrub(obj):
    """`obj` (JSON-like: dicts, lists, strings) with this machine's folders in strings replaced by names
    that hold anywhere: `$CCL_BENCH_HOME`, `<user cache>`, `<ccl-bench source>`, `.` (the working
    directory), `~`. For what is written into result files (e.g. a weights message naming where to
    place a file); the screen keeps the real paths."""
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v) for v in obj]
    if not isinstance(obj, str) or "/" not in obj and os.sep not in obj:
        return obj
    for root, name in _roots():
        # Only whole folders: "/work" names no part of "/workspace" or of a URL's "/work-items".
        obj = re.sub(re.escape(root) + r"(?=[/\\\s'\"),;:]|$)", name.replace("\\", "\\\\"), obj)
    return obj


def _roots() -> list[tuple[str, str]]:
    from platformdirs import user_cache_dir

    roots = [(os.environ.get("CCL_BENCH_HOME", ""), "$CCL_BENCH_HOME"), (str(SOURCE_ROOT), "<ccl-bench source>"),
             (user_cache_dir("ccl-bench"), "<user cache>/ccl-bench"), (str(Path.cwd()), "."), (str(Path.home()), "~")]
    out = []
    for root, name in roots:
        if root and root != os.sep:
            out += [(str(Path(root)), name), (str(Path(root).resolve()), name)]
    # Longest first, so a folder inside another is named by the inner one.
    return sorted(set(out), key=lambda rn: -len(rn[0]))
