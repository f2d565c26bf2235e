"""Perturbed copies of clips, for calibrating metrics: each degrades sync or content in a known way."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CCLBenchError
from ..io import AVClip, fit_length, shift_audio

KINDS = ("offset", "swap", "freeze", "silence")
SWAP_PAIRING = "uniform random derangement drawn by the build seed"


def swap_sources(num: int, seed: int) -> np.ndarray:
    """`[num]`: whose sound clip i gets under `swap`, a derangement (no clip keeps its own) drawn uniformly
    by `seed` (a permutation redrawn until it has no fixed point). Each clip's source is thus uniform over
    the other clips, as the mismatched pairs of a `-cc` metric's chance level are: a swapped set scores
    chance in expectation. (A fixed next-clip swap pairs each family with the next one only and lands
    below chance.)"""
    if num < 2:
        raise CCLBenchError(f"perturbation swap needs at least 2 clips (--num 2 or more), got {num}")
    rng = np.random.default_rng([seed, 0x5A9])
    while True:
        perm = rng.permutation(num)
        if not (perm == np.arange(num)).any():
            return perm


def parse_perturbation(text: str | None) -> dict[str, Any] | None:
    """'offset=0.16' -> {'kind': 'offset', 'seconds': 0.16}; 'swap' | 'freeze' | 'silence' -> {'kind': ...}."""
    if text is None:
        return None
    kind, _, arg = text.partition("=")
    if kind not in KINDS:
        raise CCLBenchError(f"unknown perturbation '{text}' (use offset=SECONDS, swap, freeze or silence)")
    if kind == "offset":
        try:
            return {"kind": "offset", "seconds": float(arg)}
        except ValueError:
            raise CCLBenchError(f"perturbation '{text}': offset needs seconds, e.g. offset=0.16") from None
    if arg:
        raise CCLBenchError(f"perturbation '{text}': {kind} takes no value")
    return {"kind": kind}


def apply_perturbation(clip: AVClip, perturbation: dict[str, Any], other_audio: np.ndarray | None = None) -> AVClip:
    """Return a perturbed copy. offset: audio delayed by `seconds` (negative: earlier), zero-filled;
    swap: audio replaced by `other_audio` (another clip's, see `swap_sources`); freeze: every frame is the first one;
    silence: audio all zeros."""
    video, audio = clip.video, clip.audio
    kind = perturbation["kind"]
    if kind == "offset":
        audio = shift_audio(audio, perturbation["seconds"], clip.sample_rate)
    elif kind == "swap":
        if other_audio is None:
            raise ValueError("swap needs the other clip's audio")
        audio = fit_length(other_audio.astype(np.float32), clip.num_samples)
    elif kind == "freeze":
        video = np.repeat(video[:1], clip.num_frames, axis=0)
    elif kind == "silence":
        audio = np.zeros_like(audio)
    else:
        raise ValueError(f"unknown perturbation {kind}")
    meta = dict(clip.metadata, perturbation=perturbation)
    return AVClip(video=video, fps=clip.fps, audio=audio, sample_rate=clip.sample_rate, metadata=meta)
