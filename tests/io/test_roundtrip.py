"""Timing survives a write and a read: lossless exactly, mp4 within one frame and 2 ms of audio."""

import numpy as np
import pytest

from ccl_bench.io import AVClip, read_clip, write_clip
from tests.conftest import event_clip, flash_frame, onset_time

BACKENDS = ["decord", "pyav"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lossless_mkv_is_exact(tmp_path, clip, backend):
    path = write_clip(clip, tmp_path / "c.mkv")
    back = read_clip(path, backend=backend)
    np.testing.assert_array_equal(back.video, clip.video)
    np.testing.assert_array_equal(back.audio, clip.audio)
    assert back.fps == clip.fps and back.sample_rate == clip.sample_rate
    assert abs(onset_time(back.audio[0], back.sample_rate) - 0.8) <= 0.001


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps,t_event", [(25.0, 0.8), (16.0, 1.23), (30.0, 0.517)])
def test_mp4_keeps_event_times(tmp_path, backend, fps, t_event):
    clip = event_clip(fps=fps, t_event=t_event)
    back = read_clip(write_clip(clip, tmp_path / "c.mp4"), backend=backend)
    assert back.num_frames == clip.num_frames and back.fps == pytest.approx(fps)
    # AAC priming is undone by the edit list and end padding trimmed: same sample count.
    assert back.num_samples == clip.num_samples
    assert abs(onset_time(back.audio[0], back.sample_rate) - t_event) <= 0.002
    assert abs(flash_frame(back.video) - flash_frame(clip.video)) <= 1


def test_mov_and_stereo(tmp_path):
    clip = event_clip()
    stereo = AVClip(clip.video, clip.fps, np.repeat(clip.audio, 2, axis=0), clip.sample_rate)
    back = read_clip(write_clip(stereo, tmp_path / "c.mov"))
    assert back.audio.shape == (2, clip.num_samples)
    assert abs(onset_time(back.audio[1], back.sample_rate) - 0.8) <= 0.002


@pytest.mark.parametrize("sidecar", ["wav", "flac"])
def test_sidecar_audio(tmp_path, clip, sidecar):
    video_path = write_clip(clip, tmp_path / "c.mp4", sidecar=sidecar)
    assert (tmp_path / f"c.{sidecar}").is_file()
    back = read_clip(video_path)
    assert back.num_samples == clip.num_samples
    tol = 1e-7 if sidecar == "wav" else 1e-6
    np.testing.assert_allclose(back.audio, clip.audio, atol=tol)


def test_webm_with_opus(tmp_path):
    """A webm made by another tool (VP9 + Opus at 48 kHz): events keep their times."""
    import av

    from ccl_bench.io import resample_audio

    clip = event_clip()
    path = tmp_path / "c.webm"
    audio48 = resample_audio(clip.audio, clip.sample_rate, 48000)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libvpx-vp9", rate=25)
        vs.width = vs.height = 64
        vs.pix_fmt = "yuv420p"
        aus = out.add_stream("libopus", rate=48000)
        aus.layout = "mono"
        for f in clip.video:
            for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for s in range(0, audio48.shape[1], 960):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio48[:, s : s + 960]), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 48000, s
            for p in aus.encode(fr):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)
    back = read_clip(path)
    assert back.sample_rate == 48000 and back.num_frames == clip.num_frames
    assert abs(onset_time(back.audio[0], 48000) - 0.8) <= 0.002
    assert flash_frame(back.video) == flash_frame(clip.video)
