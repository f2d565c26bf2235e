"""Frame times come from the streams' timestamps in every decoder: a video stream that starts after its
audio and a variable frame rate read the same under decord and PyAV, and as they play."""

from fractions import Fraction

import av
import numpy as np
import pytest

from ccl_bench.features import SyncAnalysis
from ccl_bench.io import read_clip
from ccl_bench.metrics import METRICS, Context

SR = 16000


def timed_clip(path, frame_times, flash_at: float, beep_at: float, video_start: float = 0.0, seconds: float = 2.0):
    """Mux a clip whose video frames carry the presentation times `video_start + frame_times` (s, in a
    1 ms time base) and whose audio starts at 0 s. The first frame shown at or after `flash_at` (s,
    presentation time) is white, the rest black; a 50 ms 1 kHz beep starts at `beep_at` (s). mp4:
    H.264 + AAC; mkv: FFV1 + float PCM."""
    lossy = str(path).endswith(".mp4")
    times = video_start + np.asarray(frame_times, float)
    flash = int(np.flatnonzero(times >= flash_at - 1e-9)[0])
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264" if lossy else "ffv1", rate=25)
        vs.width = vs.height = 32
        vs.pix_fmt = "yuv420p" if lossy else "bgr0"
        vs.codec_context.time_base = Fraction(1, 1000)
        aus = out.add_stream("aac" if lossy else "pcm_f32le", rate=SR)
        aus.layout = "mono"
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 255 if i == flash else 0, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        audio = np.zeros((1, round(seconds * SR)), np.float32)
        k = np.arange(800)
        audio[0, round(beep_at * SR) : round(beep_at * SR) + 800] = 0.5 * np.sin(2 * np.pi * 1000 * k / SR)
        for s in range(0, audio.shape[1], 1024):
            part = audio[:, s : s + 1024]
            arr = part if lossy else part.T.reshape(1, -1)
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format="fltp" if lossy else "flt", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = SR, s, Fraction(1, SR)
            for p in aus.encode(fr):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)
    return path


def vfr_times(seconds: float = 2.0) -> np.ndarray:
    """Irregular frame times: intervals of 20, 40 or 80 ms (dropped and doubled frames), from 0."""
    steps = np.random.default_rng(0).choice([0.02, 0.04, 0.08], size=200)
    t = np.concatenate([[0.0], np.cumsum(steps)])
    return t[t < seconds]


def sync_offset_ms(clip) -> float:
    res, _ = SyncAnalysis().compute(clip)
    return METRICS["sync-offset"].value([res], None, Context())


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_a_late_video_stream_reads_the_same_under_both_decoders(tmp_path, suffix):
    """Video from 0.2 s, audio from 0 s, flash and beep both at 1.0 s as played: in sync."""
    path = timed_clip(tmp_path / f"late.{suffix}", np.arange(45) / 25, flash_at=1.0, beep_at=1.0, video_start=0.2)
    clips = {b: read_clip(path, backend=b) for b in ("decord", "pyav")}
    for c in clips.values():
        assert abs(sync_offset_ms(c)) <= 25  # within a frame (40 ms) of in sync, under each decoder
        assert c.num_frames == 45 and c.fps == 25
        assert c.metadata["video_start_s"] == pytest.approx(0.2, abs=1e-3)
    assert np.array_equal(clips["decord"].audio, clips["pyav"].audio)


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_a_video_really_late_by_200_ms_reads_so_under_both_decoders(tmp_path, suffix):
    """The picture's flash at 1.2 s, the beep at 1.0 s: the sound is 200 ms early (negative offset)."""
    path = timed_clip(tmp_path / f"early.{suffix}", np.arange(45) / 25, flash_at=1.2, beep_at=1.0, video_start=0.2)
    for backend in ("decord", "pyav"):
        assert sync_offset_ms(read_clip(path, backend=backend)) == pytest.approx(-200, abs=25)


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_variable_frame_rate_is_resampled_from_timestamps_and_noted(tmp_path, suffix):
    times = vfr_times()
    path = timed_clip(tmp_path / f"vfr.{suffix}", times, flash_at=1.0, beep_at=1.0)
    clips = {b: read_clip(path, backend=b) for b in ("decord", "pyav")}
    for c in clips.values():
        assert abs(sync_offset_ms(c)) <= 40  # the VFR clip is in sync: within a frame
        assert c.fps == 25 and c.num_frames == 50  # 2 s on a constant 25 fps grid, not len(times) frames
        # Each grid frame shows the frame on screen then: the flash lands in the grid's first frame at or after it.
        flash_time = times[np.flatnonzero(times >= 1.0)[0]]
        assert np.argmax(c.video.reshape(50, -1).mean(1)) == int(np.ceil(flash_time * 25 - 1e-9))
        assert any("variable frame rate" in n and "25 fps" in n for n in c.metadata["notes"])
    assert np.array_equal(clips["decord"].video, clips["pyav"].video) or suffix == "mp4"


def test_constant_rate_clips_are_kept_frame_for_frame(tmp_path, clip):
    from ccl_bench.io import write_clip

    path = write_clip(clip, tmp_path / "cfr.mkv")
    for backend in ("decord", "pyav"):
        c = read_clip(path, backend=backend)
        assert np.array_equal(c.video, clip.video) and c.metadata["notes"] == []


def test_non_finite_audio_is_a_clip_error_naming_the_file(tmp_path, clip):
    import soundfile as sf

    from ccl_bench.errors import ClipError
    from ccl_bench.io import AVClip, write_clip

    nan = clip.audio.copy()
    nan[0, 100:110] = np.nan
    p = write_clip(AVClip(clip.video, clip.fps, nan, clip.sample_rate), tmp_path / "nan.mkv")
    with pytest.raises(ClipError, match="10 non-finite samples") as info:
        read_clip(p)
    assert info.value.path == str(p)
    v = write_clip(clip, tmp_path / "inf.mkv", sidecar="wav")
    inf = clip.audio.copy()
    inf[0, 5] = np.inf
    sf.write(str(tmp_path / "inf.wav"), inf.T, clip.sample_rate, subtype="FLOAT")
    with pytest.raises(ClipError, match="non-finite"):
        read_clip(v)
