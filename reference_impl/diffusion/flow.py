"""Rectified flow, as Wan: `x_t = (1 - t) x_0 + t noise`, the network predicts `v = noise - x_0`;
timesteps are shifted `t' = s t / (1 + (s - 1) t)` (s > 1 spends more steps at high noise)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..routing import Route, Task, task_ids, task_table


def shift_timesteps(t: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * t / (1 + (shift - 1) * t)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """`(1 - t) x0 + t noise`, t `[B]` broadcast over the other dims."""
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    return (1 - tt) * x0 + tt * noise


def stream_inputs(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, generated: torch.Tensor,
                  conditioning: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What a stream is fed per example: generated -> noisy `x_t` at t; conditioning -> clean `x_0` at
    t = 0; absent (neither, e.g. audio in T2V) -> pure noise at t = 1. Returns (input, t)."""
    t_in = torch.where(generated, t, torch.where(conditioning, torch.zeros_like(t), torch.ones_like(t)))
    return interpolate(x0, noise, t_in), t_in


def task_flags(tasks: Sequence[Task] | torch.Tensor, device) -> dict[str, torch.Tensor]:
    """Per example `[B]` bool: generates video / audio, video / audio is the clean condition. tasks: a
    list, or task ids `[B]` (looked up where they lie: no host round trip)."""
    ids = tasks if isinstance(tasks, torch.Tensor) else task_ids(tasks, device)
    return {
        "gen_v": task_table("generates_video", ids.device)[ids],
        "gen_a": task_table("generates_audio", ids.device)[ids],
        "cond_v": task_table("conditions_audio", ids.device)[ids],
        "cond_a": task_table("conditions_video", ids.device)[ids],
    }


def flow_matching_loss(model, video0, audio0, noise_v, noise_a, t, tasks, text, text_mask=None, routing=None):
    """Per-example loss `[B]`: the mean squared velocity error over each generated stream, averaged
    over the generated streams (T2AV: both). Examples are independent, so a mixed-task batch's mean
    equals the mean of its examples run alone. The route is made here, from the tasks and the
    model's routing rule (or `routing`), and passed to `model(..., route=...)`."""
    f = task_flags(tasks, video0.device)
    xv, tv = stream_inputs(video0, noise_v, t, f["gen_v"], f["cond_v"])
    xa, ta = stream_inputs(audio0, noise_a, t, f["gen_a"], f["cond_a"])
    route = Route.for_tasks(tasks, routing or model.cfg.routing, video0.device)
    pv, pa = model(xv, xa, tv, ta, text, text_mask, route=route)
    lv = (pv.float() - (noise_v - video0).float()).pow(2).flatten(1).mean(1)
    la = (pa.float() - (noise_a - audio0).float()).pow(2).flatten(1).mean(1)
    gv, ga = f["gen_v"].float(), f["gen_a"].float()
    return (gv * lv + ga * la) / (gv + ga)
