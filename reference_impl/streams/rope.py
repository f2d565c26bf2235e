"""Rotary position embeddings as angles: `apply_rope(x, angles)` rotates adjacent channel pairs.

Wan pairs channels (2i, 2i+1) and splits a head's d/2 pairs into bands [d/2 - 2(d/2 // 3), d/2 // 3,
d/2 // 3] for (time, height, width), each band with frequencies `theta^(-2k / (2 * band))`."""

from __future__ import annotations

from collections.abc import Callable

import torch


def band_frequencies(pairs: int, theta: float = 1e4, device=None) -> torch.Tensor:
    """Inverse frequencies `[pairs]` of one band: `theta ** (-2k / (2 * pairs))`, k = 0..pairs-1."""
    k = torch.arange(pairs, dtype=torch.float64, device=device)
    return theta ** (-(2 * k) / (2 * pairs))


def wan_bands(head_dim: int) -> tuple[int, int, int]:
    c = head_dim // 2
    return c - 2 * (c // 3), c // 3, c // 3


def rope_angles_1d(positions: torch.Tensor, head_dim: int, theta: float = 1e4) -> torch.Tensor:
    """positions `[..., N]` (any unit, float) -> angles `[..., N, head_dim / 2]` over all pairs."""
    return positions.double()[..., None] * band_frequencies(head_dim // 2, theta, positions.device)


def rope_angles_3d(f: torch.Tensor, h: torch.Tensor, w: torch.Tensor, head_dim: int, theta: float = 1e4) -> torch.Tensor:
    """Token grid positions `[N]` each -> angles `[N, head_dim / 2]`: time, height, width bands."""
    bt, bh, bw = wan_bands(head_dim)
    return torch.cat(
        [
            f.double()[:, None] * band_frequencies(bt, theta, f.device),
            h.double()[:, None] * band_frequencies(bh, theta, f.device),
            w.double()[:, None] * band_frequencies(bw, theta, f.device),
        ],
        dim=1,
    )


def grid_positions(frames: int, height: int, width: int, device=None) -> tuple[torch.Tensor, ...]:
    """(f, h, w) index of each token of a `frames x height x width` grid in raster order, `[N]` each."""
    f, h, w = torch.meshgrid(
        torch.arange(frames, device=device), torch.arange(height, device=device), torch.arange(width, device=device),
        indexing="ij",
    )
    return f.flatten(), h.flatten(), w.flatten()


class Rotary(tuple):
    """Precomputed (cos, sin), float32 `[1, N, 1, d/2]`: make it once per forward, rotate many times."""

    __slots__ = ()

    def __new__(cls, angles: torch.Tensor):
        if angles.dim() == 2:
            angles = angles[None]
        return super().__new__(cls, (torch.cos(angles)[:, :, None].float(), torch.sin(angles)[:, :, None].float()))


def apply_rope(x: torch.Tensor, rot: Rotary | torch.Tensor) -> torch.Tensor:
    """x `[B, N, heads, d]`; rot a `Rotary`, or angles `[N, d/2]` / `[B, N, d/2]` (radians) -> rotated
    x, same dtype. Pairs (x[2i], x[2i+1]) rotate by angle i, as complex multiplication by exp(i angle)."""
    cos, sin = rot if isinstance(rot, Rotary) else Rotary(rot)
    xf = x.float()
    x0, x1 = xf[..., 0::2], xf[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2).type_as(x)


_TABLES: dict[tuple, Rotary] = {}


def cached_rotary(key: tuple, angles: Callable[[], torch.Tensor]) -> Rotary:
    """The `Rotary` of `angles()`, made once per key (the configuration and shape it depends on, and the
    device) and reused. Inside a forward compiled whole, a table built in the graph is not stored but
    recomputed (float64 sin and cos) in every kernel that reads it: measured on an H100 at `small` scale,
    ~20 ms of a 175 ms training step. Made on first use: a caller that compiles the forward whole runs it
    once eagerly first (as the Trainer does), so the compiled graph reads the table as an input."""
    if key not in _TABLES:
        with torch.inference_mode(False):  # first made under inference mode, it still serves training
            _TABLES[key] = Rotary(angles())
    return _TABLES[key]
