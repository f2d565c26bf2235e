"""Read a clip: mp4/mkv/webm/mov with their audio track, or a video plus a same-stem wav/flac.

Video frames come from decord where it is installed (Linux x86-64), else from PyAV; audio always
from PyAV (or soundfile for a sidecar). Audio is aligned to the first video frame using the streams'
start times, so an encoder's priming delay (AAC) never shifts events, and it is trimmed to the
stream's declared duration, which drops AAC's end padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ClipError
from .clip import AVClip
from .writer import AUDIO_SIDECARS

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov")


def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def find_sidecar(path: Path) -> Path | None:
    """The `<stem>.wav` or `<stem>.flac` beside a video, if any."""
    for suffix in AUDIO_SIDECARS:
        cand = path.with_suffix(suffix)
        if cand.is_file():
            return cand
    return None


def read_clip(path: str | Path, *, audio_path: str | Path | None = None, backend: str = "auto") -> AVClip:
    """Read `path` into an `AVClip`. audio_path: an explicit sidecar (default: the file's own audio
    track, else `<stem>.wav|.flac`). backend: 'auto' | 'decord' | 'pyav' for the video frames.

    Raises `ClipError` naming the file and the fault (missing, empty, corrupt, truncated, no audio)."""
    import av

    path = Path(path)
    if not path.exists():
        raise ClipError(path, "file not found")
    if not path.is_file():
        raise ClipError(path, "not a file")
    if path.stat().st_size == 0:
        raise ClipError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise ClipError(path, f"corrupt or truncated media file, cannot open it ({_why(exc)})") from None
    with container:
        if not container.streams:
            # An mp4 cut short loses its index (the moov atom at the end): no streams are found.
            raise ClipError(path, "corrupt or truncated: no audio or video streams found")
        if not container.streams.video:
            raise ClipError(path, "no video stream")
        vstream = container.streams.video[0]
        fps = float(vstream.average_rate or vstream.guessed_rate or 0)
        if fps <= 0:
            raise ClipError(path, "video stream has no frame rate")
        expected = _expected_frames(container, vstream, fps)
        has_audio = bool(container.streams.audio)
    if backend == "auto":
        backend = "decord" if _has_decord() else "pyav"
    video, v_start = _video_decord(path) if backend == "decord" else _video_pyav(path)
    if len(video) == 0:
        raise ClipError(path, "zero-length clip: no video frames")
    if expected and len(video) < expected - 1:
        raise ClipError(path, f"truncated or corrupt: decoded {len(video)} of {expected} video frames")

    if audio_path is not None or not has_audio:
        side = Path(audio_path) if audio_path is not None else find_sidecar(path)
        if side is None:
            raise ClipError(path, "no audio track and no sidecar .wav/.flac with the same stem")
        audio, sr = read_audio(side)
    else:
        audio, sr = _audio_pyav(path, v_start)
    return AVClip(video=video, fps=fps, audio=audio, sample_rate=sr, metadata={"path": str(path)})


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """A wav/flac file -> (float32 `[C, N]`, sample rate in Hz)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise ClipError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ClipError(path, f"unreadable audio file ({_why(exc)})") from None
    if data.shape[0] == 0:
        raise ClipError(path, "empty audio file (0 samples)")
    return np.ascontiguousarray(data.T), int(sr)


def _why(exc: Exception) -> str:
    return str(exc).split("\n")[0].strip() or type(exc).__name__


def _expected_frames(container, vstream, fps: float) -> int:
    if vstream.frames:
        return int(vstream.frames)
    if container.duration:
        return round(container.duration / 1_000_000 * fps)
    return 0


def _video_pyav(path: Path) -> tuple[np.ndarray, float]:
    """-> (uint8 [T, H, W, 3], time of the first frame in seconds)."""
    import av

    frames, start = [], None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if start is None:
                    start = float(frame.time or 0.0)
                frames.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as exc:
        if not frames:
            raise ClipError(path, f"corrupt video stream ({_why(exc)})") from None
        # Frames decoded before the damage are kept; the frame-count check reports the truncation.
    if not frames:
        return np.zeros((0, 1, 1, 3), np.uint8), 0.0
    return np.stack(frames), start or 0.0


def _video_decord(path: Path) -> tuple[np.ndarray, float]:
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        n = len(reader)
        if n == 0:
            return np.zeros((0, 1, 1, 3), np.uint8), 0.0
        video = reader.get_batch(list(range(n))).asnumpy()
        start = float(reader.get_frame_timestamp(0)[0])
    except decord.DECORDError:
        # decord's messages are internal; PyAV decodes what it can and names the fault.
        return _video_pyav(path)
    return video, start


def _audio_pyav(path: Path, video_start: float) -> tuple[np.ndarray, int]:
    """Decode the first audio track -> (float32 [C, N], Hz), sample 0 at the first video frame."""
    import av

    chunks, first_time = [], None
    with av.open(str(path)) as container:
        astream = container.streams.audio[0]
        sr = int(astream.rate or astream.sample_rate)
        resampler = av.AudioResampler(format="fltp", layout=astream.layout.name, rate=sr)
        declared = float(astream.duration * astream.time_base) if astream.duration else None
        try:
            for frame in container.decode(astream):
                if first_time is None:
                    first_time = float(frame.time or 0.0)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            if not chunks:
                raise ClipError(path, f"corrupt audio stream ({_why(exc)})") from None
    if not chunks:
        raise ClipError(path, "audio track holds no samples")
    audio = np.concatenate(chunks, axis=1).astype(np.float32)
    # Align sample 0 with the first video frame: pad if audio starts later, drop if earlier.
    lead = round(((first_time or 0.0) - video_start) * sr)
    if lead > 0:
        audio = np.pad(audio, ((0, 0), (lead, 0)))
    elif lead < 0:
        audio = audio[:, -lead:]
    if declared is not None:
        # The declared duration excludes the encoder's end padding (AAC pads to 1024-sample frames).
        audio = audio[:, : max(0, round((declared + (first_time or 0.0) - video_start) * sr))]
    return np.ascontiguousarray(audio), sr
