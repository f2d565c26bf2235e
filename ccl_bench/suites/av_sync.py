"""The av-sync suite: five procedural scene families with exactly known audio-visual events.

Each family samples a `Scene` from a seeded generator (`sample`), then renders it at any size,
frame rate and sample rate (`render_video`, `render_audio`). Frame `i` shows the scene at
`t = i / fps`; an event's sound starts at sample `round(t * sample_rate)`; its visual signature
(a bounce, a flash, a strike, a pulse) is on the first frame at or after `t`, so within one frame.

Families
- bouncing-ball: a ball bounces on a floor; a thud at each impact (the ball is lowest then).
- flash-beep: a lamp flashes; a beep starts with each flash.
- multi-object: 2-4 bars, each with its own pitch, struck at different times (the struck bar lights up).
- continuous-pitch: a dot glides up and down; its tone's pitch follows its height; no discrete events.
- background-object: a static textured background and one small dot that pulses with each chirp;
  most of the frame has no acoustic counterpart (exposes cross-modal background bias).
"""

from __future__ import annotations

import numpy as np

from . import synth
from .scene import Event, Scene

NOTES_HZ = [262, 294, 330, 392, 440, 523, 587, 659]  # C major pentatonic-ish, C4..E5
MARGIN_S = 0.25  # no event closer than this to either end of the clip
MIN_GAP_S = 0.3  # events of one clip are at least this far apart (several frames at any rendering)


