"""Event signals of a clip's sound and picture (the extraction half of protocol `ccl-event-sync-v1`;
the scoring half, pairing and cross-correlation, is `ccl_bench.metrics.sync`). Pure functions on arrays.

- Audio onsets: mono audio at 16 kHz; RMS envelope in 2 ms frames, in dB. An onset is a local maximum
  of the 6 ms rise `env[k + 3] - env[k]` that rises by at least `rise_db`, lands within `floor_db`
  of the clip's loudest frame, and is the largest rise within `refractory_s`. Its time is the frame
  where the rise lands, less half the rise span: within a few ms of the first audible sample.
- Visual events, from grey frames in [0, 255] against the clip's background (the per-pixel temporal
  median), whose foreground is `G[i] = |F[i] - B|` with mass `M[i] = mean(G[i])` and centroid
  `p[i]` (in frame heights):
  * photometric: something appears, lights up or flashes: a peak of `M[i] - M[i-1]` of at least
    `photometric_floor` grey levels (and `rel` of the clip's largest). It happened between frames
    i - 1 and i, so it is placed at `(i - 0.5) / fps`.
  * kinematic: something moving reverses or stops (a bounce): a peak of the centroid's acceleration
    `|p[i+1] - 2 p[i] + p[i-1]|` of at least `kinematic_floor` frame heights per frame^2, counted only
    while the foreground mass is steady (within a factor `steady` over the three frames and at least
    `mass_floor`), so appearing objects do not count twice. Placed at `i / fps`.
  Events of the two kinds closer than `refractory_s` merge into the stronger (relative to its floor).
- Strengths: the audio onset strength (the positive rise, 2 ms grid) and the visual event strength
  (each kind divided by its floor) are kept for the cross-correlation.

The audio half (`SyncAudio`) and the picture half (`SyncVideo`) of a clip's analysis are separate
records, so a metric can pair one clip's sound with another clip's picture (its chance level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16000  # Hz: the rate the audio is analysed at
HOP_S = 0.002  # envelope frame (s)
RISE_FRAMES = 3  # rise span in frames (6 ms)


@dataclass(frozen=True)
class SyncParams:
    rise_db: float = 12.0
    floor_db: float = 35.0
    refractory_s: float = 0.1
    visual_rel: float = 0.25  # an event is at least this share of the clip's strongest (of its kind)
    photometric_floor: float = 0.25  # grey levels of foreground mass gained in one frame
    kinematic_floor: float = 0.05  # frame heights per frame^2 of centroid acceleration
    mass_floor: float = 0.5  # grey levels: a foreground this faint has no reliable centroid
    steady: float = 1.25  # largest/smallest foreground mass over the three frames of a kinematic event
    max_offset_s: float = 1.0

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def envelope_db(audio: np.ndarray) -> np.ndarray:
    """Mono 16 kHz audio `[N]` -> RMS envelope in dB `[N // 32]` (2 ms frames; frame k covers
    samples `32 k .. 32 k + 31`)."""
    hop = int(RATE * HOP_S)
    n = len(audio) // hop
    frames = np.asarray(audio[: n * hop], np.float64).reshape(n, hop)
    return 20 * np.log10(np.sqrt((frames**2).mean(1)) + 1e-5)


def onset_strength(audio: np.ndarray) -> np.ndarray:
    """Positive 6 ms rise of the dB envelope `[frames]`, placed where the rise starts (2 ms frames)."""
    env = envelope_db(audio)
    rise = np.zeros_like(env)
    rise[:-RISE_FRAMES] = env[RISE_FRAMES:] - env[:-RISE_FRAMES]
    return np.clip(rise, 0, None)


def _peaks(x: np.ndarray, threshold: float, min_gap: int) -> np.ndarray:
    """Indices of local maxima of x above threshold, greedily keeping the largest within min_gap."""
    if len(x) < 3:
        return np.zeros(0, int)
    cand = np.flatnonzero((x[1:-1] >= x[:-2]) & (x[1:-1] > x[2:]) & (x[1:-1] >= threshold)) + 1
    kept: list[int] = []
    for i in cand[np.argsort(-x[cand], kind="stable")]:
        if all(abs(i - j) >= min_gap for j in kept):
            kept.append(int(i))
    return np.array(sorted(kept), int)


def audio_onsets(audio: np.ndarray, p: SyncParams = SyncParams()) -> np.ndarray:
    """Onset times (s) of mono 16 kHz audio `[N]`."""
    env = envelope_db(audio)
    if len(env) <= RISE_FRAMES + 2:
        return np.zeros(0)
    rise = onset_strength(audio)
    loud_enough = np.zeros_like(env, dtype=bool)
    loud_enough[:-RISE_FRAMES] = env[RISE_FRAMES:] >= env.max() - p.floor_db
    idx = _peaks(np.where(loud_enough, rise, 0.0), p.rise_db, round(p.refractory_s / HOP_S))
    # The peak rise starts about one frame before the sound does; the onset is the rise's midpoint.
    return (idx + RISE_FRAMES / 2) * HOP_S


def foreground(video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 `[T, H, W, 3]` -> foreground mass `M` `[T]` (grey levels) and centroid `p` `[T, 2]` (y, x in
    frame heights) against the per-pixel temporal median."""
    grey = video.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    g = np.abs(grey - np.median(grey, axis=0))
    mass = g.mean((1, 2))
    h, w = grey.shape[1:]
    total = g.sum((1, 2)) + 1e-9
    cy = (g.sum(2) * np.arange(h)).sum(1) / total / h
    cx = (g.sum(1) * np.arange(w)).sum(1) / total / h
    return mass.astype(np.float64), np.stack([cy, cx], 1).astype(np.float64)


