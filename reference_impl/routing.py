"""The five tasks and Dynamic Context Routing: what each stream's cross-modal attention may read.

| task | generated | video reads partner | audio reads partner |
|------|-----------|---------------------|---------------------|
| t2v  | video     | no (LCT only)       | no                  |
| t2a  | audio     | no                  | no (LCT only)       |
| t2av | both      | noisy audio         | noisy video         |
| a2v  | video     | clean audio (t = 0) | no                  |
| v2a  | audio     | no                  | clean video (t = 0) |

With routing 'task' (CCL's DCR, and the baselines' "branch zeroed" convention) a stream reads its
partner only where the table says so; 'always' reads it for every task (the `ccl-no-dcr` ablation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import torch


class Task(StrEnum):
    T2V = "t2v"
    T2A = "t2a"
    T2AV = "t2av"
    A2V = "a2v"
    V2A = "v2a"

    @property
    def generates_video(self) -> bool:
        return self in (Task.T2V, Task.T2AV, Task.A2V)

    @property
    def generates_audio(self) -> bool:
        return self in (Task.T2A, Task.T2AV, Task.V2A)

    @property
    def video_reads_audio(self) -> bool:
        return self in (Task.T2AV, Task.A2V)

    @property
    def audio_reads_video(self) -> bool:
        return self in (Task.T2AV, Task.V2A)

    @property
    def training_probability(self) -> float:
        """The paper's task mix [reported]: T2V 0.10, T2A 0.10, T2AV 0.60, A2V 0.15, V2A 0.15."""
        return {Task.T2V: 0.10, Task.T2A: 0.10, Task.T2AV: 0.60, Task.A2V: 0.15, Task.V2A: 0.15}[self]


@dataclass
class Route:
    """Per example, each `[B]` bool: may the video stream read audio tokens, may the audio stream read
    video tokens; `lct_on`: are the learnable context tokens readable (False with no partner = the
    cross-modal branch zeroed, the baselines' "no modality"); `perturbed`: skip self-attention in
    `stg_layers` (LTX-2's perturbed guidance pass)."""

    video_reads_audio: torch.Tensor
    audio_reads_video: torch.Tensor
    lct_on: torch.Tensor | None = None
    perturbed: torch.Tensor | None = None
    stg_layers: tuple[int, ...] = ()
    # Python facts known where the route is made, so the model needs no device-to-host sync to skip
    # work (which keeps it capturable in a CUDA graph): may lct_on hold a False, perturbed a True?
    lct_may_be_off: bool | None = None
    may_perturb: bool | None = None

    def __post_init__(self):
        b, dev = self.video_reads_audio.shape[0], self.video_reads_audio.device
        if self.lct_may_be_off is None:
            self.lct_may_be_off = self.lct_on is not None
        if self.may_perturb is None:
            self.may_perturb = self.perturbed is not None and bool(self.stg_layers)
        if self.lct_on is None:
            self.lct_on = torch.ones(b, dtype=torch.bool, device=dev)
        if self.perturbed is None:
            self.perturbed = torch.zeros(b, dtype=torch.bool, device=dev)

    @classmethod
    def cat(cls, routes: Sequence[Route]) -> Route:
        """Concatenate along the batch (guidance passes run as one call)."""
        cat = lambda name: torch.cat([getattr(r, name) for r in routes])  # noqa: E731
        return cls(cat("video_reads_audio"), cat("audio_reads_video"), cat("lct_on"), cat("perturbed"),
                   routes[0].stg_layers, lct_may_be_off=any(r.lct_may_be_off for r in routes),
                   may_perturb=any(r.may_perturb for r in routes))

    @classmethod
    def for_tasks(cls, tasks: Sequence[Task | str], routing: str, device=None) -> Route:
        tasks = [Task(t) for t in tasks]
        if routing == "always":
            ones = torch.ones(len(tasks), dtype=torch.bool, device=device)
            return cls(ones, ones.clone())
        if routing != "task":
            raise ValueError(f"routing must be 'task' or 'always', got '{routing}'")
        v = torch.tensor([t.video_reads_audio for t in tasks], dtype=torch.bool, device=device)
        a = torch.tensor([t.audio_reads_video for t in tasks], dtype=torch.bool, device=device)
        return cls(v, a)

    @classmethod
    def constant(cls, batch: int, video_reads_audio: bool, audio_reads_video: bool, lct_on: bool = True,
                 device=None) -> Route:
        """One route for the whole batch (e.g. UCG's LCT-only branch: no partner, LCT on)."""
        full = lambda b: torch.full((batch,), b, dtype=torch.bool, device=device)  # noqa: E731
        return cls(full(video_reads_audio), full(audio_reads_video), full(lct_on), lct_may_be_off=not lct_on)
