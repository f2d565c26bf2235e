"""Clip I/O: `AVClip`, `read_clip`, `write_clip`, and the rate conversions with stated conventions."""

from .clip import AVClip
from .convert import convert_fps, fit_length, resample_audio, shift_audio, to_channels
from .reader import VIDEO_SUFFIXES, read_audio, read_clip
from .writer import write_audio, write_clip

__all__ = [
    "AVClip",
    "VIDEO_SUFFIXES",
    "convert_fps",
    "fit_length",
    "read_audio",
    "read_clip",
    "resample_audio",
    "shift_audio",
    "to_channels",
    "write_audio",
    "write_clip",
]