@dataclass(frozen=True)
class VisualStrength:
    """Per-frame event strengths `[T]`, each divided by its floor (>= 1 where an event may be)."""

    photometric: np.ndarray  # placed at (i - 0.5) / fps
    kinematic: np.ndarray  # placed at i / fps


def visual_strength(video: np.ndarray, p: SyncParams = SyncParams()) -> VisualStrength:
    mass, pos = foreground(video)
    t = len(mass)
    photo = np.zeros(t)
    if t >= 2:
        photo[1:] = np.clip(np.diff(mass), 0, None)
    kin = np.zeros(t)
    if t >= 3:
        acc = np.linalg.norm(pos[2:] - 2 * pos[1:-1] + pos[:-2], axis=1)
        m3 = np.stack([mass[:-2], mass[1:-1], mass[2:]])
        steady = (m3.min(0) >= p.mass_floor) & (m3.max(0) <= p.steady * m3.min(0))
        kin[1:-1] = np.where(steady, acc, 0.0)
    return VisualStrength(photo / p.photometric_floor, kin / p.kinematic_floor)


def visual_events(video: np.ndarray, fps: float, p: SyncParams = SyncParams()) -> np.ndarray:
    """Event times (s) seen in `[T, H, W, 3]` frames at `fps`."""
    return events_from_strength(visual_strength(video, p), fps, p)


def events_from_strength(vs: VisualStrength, fps: float, p: SyncParams = SyncParams()) -> np.ndarray:
    """Event times (s) from per-frame strengths already computed (`visual_strength`)."""
    gap = max(1, round(p.refractory_s * fps))
    found = []  # (time, strength)
    for x, shift in ((vs.photometric, -0.5), (vs.kinematic, 0.0)):
        if len(x) and x.max() >= 1:
            found += [((i + shift) / fps, x[i]) for i in _peaks(x, max(1.0, p.visual_rel * x.max()), gap)]
    kept: list[tuple[float, float]] = []
    for time, strength in sorted(found, key=lambda e: -e[1]):
        if all(abs(time - k[0]) >= p.refractory_s for k in kept):
            kept.append((time, strength))
    return np.array(sorted(k[0] for k in kept))


def visual_strength_on_grid(vs: VisualStrength, fps: float, grid: np.ndarray) -> np.ndarray:
    """The larger of the two strengths at each grid time (s), linearly interpolated."""
    t = np.arange(len(vs.photometric))
    return np.maximum(np.interp(grid, (t - 0.5) / fps, vs.photometric, left=0, right=0),
                      np.interp(grid, t / fps, vs.kinematic, left=0, right=0))


@dataclass(frozen=True)
class SyncAudio:
    """The sound half of a clip's sync analysis."""

    onsets: np.ndarray  # [K] onset times (s)
    onset_strength: np.ndarray  # [N // 32] positive 6 ms rise (dB) on the 2 ms grid


@dataclass(frozen=True)
class SyncVideo:
    """The picture half of a clip's sync analysis."""

    events: np.ndarray  # [E] visual event times (s)
    strength: VisualStrength  # per-frame strengths [T]
    fps: float


def sync_halves(arrays: dict[str, np.ndarray]) -> tuple[SyncAudio, SyncVideo]:
    """A cached per-clip result (`onsets`, `onset_strength`, `events`, `photometric`, `kinematic`, `fps`)
    -> its typed halves."""
    return (SyncAudio(arrays["onsets"], arrays["onset_strength"]),
            SyncVideo(arrays["events"], VisualStrength(arrays["photometric"], arrays["kinematic"]),
                      float(arrays["fps"][0])))
