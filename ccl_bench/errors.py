"""User-facing errors: each names the file (or name) and the fault in one line."""

from __future__ import annotations

from pathlib import Path


class CCLBenchError(Exception):
    """An error caused by the user's input, printed as one line by the CLI (no traceback)."""


class ClipError(CCLBenchError):
    """A clip that cannot be read or written: `path: fault`."""

    def __init__(self, path: str | Path, fault: str):
        self.path = str(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class UnknownNameError(CCLBenchError):
    """A suite, model or metric name that no registry knows."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        choices = ", ".join(known) if known else "none registered"
        super().__init__(f"unknown {kind} '{name}' (known: {choices})")
