"""Guidance schemes: which passes run per step, and how their predictions combine.

With `e(text, ctx)` the model's prediction, `c` the caption, `0` the empty caption, `X` the other
stream's tokens (noisy in T2AV, clean in A2V/V2A), `LCT` the learnable-context-only state and `off`
the cross-modal branch zeroed (the baselines' "no other modality"):
- `cfg` (2 passes):       e(0, off) + s_t [e(c, X) - e(0, off)]
- `ucg` (2 passes):       e(0, LCT) + s_t [e(c, X) - e(0, LCT)]                       (compact UCG)
- `ucg-joint` (3 passes): e(0, LCT) + s_t [e(c, LCT) - e(0, LCT)] + s_m [e(c, X) - e(c, LCT)]
- `ltx2` (4 passes):      e(c, X) + (s_t - 1) [e(c, X) - e(0, X)] + s_p [e(c, X) - e_pert(c, X)]
                          + (s_m - 1) [e(c, X) - e(c, off)]   (cond, uncond text, perturbed, isolated)
For a model without LCT the LCT state is the zeroed branch, so `ucg` reduces to `cfg`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..routing import Route, Task


@dataclass(frozen=True)
class Pass:
    text: bool  # the caption (True) or the empty caption
    context: str  # "task": the partner the task gives | "lct": LCT only | "off": branch zeroed
    perturbed: bool = False


SCHEMES: dict[str, tuple[Pass, ...]] = {
    "cfg": (Pass(True, "task"), Pass(False, "off")),
    "ucg": (Pass(True, "task"), Pass(False, "lct")),
    "ucg-joint": (Pass(False, "lct"), Pass(True, "lct"), Pass(True, "task")),
    "ltx2": (Pass(True, "task"), Pass(False, "task"), Pass(True, "task", perturbed=True), Pass(True, "off")),
}


@dataclass(frozen=True)
class GuidanceScales:
    text: float = 4.0  # s_t
    modality: float = 2.0  # s_m
    perturbed: float = 1.0  # s_p (LTX-2's spatio-temporal guidance)


def passes_per_step(scheme: str) -> int:
    return len(SCHEMES[scheme])


def pass_route(p: Pass, tasks: list[Task], routing: str, stg_layers: tuple[int, ...], device) -> Route:
    b = len(tasks)
    if p.context == "task":
        r = Route.for_tasks(tasks, routing, device)
    else:
        r = Route.constant(b, False, False, lct_on=p.context == "lct", device=device)
    r.perturbed = torch.full((b,), p.perturbed, dtype=torch.bool, device=device)
    r.stg_layers, r.may_perturb = stg_layers, p.perturbed and bool(stg_layers)
    return r


def combine(scheme: str, preds: list[torch.Tensor], s: GuidanceScales) -> torch.Tensor:
    """Predictions of the passes (in `SCHEMES[scheme]` order) -> the guided prediction."""
    if scheme in ("cfg", "ucg"):
        cond, uncond = preds
        return uncond + s.text * (cond - uncond)
    if scheme == "ucg-joint":
        e00, e10, e11 = preds
        return e00 + s.text * (e10 - e00) + s.modality * (e11 - e10)
    if scheme == "ltx2":
        cond, uncond_text, perturbed, isolated = preds
        return (cond + (s.text - 1) * (cond - uncond_text) + s.perturbed * (cond - perturbed)
                + (s.modality - 1) * (cond - isolated))
    raise ValueError(f"unknown guidance '{scheme}' (known: {', '.join(SCHEMES)})")


def guided_prediction(model, scheme: str, scales: GuidanceScales, xv, xa, tv, ta, tasks: list[Task],
                      text, text_mask, null_text, null_mask, stg_layers=(1,)):
    """All passes of one step in one batched call -> guided (video, audio) predictions."""
    passes = SCHEMES[scheme]
    n, dev = len(passes), xv.device
    cat = lambda x: torch.cat([x] * n)  # noqa: E731
    texts = torch.cat([text if p.text else null_text for p in passes])
    masks = None if text_mask is None else torch.cat([text_mask if p.text else null_mask for p in passes])
    route = Route.cat([pass_route(p, tasks, model.cfg.routing, stg_layers, dev) for p in passes])
    pv, pa = model(cat(xv), cat(xa), cat(tv), cat(ta), texts, masks, route=route)
    return combine(scheme, list(pv.chunk(n)), scales), combine(scheme, list(pa.chunk(n)), scales)
