"""Drawing and sound primitives for procedural suites (pure functions, resolution independent).

Coordinates are normalised: x, y in [0, 1] across the frame width and height, y pointing down.
Colours are RGB floats in [0, 1]. Audio is float32 at a given sample rate; times in seconds."""

from __future__ import annotations

import numpy as np

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.15, 0.12),
    "green": (0.15, 0.80, 0.25),
    "blue": (0.15, 0.35, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.20, 0.80),
    "cyan": (0.10, 0.80, 0.85),
    "orange": (0.95, 0.55, 0.10),
    "white": (0.95, 0.95, 0.95),
}


def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates `(x, y)`, each `[H, W]`, normalised to [0, 1]."""
    y = (np.arange(height, dtype=np.float32) + 0.5) / height
    x = (np.arange(width, dtype=np.float32) + 0.5) / width
    return np.meshgrid(x, y)


def disc(x: np.ndarray, y: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    """Anti-aliased coverage `[H, W]` in [0, 1] of a disc of radius `r` (fraction of the height)."""
    px = 1.0 / x.shape[0]  # one pixel, in normalised height units
    aspect = x.shape[1] / x.shape[0]
    d = np.sqrt(((x - cx) * aspect) ** 2 + (y - cy) ** 2)
    return np.clip((r - d) / px + 0.5, 0.0, 1.0)


def box(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Anti-aliased coverage `[H, W]` of the axis-aligned box [x0, x1] x [y0, y1]."""
    px, py = 1.0 / x.shape[1], 1.0 / x.shape[0]
    cx = np.clip((np.minimum(x - x0, x1 - x) / px) + 0.5, 0.0, 1.0)
    cy = np.clip((np.minimum(y - y0, y1 - y) / py) + 0.5, 0.0, 1.0)
    return cx * cy


def paint(canvas: np.ndarray, coverage: np.ndarray, color) -> None:
    """Alpha-blend `color` over `canvas` `[H, W, 3]` in place, weighted by `coverage` `[H, W]`."""
    a = coverage[..., None]
    canvas *= 1.0 - a
    canvas += a * np.asarray(color, dtype=np.float32)


def gratings(rng: np.random.Generator, n: int = 6) -> np.ndarray:
    """Parameters `[n, 6]` of a random texture: (fx, fy, phase, r, g, b) per grating."""
    freq = rng.uniform(-9.0, 9.0, size=(n, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    rgb = rng.uniform(0.0, 1.0, size=(n, 3))
    return np.concatenate([freq, phase, rgb], axis=1)


def texture(x: np.ndarray, y: np.ndarray, params: np.ndarray, base: float = 0.35, contrast: float = 0.25) -> np.ndarray:
    """A static colour texture `[H, W, 3]` from `gratings` parameters (same look at any resolution)."""
    out = np.full(x.shape + (3,), base, dtype=np.float32)
    for fx, fy, ph, r, g, b in params:
        wave = np.cos(2 * np.pi * (fx * x + fy * y) + ph).astype(np.float32)
        out += (contrast / len(params)) * wave[..., None] * (np.array([r, g, b], np.float32) * 2 - 1)
    return np.clip(out, 0.0, 1.0)


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    return (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def decay_after(t: float, t_event: float, tau: float) -> float:
    """`exp(-(t - t_event) / tau)` from the event on, 0 before it (a visual flash or strike)."""
    return float(np.exp(-(t - t_event) / tau)) if t >= t_event else 0.0


# ---- sound ---------------------------------------------------------------------------------------


def envelope(n: int, sample_rate: int, attack: float, decay: float) -> np.ndarray:
    """A linear attack of `attack` s then exponential decay with time constant `decay` s, `[n]`."""
    t = np.arange(n) / sample_rate
    att = np.clip(t / max(attack, 1e-6), 0.0, 1.0)
    return (att * np.exp(-np.maximum(t - attack, 0.0) / decay)).astype(np.float32)


def thud(sample_rate: int, freq: float, rng: np.random.Generator, length: float = 0.25) -> np.ndarray:
    """An impact: a low decaying sine plus a short noise click, 1 ms attack, the last 30 ms faded out
    (`fade_out`), `[round(length * sr)]`."""
    n = round(length * sample_rate)
    t = np.arange(n) / sample_rate
    body = np.sin(2 * np.pi * freq * t) * envelope(n, sample_rate, 0.001, 0.06)
    click = rng.standard_normal(n) * envelope(n, sample_rate, 0.0005, 0.008)
    return fade_out((0.7 * body + 0.35 * click).astype(np.float32), sample_rate, 0.03)


def fade_out(sound: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """`sound` `[n]` with its last `seconds` faded to zero by a raised cosine. A sound cut off while still
    audible ends in a click, which onset detectors (librosa's spectral flux, AV-Align's) hear as a second
    event with nothing to see."""
    m = min(len(sound), round(seconds * sample_rate))
    out = np.array(sound, np.float32)
    if m:
        out[len(out) - m :] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(m) / m)).astype(np.float32)
    return out


def beep(sample_rate: int, freq: float, length: float = 0.12) -> np.ndarray:
    """A pure tone burst, `[round(length * sr)]`: a 2 ms raised-cosine attack (a sharp onset) and a 20 ms
    raised-cosine release (a 2 ms one clicks at the end)."""
    n = round(length * sample_rate)
    t = np.arange(n) / sample_rate
    ramp = min(n // 2, round(0.002 * sample_rate))
    env = np.ones(n)
    env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    return fade_out((0.5 * np.sin(2 * np.pi * freq * t) * env).astype(np.float32), sample_rate, 0.02)


def pluck(sample_rate: int, freq: float, length: float = 0.35) -> np.ndarray:
    """A struck bar: fundamental and two partials, 1 ms attack, 0.12 s decay, the last 30 ms faded out
    (`fade_out`), `[round(length * sr)]`."""
    n = round(length * sample_rate)
    t = np.arange(n) / sample_rate
    wave = np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(2 * np.pi * 2 * freq * t) + 0.15 * np.sin(2 * np.pi * 3 * freq * t)
    return fade_out((0.4 * wave * envelope(n, sample_rate, 0.001, 0.12)).astype(np.float32), sample_rate, 0.03)


def glide(freq: np.ndarray, sample_rate: int, amplitude: float = 0.3) -> np.ndarray:
    """A tone whose instantaneous frequency is `freq` `[N]` (Hz per sample), phase-continuous."""
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    n = len(freq)
    ramp = min(n // 2, round(0.02 * sample_rate))
    env = np.ones(n, np.float32)
    env[:ramp] = np.linspace(0, 1, ramp)
    env[n - ramp :] = np.linspace(1, 0, ramp)
    return (amplitude * np.sin(phase) * env).astype(np.float32)


def place(track: np.ndarray, sound: np.ndarray, t: float, sample_rate: int) -> None:
    """Add `sound` into `track` `[N]` so its first sample lands at sample `round(t * sr)`."""
    start = round(t * sample_rate)
    if start >= len(track):
        return
    end = min(len(track), start + len(sound))
    track[start:end] += sound[: end - start]
