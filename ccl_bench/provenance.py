"""What produced a result file: the commit, the date, the seed, the command and the versions.

One function, `provenance`, used by every writer of results (eval, run, compare, benchmarks). It
imports no heavy package (versions come from the installed distributions' metadata) and writes no
machine path (the command's paths go through `paths.portable`)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version

from . import __version__
from .paths import SOURCE_ROOT, portable_value

# Distribution names whose versions a result depends on (decoders, resamplers, flow, the maths).
PACKAGES = {"torch": ("torch",), "numpy": ("numpy",), "scipy": ("scipy",), "librosa": ("librosa",),
            "opencv": ("opencv-python-headless", "opencv-python"), "av": ("av",), "decord": ("decord",)}

_command: list[str] | None = None  # the command line of this process, set by the CLI


def set_command(argv: list[str]) -> None:
    """Record the `ccl-bench` arguments of this process (called once by `ccl_bench.cli.main`)."""
    global _command
    _command = list(argv)


def command_argv() -> list[str] | None:
    """The recorded arguments (for a worker process to record the same command)."""
    return None if _command is None else list(_command)


def command_line(argv: list[str] | None = None) -> str:
    """`ccl-bench ARGS` with every path argument made portable; the Python API when no CLI ran."""
    argv = _command if argv is None else argv
    if argv is None:
        return "python API (no command line)"
    return " ".join(["ccl-bench", *(_portable_arg(a) for a in argv)])


def _portable_arg(arg: str) -> str:
    """`--key=PATH`, `NAME=PATH` (a `--set` value) and `PATH` with the path made portable."""
    whole = portable_value(arg)
    if whole != arg or "=" not in arg:
        return whole
    key, sep, value = arg.partition("=")
    return f"{key}{sep}{portable_value(value)}"


def versions() -> dict[str, str]:
    out = {"ccl_bench": __version__, "python": platform.python_version()}
    for name, dists in PACKAGES.items():
        for d in dists:
            try:
                out[name] = version(d)
                break
            except PackageNotFoundError:
                continue
    return out


def git_commit() -> str | None:
    """`$CCL_BENCH_COMMIT`, else the source tree's git HEAD (None outside a git checkout)."""
    if os.environ.get("CCL_BENCH_COMMIT"):
        return os.environ["CCL_BENCH_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def provenance(seed: int | None = None, extra: dict | None = None, command: list[str] | None = None) -> dict:
    """-> {"commit", "date_utc", "seed", "command", "versions", "machine", **extra}. `commit` is
    "unknown" outside a git checkout (say so rather than leave it out)."""
    info = {"commit": git_commit() or "unknown", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": seed, "command": command_line(command), "versions": versions(), "machine": platform.machine()}
    return {**info, **(extra or {})}