def event_times(rng: np.random.Generator, duration: float, count: int, min_gap: float = MIN_GAP_S) -> list[float]:
    """`count` sorted times in [MARGIN_S, duration - MARGIN_S], at least `min_gap` apart, on a 1 ms grid.

    Spacing is drawn exactly: gaps of `min_gap` plus a random split of the slack."""
    span = duration - 2 * MARGIN_S
    count = max(1, min(count, int(span // min_gap) + 1))
    slack = span - (count - 1) * min_gap
    cuts = np.sort(rng.uniform(0.0, slack, size=count))
    times = MARGIN_S + cuts + min_gap * np.arange(count)
    return [round(float(t), 3) for t in times]


def _count(rng: np.random.Generator, duration: float, per_second: tuple[float, float]) -> int:
    return max(1, int(round(rng.uniform(*per_second) * duration)))


class Family:
    name: str = ""

    def sample(self, rng: np.random.Generator, duration: float) -> Scene:
        raise NotImplementedError

    def render_video(self, scene: Scene, times: np.ndarray, height: int, width: int) -> np.ndarray:
        """times: `[T]` seconds -> uint8 `[T, H, W, 3]`."""
        x, y = synth.grid(height, width)
        bg = self.background(scene, x, y)  # static: drawn once per clip
        frames = np.empty((len(times), height, width, 3), np.uint8)
        for i, t in enumerate(times):
            frames[i] = synth.to_uint8(self.frame(scene, float(t), x, y, bg.copy()))
        return frames

    def background(self, scene: Scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The static part of every frame, float `[H, W, 3]`: a dark vertical gradient by default."""
        g = 0.08 + 0.08 * y
        return np.repeat(g[..., None], 3, axis=2).astype(np.float32)

    def frame(self, scene: Scene, t: float, x: np.ndarray, y: np.ndarray, canvas: np.ndarray) -> np.ndarray:
        """Draw the moving part at time `t` seconds onto `canvas` (a copy of the background)."""
        raise NotImplementedError

    def render_audio(self, scene: Scene, sample_rate: int, num_samples: int) -> np.ndarray:
        """-> float32 `[1, num_samples]` in [-1, 1]."""
        raise NotImplementedError

    def foreground(self, scene: Scene, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """Coverage `[H, W]` in [0, 1] of everywhere the sounding object ever is (None: not defined for
        this family); the rest of the frame is background with no acoustic counterpart."""
        return None


class BouncingBall(Family):
    name = "bouncing-ball"
    floor_y = 0.86
    radius = 0.08

    def sample(self, rng, duration):
        color = str(rng.choice(list(synth.COLORS)))
        impacts = event_times(rng, duration, _count(rng, duration, (0.6, 1.0)), min_gap=0.4)
        x0, x1 = rng.uniform(0.2, 0.8, size=2)
        return Scene(
            family=self.name,
            caption=f"a {color} ball bounces on the floor with a thud at each impact",
            duration=duration,
            events=[Event(t, "impact", "ball") for t in impacts],
            params={"color": color, "x0": float(x0), "x1": float(x1), "thud_hz": float(rng.uniform(70, 140)),
                    "click_seed": int(rng.integers(2**31))},
        )

    def height(self, scene: Scene, t: float) -> float:
        """Height of the ball's bottom above the floor (normalised): parabolic arcs between impacts."""
        ts = [e.t for e in scene.events]
        gaps = np.diff(ts) if len(ts) > 1 else np.array([0.6])
        # Virtual impacts before the first and after the last make the ball fall in and fly out. They lie
        # outside the clip: one inside it would show the ball rising out of (or sinking into) the floor, a
        # sight with no sound and no event in the ground truth.
        knots = [min(ts[0] - gaps[0], -MARGIN_S)] + ts + [max(ts[-1] + gaps[-1], scene.duration + MARGIN_S)]
        k = int(np.searchsorted(knots, t, side="right")) - 1
        k = min(max(k, 0), len(knots) - 2)
        a, b = knots[k], knots[k + 1]
        s = (t - a) / (b - a)
        apex = float(np.clip(1.8 * (b - a) ** 2, 0.12, 0.62))
        return apex * 4.0 * s * (1.0 - s)

    def frame(self, scene, t, x, y, canvas):
        p = scene.params
        synth.paint(canvas, synth.box(x, y, 0.0, self.floor_y, 1.0, 1.0), (0.35, 0.3, 0.25))
        cx = p["x0"] + (p["x1"] - p["x0"]) * t / scene.duration
        cy = self.floor_y - self.radius - self.height(scene, t)
        synth.paint(canvas, synth.disc(x, y, cx, cy, self.radius), synth.COLORS[p["color"]])
        return canvas

    def render_audio(self, scene, sample_rate, num_samples):
        track = np.zeros(num_samples, np.float32)
        rng = np.random.default_rng(scene.params["click_seed"])
        for e in scene.events:
            synth.place(track, synth.thud(sample_rate, scene.params["thud_hz"], rng), e.t, sample_rate)
        return track[None]


class FlashBeep(Family):
    name = "flash-beep"
    tau = 0.08  # flash decay, seconds

    def sample(self, rng, duration):
        color = str(rng.choice(list(synth.COLORS)))
        freq = float(rng.uniform(600, 1800))
        pitch = "high" if freq > 1200 else "low"
        times = event_times(rng, duration, _count(rng, duration, (0.5, 1.0)))
        return Scene(
            family=self.name,
            caption=f"a {color} light flashes with a {pitch} beep",
            duration=duration,
            events=[Event(t, "flash", "light") for t in times],
            params={"color": color, "beep_hz": freq, "cx": float(rng.uniform(0.35, 0.65)), "cy": float(rng.uniform(0.35, 0.65))},
        )

    def frame(self, scene, t, x, y, canvas):
        p = scene.params
        glow = max((synth.decay_after(t, e.t, self.tau) for e in scene.events), default=0.0)
        lamp = np.asarray(synth.COLORS[p["color"]], np.float32)
        dim = 0.25 * lamp
        synth.paint(canvas, synth.disc(x, y, p["cx"], p["cy"], 0.22), dim + glow * (lamp + 0.3 - dim))
        return canvas

    def render_audio(self, scene, sample_rate, num_samples):
        track = np.zeros(num_samples, np.float32)
        for e in scene.events:
            synth.place(track, synth.beep(sample_rate, scene.params["beep_hz"]), e.t, sample_rate)
        return track[None]


class MultiObject(Family):
    name = "multi-object"
    tau = 0.1

    def sample(self, rng, duration):
        n = int(rng.integers(2, 5))
        colors = [str(c) for c in rng.choice(list(synth.COLORS), size=n, replace=False)]
        notes = sorted(int(f) for f in rng.choice(NOTES_HZ, size=n, replace=False))
        times = event_times(rng, duration, max(n, _count(rng, duration, (0.8, 1.3))), min_gap=0.3)
        # Every bar strikes at least once; the rest of the strikes go to random bars.
        owners = list(rng.permutation(n)) + list(rng.integers(0, n, size=max(0, len(times) - n)))
        owners = [int(o) for o in rng.permutation(owners[: len(times)])]
        events = [Event(t, "strike", f"{colors[o]} bar") for t, o in zip(times, owners, strict=True)]
        return Scene(
            family=self.name,
            caption=f"{n} bars, " + ", ".join(colors) + ", each rings with its own pitch when struck",
            duration=duration,
            events=events,
            params={"colors": colors, "notes_hz": notes, "owners": owners},
        )

    def bar_box(self, k: int, n: int) -> tuple[float, float, float, float]:
        w = 0.8 / n
        x0 = 0.1 + k * w + 0.15 * w
        return x0, 0.35 + 0.08 * k, x0 + 0.7 * w, 0.9

    def frame(self, scene, t, x, y, canvas):
        p = scene.params
        n = len(p["colors"])
        for k, color in enumerate(p["colors"]):
            strikes = [e.t for e, o in zip(scene.events, p["owners"], strict=True) if o == k]
            hit = max((synth.decay_after(t, te, self.tau) for te in strikes), default=0.0)
            x0, y0, x1, y1 = self.bar_box(k, n)
            base = 0.45 * np.asarray(synth.COLORS[color], np.float32)
            lit = base + hit * (np.asarray(synth.COLORS[color], np.float32) + 0.35 - base)
            synth.paint(canvas, synth.box(x, y, x0, y0 + 0.04 * hit, x1, y1), lit)
        return canvas

    def render_audio(self, scene, sample_rate, num_samples):
        track = np.zeros(num_samples, np.float32)
        for e, o in zip(scene.events, scene.params["owners"], strict=True):
            synth.place(track, synth.pluck(sample_rate, scene.params["notes_hz"][o]), e.t, sample_rate)
        return track[None]


class ContinuousPitch(Family):
    name = "continuous-pitch"
    f_low, f_high = 220.0, 880.0  # pitch at the bottom and at the top of the frame

    def sample(self, rng, duration):
        color = str(rng.choice(list(synth.COLORS)))
        return Scene(
            family=self.name,
            caption=f"a {color} dot glides up and down and its tone rises as it rises",
            duration=duration,
            events=[],
            params={"color": color, "freqs": [float(f) for f in rng.uniform(0.15, 0.7, size=2)],
                    "phases": [float(p) for p in rng.uniform(0, 2 * np.pi, size=2)],
                    "x": float(rng.uniform(0.3, 0.7)), "f_low": self.f_low, "f_high": self.f_high},
        )

    def height(self, scene: Scene, t: np.ndarray | float):
        """Height in [0.15, 0.85] (0 = bottom, 1 = top), smooth in t."""
        p = scene.params
        s = sum(np.sin(2 * np.pi * f * np.asarray(t) + ph) for f, ph in zip(p["freqs"], p["phases"], strict=True)) / 2
        return 0.5 + 0.35 * s

    def pitch(self, scene: Scene, t):
        """Tone frequency in Hz at time t: log-linear in height from f_low to f_high."""
        return self.f_low * (self.f_high / self.f_low) ** self.height(scene, t)

    def frame(self, scene, t, x, y, canvas):
        cy = 1.0 - float(self.height(scene, t))
        synth.paint(canvas, synth.disc(x, y, scene.params["x"], cy, 0.07), synth.COLORS[scene.params["color"]])
        return canvas

    def render_audio(self, scene, sample_rate, num_samples):
        t = np.arange(num_samples) / sample_rate
        return synth.glide(self.pitch(scene, t), sample_rate)[None]


class BackgroundObject(Family):
    name = "background-object"
    tau = 0.1

    def sample(self, rng, duration):
        color = str(rng.choice(list(synth.COLORS)))
        times = event_times(rng, duration, _count(rng, duration, (0.5, 0.9)))
        return Scene(
            family=self.name,
            caption=f"a small {color} dot chirps in front of a static textured background",
            duration=duration,
            events=[Event(t, "pulse", "dot") for t in times],
            params={"color": color, "cx": float(rng.uniform(0.2, 0.8)), "cy": float(rng.uniform(0.2, 0.8)),
                    "chirp_hz": float(rng.choice(NOTES_HZ) * 2), "texture": synth.gratings(rng).tolist()},
        )

    def background(self, scene, x, y):
        return synth.texture(x, y, np.asarray(scene.params["texture"]))

    def frame(self, scene, t, x, y, canvas):
        p = scene.params
        pulse = max((synth.decay_after(t, e.t, self.tau) for e in scene.events), default=0.0)
        rgb = np.asarray(synth.COLORS[p["color"]], np.float32)
        synth.paint(canvas, synth.disc(x, y, p["cx"], p["cy"], 0.045 * (1 + 0.6 * pulse)), rgb * (0.6 + 0.6 * pulse))
        return canvas

    def render_audio(self, scene, sample_rate, num_samples):
        track = np.zeros(num_samples, np.float32)
        for e in scene.events:
            synth.place(track, synth.pluck(sample_rate, scene.params["chirp_hz"], length=0.2), e.t, sample_rate)
        return track[None]

    def foreground(self, scene, x, y):
        p = scene.params  # the dot at its largest pulse (the radius `frame` draws at pulse 1)
        return synth.disc(x, y, p["cx"], p["cy"], 0.045 * 1.6)


FAMILIES: dict[str, Family] = {
    f.name: f for f in (BouncingBall(), FlashBeep(), MultiObject(), ContinuousPitch(), BackgroundObject())
}
