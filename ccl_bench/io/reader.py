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


READER_VERSION = 2  # 2: frame times from timestamps (VFR resampled, stream start offsets honoured) in every decoder


def resolve_backend(backend: str = "auto") -> str:
    """'auto' -> the video decoder this machine uses ('decord' where installed, else 'pyav')."""
    if backend == "auto":
        return "decord" if _has_decord() else "pyav"
    if backend not in ("decord", "pyav"):
        raise ValueError(f"unknown video decoder '{backend}' (decord, pyav)")
    return backend


def decoder_id(backend: str = "auto") -> str:
    """What decodes the frames, for cache keys and provenance: `'<decoder> <version>, reader v<N>'`."""
    import av

    name = resolve_backend(backend)
    if name == "decord":
        import decord

        return f"decord {decord.__version__}, reader v{READER_VERSION}"
    return f"pyav {av.__version__}, reader v{READER_VERSION}"


def read_clip(path: str | Path, *, audio_path: str | Path | None = None, backend: str = "auto") -> AVClip:
    """Read `path` into an `AVClip`. audio_path: an explicit sidecar (default: the file's own audio
    track, else `<stem>.wav|.flac`). backend: 'auto' | 'decord' | 'pyav' for the video frames.

    Frame times come from the stream's timestamps in either decoder; a variable frame rate is resampled
    to a constant one (noted in `metadata["notes"]`), and audio sample 0 is placed at the first frame's
    presentation time. Raises `ClipError` naming the file and the fault (missing, empty, corrupt,
    truncated, no audio, non-finite audio samples)."""
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
        rates = [float(r) for r in (vstream.average_rate, vstream.base_rate, vstream.guessed_rate) if r]
        stream_start = float(vstream.start_time * vstream.time_base) if vstream.start_time is not None else 0.0
        expected = int(vstream.frames or 0)
        declared_end = _declared_end(container, vstream)
        has_audio = bool(container.streams.audio)
    backend = resolve_backend(backend)
    video, times = _video_decord(path, stream_start) if backend == "decord" else _video_pyav(path)
    if len(video) == 0:
        raise ClipError(path, "zero-length clip: no video frames")
    if expected and len(video) < expected - 1:
        raise ClipError(path, f"truncated or corrupt: decoded {len(video)} of {expected} video frames")
    if not expected and declared_end is not None and times.max() + 2.0 / fps < declared_end:
        raise ClipError(path, f"truncated or corrupt: decoded {len(video)} video frames, up to {times.max():.2f} s "
                              f"of the {declared_end:.2f} s the file declares")
    notes: list[str] = []
    video, fps, v_start = constant_rate(video, times, fps, rates, notes)

    if audio_path is not None or not has_audio:
        side = Path(audio_path) if audio_path is not None else find_sidecar(path)
        if side is None:
            raise ClipError(path, "no audio track and no sidecar .wav/.flac with the same stem")
        audio, sr = read_audio(side)
    else:
        audio, sr = _audio_pyav(path, v_start)
    bad = int(audio.size - np.isfinite(audio).sum())
    if bad:
        raise ClipError(audio_path or path, f"audio holds {bad} non-finite samples (NaN or inf)")
    meta = {"path": str(path), "decoder": backend, "video_start_s": v_start, "notes": notes}
    return AVClip(video=video, fps=fps, audio=audio, sample_rate=sr, metadata=meta)


def constant_rate(frames: np.ndarray, times: np.ndarray, nominal_fps: float, rates: list[float],
                  notes: list[str]) -> tuple[np.ndarray, float, float]:
    """Frames `[T, H, W, 3]` shown from `times` `[T]` (s, presentation timestamps) -> (frames on a
    constant-rate grid, its fps, the first frame's time). Frames already on a grid of `nominal_fps`
    (within a quarter frame) are kept as they are; otherwise (variable frame rate, dropped frames) the
    grid takes the typical frame interval's rate (snapped to a rate the stream declares within 3%) and
    each grid time shows the frame on screen then (the last one at or before it)."""
    order = np.argsort(times, kind="stable")
    frames, times = frames[order], np.asarray(times, np.float64)[order]
    t0 = float(times[0])
    if len(times) < 2:
        return frames, nominal_fps, t0
    if np.abs(times - t0 - np.arange(len(times)) / nominal_fps).max() <= 0.25 / nominal_fps:
        return frames, nominal_fps, t0
    dt = np.diff(times)
    step = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 1.0 / nominal_fps
    rate = 1.0 / step
    # Decoders round timestamps differently: snap to a declared rate, else to 1/1000 fps, so all agree.
    rate = next((r for r in rates if abs(r - rate) <= 0.03 * rate), round(rate, 3))
    n = max(1, round((times[-1] + step - t0) * rate))
    grid = t0 + np.arange(n) / rate
    shown = np.clip(np.searchsorted(times, grid + 1e-6, side="right") - 1, 0, len(times) - 1)
    notes.append(f"variable frame rate (frame intervals {dt.min() * 1e3:.0f}-{dt.max() * 1e3:.0f} ms): resampled "
                 f"to a constant {rate:g} fps from the timestamps")
    return frames[shown], rate, t0


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


def _declared_end(container, vstream) -> float | None:
    """Where the video stream says it ends (s): its own duration tag (Matroska writes one per stream),
    else the container's end."""
    tag = (vstream.metadata or {}).get("DURATION")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    if vstream.duration:
        return float((vstream.duration + (vstream.start_time or 0)) * vstream.time_base)
    if container.duration:
        return (container.duration + (container.start_time or 0)) / 1_000_000
    return None


def _video_pyav(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """-> (uint8 [T, H, W, 3], presentation time of each frame in seconds [T])."""
    import av

    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            step = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
            for frame in container.decode(video=0):
                # A frame without a timestamp follows its predecessor by one nominal interval.
                times.append(float(frame.time) if frame.time is not None else (times[-1] + step if times else 0.0))
                frames.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as exc:
        if not frames:
            raise ClipError(path, f"corrupt video stream ({_why(exc)})") from None
        # Frames decoded before the damage are kept; the frame-count check reports the truncation.
    if not frames:
        return np.zeros((0, 1, 1, 3), np.uint8), np.zeros(0)
    return np.stack(frames), np.array(times)


def _video_decord(path: Path, stream_start: float) -> tuple[np.ndarray, np.ndarray]:
    """As `_video_pyav`. decord counts time from the stream's first timestamp, so the stream's start
    time (from the container) is added back: both decoders then share one clock with the audio."""
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        n = len(reader)
        if n == 0:
            return np.zeros((0, 1, 1, 3), np.uint8), np.zeros(0)
        video = reader.get_batch(list(range(n))).asnumpy()
        times = np.asarray(reader.get_frame_timestamp(list(range(n))), np.float64).reshape(n, 2)[:, 0] + stream_start
    except decord.DECORDError:
        # decord's messages are internal; PyAV decodes what it can and names the fault.
        return _video_pyav(path)
    return video, times


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
