"""`AVClip`: one audio-video clip in memory, with the timing convention every module relies on.

Timing convention: video frame `i` shows the scene at `t = i / fps` seconds and audio sample `n`
sits at `t = n / sample_rate` seconds; both start at the clip's time zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class AVClip:
    """video: uint8 `[T, H, W, 3]` RGB; fps: frames per second;
    audio: float32 `[C, N]` in [-1, 1]; sample_rate: Hz; metadata: free-form (caption, events, ...)."""

    video: np.ndarray
    fps: float
    audio: np.ndarray
    sample_rate: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.video = np.ascontiguousarray(self.video)
        self.audio = np.ascontiguousarray(self.audio, dtype=np.float32)
        if self.video.dtype != np.uint8 or self.video.ndim != 4 or self.video.shape[-1] != 3:
            raise ValueError(f"video must be uint8 [T, H, W, 3], got {self.video.dtype} {self.video.shape}")
        if self.audio.ndim != 2:
            raise ValueError(f"audio must be float32 [C, N], got shape {self.audio.shape}")
        if self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError(f"fps and sample_rate must be positive, got {self.fps} and {self.sample_rate}")
        self.fps = float(self.fps)
        self.sample_rate = int(self.sample_rate)

    @property
    def num_frames(self) -> int:
        return int(self.video.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[1])

    @property
    def video_duration(self) -> float:
        """Seconds covered by the frames: `T / fps`."""
        return self.num_frames / self.fps

    @property
    def audio_duration(self) -> float:
        """Seconds covered by the samples: `N / sample_rate`."""
        return self.num_samples / self.sample_rate

    @property
    def duration(self) -> float:
        return max(self.video_duration, self.audio_duration)
