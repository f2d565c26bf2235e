"""The five tasks and Dynamic Context Routing: what each stream's cross-modal attention may read.

| task | generated | video reads partner | audio reads partner |
|------|-----------|---------------------|---------------------|
| t2v  | video     | no (LCT only)       | no                  |
| t2a  | audio     | no                  | no (LCT only)       |
| t2av | both      | noisy audio         | noisy video         |
| a2v  | video     | clean audio (t = 0) | no                  |
| v2a  | audio     | no                  | clean video (t = 0) |

With routing 'task' (CCL's DCR, and the baselines' "branch zeroed" convention) a stream reads its
partner only where the table says so; 'always' reads it for every task (the `ccl-no-dcr` ablation);
't2av-only' routes as 'task' but trains on T2AV alone (the baselines' published recipes), so the
zeroed branch of a partner-less task at inference is a state the model never trained in.

Tasks also travel as integer ids `[B]` (index into `TASKS`) so a training batch can be drawn and
routed on the GPU with no host round trip."""

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
    def conditions_audio(self) -> bool:
        """The video stream is the clean condition of generated audio (V2A)."""
        return self is Task.V2A

    @property
    def conditions_video(self) -> bool:
        """The audio stream is the clean condition of generated video (A2V)."""
        return self is Task.A2V

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

TASKS = list(Task)
ROUTINGS = ("task", "always", "t2av-only")


def default_task_probs(routing: str) -> dict[str, float]:
    """The training task mix a routing implies: the paper's five-task mix, or T2AV alone."""
    if routing not in ROUTINGS:
        raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}, got '{routing}'")
    if routing == "t2av-only":
        return {"t2av": 1.0}
    return {t.value: t.training_probability for t in Task}


_TABLES: dict[tuple[str, str], torch.Tensor] = {}


def task_table(prop: str, device=None) -> torch.Tensor:
    """`[len(TASKS)]` bool: a `Task` property (e.g. 'generates_video') per task id. Made once per
    device (a training step then copies nothing from the host)."""
    key = (prop, str(torch.device(device or "cpu")))
    if key not in _TABLES:
        _TABLES[key] = torch.tensor([bool(getattr(t, prop)) for t in TASKS], dtype=torch.bool, device=device)
    return _TABLES[key]


def task_ids(tasks: Sequence[Task | str], device=None) -> torch.Tensor:
    """Tasks -> their ids `[B]` (long)."""
    return torch.tensor([TASKS.index(Task(t)) for t in tasks], dtype=torch.long, device=device)


@dataclass
class Route:
    """Per example, each `[B]` bool: may the video stream read audio tokens, may the audio stream read
    video tokens; `lct_on`: are the learnable context tokens readable (False with no partner = the
    cross-modal branch zeroed, the baselines' "no modality"); `perturbed`: perturb self-attention in
    `stg_layers` the `perturb_mode` way (a perturbed guidance pass)."""

    video_reads_audio: torch.Tensor
    audio_reads_video: torch.Tensor
    lct_on: torch.Tensor | None = None
    perturbed: torch.Tensor | None = None
    stg_layers: tuple[int, ...] = ()
    # Python facts known where the route is made, so the model needs no device-to-host sync to skip
    # work (which keeps it capturable in a CUDA graph): may lct_on hold a False, perturbed a True?
    lct_may_be_off: bool | None = None
    may_perturb: bool | None = None
    perturb_mode: str = "skip"  # skip: self-attention skipped (STG, Ovi's SLG) | values: attention -> V (LTX-2)
    # The two partner switches as host values, where the route is made from host data (a task list, a
    # constant route), else None: attention can then drop its per-example mask or split the batch
    # (joint attention on the fused kernel) without reading the device tensors back.
    video_reads_audio_host: tuple[bool, ...] | None = None
    audio_reads_video_host: tuple[bool, ...] | None = None

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
                   may_perturb=any(r.may_perturb for r in routes),
                   perturb_mode=next((r.perturb_mode for r in routes if r.may_perturb), "skip"),
                   video_reads_audio_host=_cat_host([r.video_reads_audio_host for r in routes]),
                   audio_reads_video_host=_cat_host([r.audio_reads_video_host for r in routes]))

    @classmethod
    def for_tasks(cls, tasks: Sequence[Task | str] | torch.Tensor, routing: str, device=None) -> Route:
        """tasks: a list of tasks, or their ids `[B]` (a tensor: routed where it lies, no host copy)."""
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}, got '{routing}'")
        ids = tasks if isinstance(tasks, torch.Tensor) else task_ids(tasks, device)
        if routing == "always":
            ones = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
            every = (True,) * ids.shape[0]
            return cls(ones, ones.clone(), video_reads_audio_host=every, audio_reads_video_host=every)
        # 'task' and 't2av-only' route alike; they differ in the training task mix only.
        v = task_table("video_reads_audio", ids.device)[ids]
        a = task_table("audio_reads_video", ids.device)[ids]
        if isinstance(tasks, torch.Tensor):
            return cls(v, a)
        return cls(v, a, video_reads_audio_host=tuple(Task(t).video_reads_audio for t in tasks),
                   audio_reads_video_host=tuple(Task(t).audio_reads_video for t in tasks))

    @classmethod
    def constant(cls, batch: int, video_reads_audio: bool, audio_reads_video: bool, lct_on: bool = True,
                 device=None) -> Route:
        """One route for the whole batch (e.g. UCG's LCT-only branch: no partner, LCT on)."""
        full = lambda b: torch.full((batch,), b, dtype=torch.bool, device=device)  # noqa: E731
        return cls(full(video_reads_audio), full(audio_reads_video), full(lct_on), lct_may_be_off=not lct_on,
                   video_reads_audio_host=(video_reads_audio,) * batch, audio_reads_video_host=(audio_reads_video,) * batch)


def _cat_host(parts: Sequence[tuple[bool, ...] | None]) -> tuple[bool, ...] | None:
    """Host values of concatenated routes: known only where every part's are."""
    return None if any(p is None for p in parts) else tuple(x for p in parts for x in p)
