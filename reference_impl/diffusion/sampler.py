"""Flow samplers (Euler, Heun) for every task, with any guidance scheme.

Time runs from t = 1 (noise) to t = 0 over `steps` shifted steps. Only generated streams move; a
conditioning stream stays clean at t = 0; an absent stream stays noise at t = 1."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..routing import Task
from .flow import shift_timesteps, task_flags
from .guidance import GuidanceScales, guided_prediction, passes_per_step


@dataclass
class SampleInfo:
    passes_per_step: int
    model_calls: int  # batched forward calls (one per evaluation)
    nfe_per_clip: int  # network evaluations per clip: passes x evaluations


def timestep_schedule(steps: int, shift: float, device=None) -> torch.Tensor:
    return shift_timesteps(torch.linspace(1.0, 0.0, steps + 1, device=device, dtype=torch.float64), shift).float()


@torch.no_grad()
def sample(model, task: Task | str, text, text_mask, null_text, null_mask, video_shape, audio_shape,
           cond_video=None, cond_audio=None, steps: int = 25, sampler: str = "euler", guidance: str = "ucg",
           scales: GuidanceScales | None = None, shift: float = 3.0, generator: torch.Generator | None = None,
           init_noise: tuple[torch.Tensor, torch.Tensor] | None = None,
           stg_layers: tuple[int, ...] = (1,)):
    """text `[B, L, D]` (+ mask), null_text the empty caption's embedding; shapes `(B, C, ...)` of the
    latents; cond_video / cond_audio clean latents for V2A / A2V. -> (video, audio, SampleInfo)."""
    task = Task(task)
    scales = scales or GuidanceScales()
    dev = text.device
    b = text.shape[0]
    tasks = [task] * b
    f = task_flags(tasks, dev)
    if init_noise is None:
        init_noise = tuple(torch.randn(s, generator=generator, device="cpu") for s in (video_shape, audio_shape))
    xv = cond_video if task == Task.V2A else init_noise[0].to(dev)
    xa = cond_audio if task == Task.A2V else init_noise[1].to(dev)
    if (task == Task.V2A and cond_video is None) or (task == Task.A2V and cond_audio is None):
        raise ValueError(f"task {task.value} needs the conditioning {'video' if task == Task.V2A else 'audio'}")
    gen_v, gen_a = bool(f["gen_v"][0]), bool(f["gen_a"][0])
    ts = timestep_schedule(steps, shift, dev)
    calls = 0

    def velocity(xv, xa, t):
        nonlocal calls
        calls += 1
        tt = torch.full((b,), float(t), device=dev)
        tv = tt if gen_v else (torch.zeros_like(tt) if task == Task.V2A else torch.ones_like(tt))
        ta = tt if gen_a else (torch.zeros_like(tt) if task == Task.A2V else torch.ones_like(tt))
        return guided_prediction(model, guidance, scales, xv, xa, tv, ta, tasks, text, text_mask, null_text,
                                 null_mask, stg_layers)

    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        dt = float(t_next - t)
        vv, va = velocity(xv, xa, t)
        if sampler == "heun" and float(t_next) > 0:
            pv = xv + dt * vv if gen_v else xv
            pa = xa + dt * va if gen_a else xa
            vv2, va2 = velocity(pv, pa, t_next)
            vv, va = (vv + vv2) / 2, (va + va2) / 2
        elif sampler not in ("euler", "heun"):
            raise ValueError(f"unknown sampler '{sampler}' (euler or heun)")
        if gen_v:
            xv = xv + dt * vv
        if gen_a:
            xa = xa + dt * va
    p = passes_per_step(guidance)
    return xv, xa, SampleInfo(passes_per_step=p, model_calls=calls, nfe_per_clip=p * calls)
