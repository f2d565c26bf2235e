import json

import numpy as np
import pytest

from ccl_bench.io import AVClip


def event_clip(fps: float = 25.0, sr: int = 16000, seconds: float = 2.0, t_event: float = 0.8, size: int = 64) -> AVClip:
    """A black clip with one white frame at the first frame at or after `t_event` and a 1 kHz burst
    starting at sample round(t_event * sr)."""
    n_frames = round(seconds * fps)
    video = np.zeros((n_frames, size, size, 3), np.uint8)
    video[int(np.ceil(t_event * fps - 1e-9))] = 255
    audio = np.zeros((1, round(seconds * sr)), np.float32)
    start = round(t_event * sr)
    k = np.arange(round(0.05 * sr))
    audio[0, start : start + len(k)] = 0.5 * np.sin(2 * np.pi * 1000 * k / sr)
    return AVClip(video=video, fps=fps, audio=audio, sample_rate=sr)


def onset_time(audio: np.ndarray, sr: int, threshold: float = 0.05) -> float:
    """Time in seconds of the first sample whose magnitude exceeds `threshold`."""
    idx = np.flatnonzero(np.abs(audio) > threshold)
    assert len(idx), "no sound found"
    return idx[0] / sr


def flash_frame(video: np.ndarray) -> int:
    return int(video.reshape(len(video), -1).mean(1).argmax())


@pytest.fixture
def clip() -> AVClip:
    return event_clip()


@pytest.fixture(autouse=True)
def _result_files_match_the_schema(monkeypatch):
    """Every result file a test has `eval` or `run` write validates against the result schema (v1, strictly).
    A result made by `evaluate` always records its decoder; a hand-made table (tests/test_tables.py) does not."""
    from ccl_bench import tables
    from ccl_bench.schema import validate_result

    real = tables.write_result

    def checked(result, path):
        paths = real(result, path)
        if "decoder" in result.get("provenance", {}):
            faults = validate_result(json.loads(paths[0].read_text()))
            assert not faults, f"{paths[0]} does not match the result schema: {faults[0]}"
        return paths

    monkeypatch.setattr(tables, "write_result", checked)
