"""Each bad clip gives one ClipError that names the file and the fault."""

import av
import numpy as np
import pytest

from ccl_bench.errors import ClipError
from ccl_bench.io import AVClip, read_clip, write_clip


def _no_audio_mp4(path, clip):
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width = vs.height = 64
        vs.pix_fmt = "yuv420p"
        for f in clip.video:
            for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def _zero_frame_mkv(path):
    """A valid container whose video stream holds no frame (only an audio packet was muxed)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("ffv1", rate=25)
        vs.width = vs.height = 64
        aus = out.add_stream("pcm_f32le", rate=16000)
        aus.layout = "mono"
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        fr.sample_rate, fr.pts = 16000, 0
        for p in aus.encode(fr):
            out.mux(p)
        for p in aus.encode():
            out.mux(p)
    return path


@pytest.fixture
def good_mp4(tmp_path, clip):
    return write_clip(clip, tmp_path / "good.mp4")


def expect(path, fault, backend="auto"):
    with pytest.raises(ClipError) as info:
        read_clip(path, backend=backend)
    assert info.value.path == str(path)
    assert fault in info.value.fault
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    expect(tmp_path / "nope.mp4", "file not found")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    expect(p, "empty file")


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_no_audio_track(tmp_path, clip, backend):
    expect(_no_audio_mp4(tmp_path / "silent.mp4", clip), "no audio track", backend)


def test_no_audio_track_but_sidecar(tmp_path, clip):
    from ccl_bench.io import write_audio

    p = _no_audio_mp4(tmp_path / "v.mp4", clip)
    write_audio(clip.audio, clip.sample_rate, tmp_path / "v.wav")
    assert read_clip(p).num_samples == clip.num_samples


def test_truncated_mp4(tmp_path, good_mp4):
    data = good_mp4.read_bytes()
    for name, part in [("half.mp4", data[: len(data) // 2]), ("tail.mp4", data[:-200])]:
        p = tmp_path / name
        p.write_bytes(part)
        expect(p, "truncated")


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_truncated_mkv(tmp_path, clip, backend):
    data = write_clip(clip, tmp_path / "good.mkv").read_bytes()
    p = tmp_path / "half.mkv"
    p.write_bytes(data[: len(data) // 2])
    expect(p, "truncated or corrupt: decoded", backend)


def test_garbage_bytes(tmp_path):
    p = tmp_path / "noise.mp4"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    expect(p, "corrupt or truncated")


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_zero_length_clip(tmp_path, backend):
    expect(_zero_frame_mkv(tmp_path / "zero.mkv"), "zero-length clip", backend)


def test_write_refuses_zero_frames_and_odd_sizes(tmp_path):
    empty = AVClip(np.zeros((0, 8, 8, 3), np.uint8), 25, np.zeros((1, 10), np.float32), 16000)
    with pytest.raises(ClipError, match="zero-length"):
        write_clip(empty, tmp_path / "e.mp4")
    odd = AVClip(np.zeros((2, 9, 8, 3), np.uint8), 25, np.zeros((1, 10), np.float32), 16000)
    with pytest.raises(ClipError, match="even width and height"):
        write_clip(odd, tmp_path / "o.mp4")
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind
