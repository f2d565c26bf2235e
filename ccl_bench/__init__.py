"""ccl-bench: evaluate joint audio-video generators (the harness); see `reference_impl` for models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccl-bench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
