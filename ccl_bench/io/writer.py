"""Write an `AVClip`: mp4 (H.264 + AAC, playable anywhere) or mkv (FFV1 + float PCM, lossless).

Files are written to a temporary name and renamed, so an interrupted write leaves no half file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import ClipError
from ..paths import atomic_write
from .clip import AVClip

LOSSY = (".mp4", ".mov")
LOSSLESS = (".mkv",)
AUDIO_SIDECARS = (".wav", ".flac")


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def write_clip(clip: AVClip, path: str | Path, *, crf: int = 18, sidecar: str | None = None) -> Path:
    """Write `clip` to `path`; the suffix picks the codecs (.mp4/.mov: H.264 yuv420p + AAC 192 kb/s;
    .mkv: FFV1 RGB + 32-bit float PCM). sidecar='wav'|'flac': video only, audio to `<stem>.<sidecar>`.

    Returns the video path."""
    import av

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LOSSY + LOSSLESS:
        raise ClipError(path, f"cannot write '{suffix}' (use one of {', '.join(LOSSY + LOSSLESS)})")
    if clip.num_frames == 0:
        raise ClipError(path, "zero-length clip: no video frames to write")
    _, h, w, _ = clip.video.shape
    if suffix in LOSSY and (h % 2 or w % 2):
        raise ClipError(path, f"H.264 yuv420p needs even width and height, got {w}x{h}")

    def encode(tmp: Path) -> None:
        with av.open(str(tmp), "w") as out:
            vs = out.add_stream("libx264" if suffix in LOSSY else "ffv1", rate=_rate(clip.fps))
            vs.width, vs.height = w, h
            if suffix in LOSSY:
                vs.pix_fmt = "yuv420p"
                vs.options = {"crf": str(crf), "preset": "medium"}
            else:
                vs.pix_fmt = "bgr0"
            astream = None
            if sidecar is None and clip.num_samples > 0:
                astream = out.add_stream("aac" if suffix in LOSSY else "pcm_f32le", rate=clip.sample_rate)
                astream.layout = "mono" if clip.audio.shape[0] == 1 else "stereo"
                if suffix in LOSSY:
                    astream.bit_rate = 192_000
            for frame in clip.video:
                for packet in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
            if astream is not None:
                _encode_audio(out, astream, clip.audio, clip.sample_rate, planar=suffix in LOSSY)

    atomic_write(path, encode)
    if sidecar is not None:
        write_audio(clip.audio, clip.sample_rate, path.with_suffix(f".{sidecar}"))
    return path


def _encode_audio(out, stream, audio: np.ndarray, sample_rate: int, planar: bool, chunk: int = 1024) -> None:
    import av

    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    layout = "mono" if audio.shape[0] == 1 else "stereo"
    for start in range(0, audio.shape[1], chunk):
        part = audio[:, start : start + chunk]
        # PyAV wants planar [C, n] for 'fltp' and interleaved [1, n*C] for 'flt'.
        arr = part if planar else part.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format="fltp" if planar else "flt", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_audio(audio: np.ndarray, sample_rate: int, path: str | Path) -> Path:
    """Write float32 `[C, N]` to a wav (32-bit float) or flac (24-bit) file."""
    import soundfile as sf

    path = Path(path)
    subtype = "FLOAT" if path.suffix.lower() == ".wav" else "PCM_24"
    atomic_write(path, lambda tmp: sf.write(str(tmp), np.clip(audio, -1, 1).T, sample_rate, subtype=subtype,
                                            format=path.suffix[1:].upper()))
    return path
