"""The two streams and their parts: Wan2.1 blocks, RoPE, attention, and the Wan2.1 checkpoint loader.
Nothing here knows about the cross-modal interactions (`..interactions` builds on these)."""

from .stream import AudioStream, Perturbation, Stream, VideoStream, WanBlock
from .wan_loader import CheckpointError, LoadReport, load_wan_checkpoint

__all__ = ["AudioStream", "CheckpointError", "LoadReport", "Perturbation", "Stream", "VideoStream", "WanBlock",
           "load_wan_checkpoint"]
