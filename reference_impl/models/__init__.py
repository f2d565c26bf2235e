from .dual_stream import DualStreamModel
from .stream import AudioStream, VideoStream, WanBlock
from .wan_loader import CheckpointError, LoadReport, load_wan_checkpoint

__all__ = ["AudioStream", "CheckpointError", "DualStreamModel", "LoadReport", "VideoStream", "WanBlock", "load_wan_checkpoint"]
