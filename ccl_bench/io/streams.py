"""What reading a clip found about its streams, kept beside its cached features so that warnings read
the same from the cache as from a fresh decode: stream lengths (s), frame rate, the reader's notes."""

from __future__ import annotations

import hashlib

import numpy as np

from .clip import AVClip

RECORD_ID = "streams-v1"  # the feature cache's folder for these records


def clip_key(content: str, decoder: str) -> str:
    """A clip's cache key: its bytes' hash and the decoder that read it (decoders may differ in frames)."""
    return hashlib.sha256(f"{content}|{decoder}".encode()).hexdigest()


def stream_record(clip: AVClip) -> dict[str, np.ndarray]:
    """-> {"video_s": [1], "audio_s": [1], "fps": [1], "notes": [k] str}: arrays, as the cache stores them."""
    notes = [str(n) for n in clip.metadata.get("notes", [])]
    return {"video_s": np.array([clip.video_duration]), "audio_s": np.array([clip.audio_duration]),
            "fps": np.array([clip.fps]), "notes": np.array(notes, dtype=str)}


def stream_warnings(record: dict[str, np.ndarray]) -> list[str]:
    """A video and audio stream whose lengths differ by more than two frames (and 0.1 s): the tail of
    the longer one has no counterpart, which a synchrony metric reads as unmatched events."""
    v, a, fps = float(record["video_s"][0]), float(record["audio_s"][0]), float(record["fps"][0])
    if abs(v - a) > max(2.0 / fps, 0.1):
        return [f"stream lengths differ: video {v:.2f} s, audio {a:.2f} s (evaluated as read; the longer stream's "
                f"last {abs(v - a):.2f} s has no counterpart)"]
    return []
