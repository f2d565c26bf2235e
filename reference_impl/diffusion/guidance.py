"""Guidance schemes: which passes run per step, and how their predictions combine.

With `e(text, ctx)` the model's prediction, `c` the caption, `0` the empty caption, `X` the other
stream's tokens (noisy in T2AV, clean in A2V/V2A), `LCT` the learnable-context-only state and `off`
the cross-modal branch zeroed (the baselines' "no other modality"). The controlled schemes, the same
for every model:
- `cfg` (2 passes):       e(0, off) + s_t [e(c, X) - e(0, off)]
- `ucg` (2 passes):       e(0, LCT) + s_t [e(c, X) - e(0, LCT)]                       (compact UCG)
- `ucg-joint` (3 passes): e(0, LCT) + s_t [e(c, LCT) - e(0, LCT)] + s_m [e(c, X) - e(c, LCT)]
- `ltx2` (4 passes):      e(c, X) + (s_t - 1) [e(c, X) - e(0, X)] + s_p [e(c, X) - e_pert(c, X)]
                          + (s_m - 1) [e(c, X) - e(c, off)]   (cond, uncond text, perturbed, isolated)
The baselines' own recipes, as their sources sample:
- `ovi-native` (2 passes): e_slg(0, X) + s [e(c, X) - e_slg(0, X)]: the negative pass keeps the fusion on
  and skips one layer's self-attention (Ovi's skip-layer guidance, layer 11 of 30, scaled to the depth);
  s is `text` for video and `audio_text` for audio (Ovi: 4.0 and 3.0).
- `ltx2-native` (4 passes): `ltx2`'s passes and formula, the perturbed pass replacing self-attention by
  its values at one late block (LTX-2: block 29 of 48, scaled), per-modality scales, then rescaled
  towards the conditional prediction's spread: `g <- r g std(e(c, X)) / std(g) + (1 - r) g`, r = 0.7.
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
    perturb_mode: str = "skip"  # skip (STG, Ovi's SLG) | values (LTX-2: attention -> V)


SCHEMES: dict[str, tuple[Pass, ...]] = {
    "cfg": (Pass(True, "task"), Pass(False, "off")),
    "ucg": (Pass(True, "task"), Pass(False, "lct")),
    "ucg-joint": (Pass(False, "lct"), Pass(True, "lct"), Pass(True, "task")),
    "ltx2": (Pass(True, "task"), Pass(False, "task"), Pass(True, "task", perturbed=True), Pass(True, "off")),
    "ovi-native": (Pass(True, "task"), Pass(False, "task", perturbed=True)),
    "ltx2-native": (Pass(True, "task"), Pass(False, "task"), Pass(True, "task", perturbed=True, perturb_mode="values"),
                    Pass(True, "off")),
}
CONTROLLED = ("cfg", "ucg", "ucg-joint", "ltx2")
NATIVE = ("ovi-native", "ltx2-native")
# The layer a native recipe perturbs, as a fraction of the depth (Ovi: 11 of 30; LTX-2: 29 of 48).
NATIVE_LAYER = {"ovi-native": 11 / 30, "ltx2-native": 29 / 48}


def perturbed_layers(scheme: str, layers: int, default: tuple[int, ...]) -> tuple[int, ...]:
    """The self-attention layers a scheme's perturbed pass touches: a native recipe's own, else `default`."""
    if scheme in NATIVE_LAYER:
        return (min(layers - 1, round(NATIVE_LAYER[scheme] * layers)),)
    return default


@dataclass(frozen=True)
class GuidanceScales:
    text: float = 4.0  # s_t
    modality: float = 2.0  # s_m
    perturbed: float = 1.0  # s_p (LTX-2's spatio-temporal guidance)
    audio_text: float | None = None  # s_t of the audio stream (None: `text`; Ovi's recipe: 3.0)
    audio_modality: float | None = None  # s_m of the audio stream (None: `modality`)
    rescale: float = 0.7  # ltx2-native: how far the guided prediction is rescaled to the conditional's spread

    def for_stream(self, stream: str) -> GuidanceScales:
        """The scales one stream is guided with ('video' or 'audio')."""
        if stream == "video":
            return self
        return GuidanceScales(self.text if self.audio_text is None else self.audio_text,
                              self.modality if self.audio_modality is None else self.audio_modality,
                              self.perturbed, rescale=self.rescale)


def passes_per_step(scheme: str) -> int:
    return len(SCHEMES[scheme])


def pass_route(p: Pass, tasks: list[Task], routing: str, stg_layers: tuple[int, ...], device) -> Route:
    b = len(tasks)
    if p.context == "task":
        r = Route.for_tasks(tasks, routing, device)
    else:
        r = Route.constant(b, False, False, lct_on=p.context == "lct", device=device)
    r.perturbed = torch.full((b,), p.perturbed, dtype=torch.bool, device=device)
    r.stg_layers, r.may_perturb, r.perturb_mode = stg_layers, p.perturbed and bool(stg_layers), p.perturb_mode
    return r


def combine(scheme: str, preds: list[torch.Tensor], s: GuidanceScales) -> torch.Tensor:
    """Predictions of the passes (in `SCHEMES[scheme]` order, `[B, ...]` each) -> the guided prediction."""
    if scheme in ("cfg", "ucg", "ovi-native"):
        cond, uncond = preds
        return uncond + s.text * (cond - uncond)
    if scheme == "ucg-joint":
        e00, e10, e11 = preds
        return e00 + s.text * (e10 - e00) + s.modality * (e11 - e10)
    if scheme in ("ltx2", "ltx2-native"):
        cond, uncond_text, perturbed, isolated = preds
        g = (cond + (s.text - 1) * (cond - uncond_text) + s.perturbed * (cond - perturbed)
             + (s.modality - 1) * (cond - isolated))
        if scheme == "ltx2-native" and s.rescale:
            dims = tuple(range(1, g.dim()))
            ratio = cond.std(dim=dims, keepdim=True) / g.std(dim=dims, keepdim=True).clamp_min(1e-12)
            g = s.rescale * g * ratio + (1 - s.rescale) * g
        return g
    raise ValueError(f"unknown guidance '{scheme}' (known: {', '.join(SCHEMES)})")


def guided_prediction(model, scheme: str, scales: GuidanceScales, xv, xa, tv, ta, tasks: list[Task],
                      text, text_mask, null_text, null_mask, stg_layers=(1,)):
    """All passes of one step in one batched call -> guided (video, audio) predictions."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown guidance '{scheme}' (known: {', '.join(SCHEMES)})")
    passes = SCHEMES[scheme]
    n, dev = len(passes), xv.device
    cat = lambda x: torch.cat([x] * n)  # noqa: E731
    texts = torch.cat([text if p.text else null_text for p in passes])
    masks = None if text_mask is None else torch.cat([text_mask if p.text else null_mask for p in passes])
    stg_layers = perturbed_layers(scheme, getattr(model.cfg, "layers", 0), stg_layers)
    route = Route.cat([pass_route(p, tasks, model.cfg.routing, stg_layers, dev) for p in passes])
    pv, pa = model(cat(xv), cat(xa), cat(tv), cat(ta), texts, masks, route=route)
    return (combine(scheme, list(pv.chunk(n)), scales.for_stream("video")),
            combine(scheme, list(pa.chunk(n)), scales.for_stream("audio")))
