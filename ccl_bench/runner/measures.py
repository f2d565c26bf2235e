"""Claim measurements that need a model (the runner joins models and data; the claims study reads the
per-example values they write, `<runs>/seed<k>/measures/<measure>/<model>.json`).

- claim 1, `prediction-drift`: how far a stage-2 model's T2V and T2A predictions moved from the
  stage-1 streams' on held-out noised latents, partner absent.
- claim 2, `background-audio-share` / `foreground-audio-share`: the share of video queries'
  cross-modal attention mass that lands on audio tokens (the rest on the learnable context tokens),
  for background patches (nothing sounds there) and for the sounding object's patches.

Attention is recomputed from the interaction's own projections on the inputs a forward hook sees, so
the models need no change: `attention_weights` of the captured q and [LCT; audio] keys, with the
route's and TARP's masks, is the softmax the model's attention applies (a test checks the output)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DRIFT_LEVELS = (0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.97)  # [design] t on a fixed grid (Wan-shifted range)


def _noise(seed: int, index: int, shape) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index, 7]).generate_state(1)[0]))
    return torch.randn(shape, generator=g)


def _partner_absent(model, batch: int, device):
    """The route of a stream generated alone: no partner; LCT readable where the model has them
    (CCL's T2V/T2A state; a model without LCT gets an exact zero branch, the baselines' convention)."""
    from reference_impl import Route

    return Route.constant(batch, False, False, lct_on=True, device=device)


@torch.no_grad()
def _alone(model, video0, audio0, text, mask, t: float, nv, na, stream: str):
    """The prediction of one stream generated alone at noise level t (the other: pure noise at t = 1)."""
    b = video0.shape[0]
    tt = torch.full((b,), t, device=video0.device)
    one = torch.ones(b, device=video0.device)
    xv = (1 - t) * video0 + t * nv if stream == "video" else nv
    xa = (1 - t) * audio0 + t * na if stream == "audio" else na
    pv, pa = model(xv, xa, tt if stream == "video" else one, tt if stream == "audio" else one, text, mask,
                   route=_partner_absent(model, b, video0.device))
    return pv if stream == "video" else pa


def _rel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-example ||a - b|| / ||b|| `[B]`."""
    return (a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def prediction_drift(model, stage1, video0: torch.Tensor, audio0: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                     levels=DRIFT_LEVELS, seed: int = 0, batch: int = 16) -> np.ndarray:
    """Claim 1. video0 `[N, Cv, F, H, W]`, audio0 `[N, Ca, T]` clean held-out latents, text `[N, L, D]`.
    -> `[N]`: per clip, the mean over `levels` and the two streams (T2V's video, T2A's audio) of the
    relative L2 distance of `model`'s prediction from `stage1`'s, both with the partner absent. The
    same noise for both models (seeded by clip index and level)."""
    out = []
    dev = video0.device
    for s in range(0, len(video0), batch):
        v, a, tx, m = video0[s:s + batch], audio0[s:s + batch], text[s:s + batch], text_mask[s:s + batch]
        per = []
        for j, t in enumerate(levels):
            nv = torch.stack([_noise(seed, (s + i) * 1000 + j, v.shape[1:]) for i in range(len(v))]).to(dev)
            na = torch.stack([_noise(seed + 1, (s + i) * 1000 + j, a.shape[1:]) for i in range(len(a))]).to(dev)
            for stream in ("video", "audio"):
                per.append(_rel(_alone(model, v, a, tx, m, t, nv, na, stream), _alone(stage1, v, a, tx, m, t, nv, na, stream)))
        out.append(torch.stack(per).mean(0).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


@dataclass
class AttentionShares:
    """Per clip `[N]`: mean share of background / foreground video queries' attention mass on audio tokens."""

    background: np.ndarray
    foreground: np.ndarray


def background_tokens(coverage: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray:
    """coverage `[H, W]` in [0, 1]: where the sounding object ever is -> `[f*h*w]` bool, True for a video
    token whose area it never covers (token order as the model's patchify: frame, row, column)."""
    f, h, w = grid
    hh, ww = coverage.shape
    if hh % h or ww % w:
        raise ValueError(f"a {hh}x{ww} mask does not tile a {h}x{w} token grid")
    cell = coverage.reshape(h, hh // h, w, ww // w).max(axis=(1, 3))
    return np.tile((cell <= 0).reshape(-1), f)


def _capture(model):
    """Forward hooks on every video-from-audio attention of the interactions -> (records, handles)."""
    from reference_impl.interactions.ccl import CrossModalContextAttention
    from reference_impl.interactions.gated import GatedCrossAttention

    records, handles = [], []
    for name, mod in model.interactions.named_children():
        att = getattr(mod, "video_from_audio", None)
        if isinstance(att, CrossModalContextAttention):
            handles.append(att.register_forward_hook(lambda m, args, kwargs, out: records.append(("cca", m, args, kwargs)),
                                                     with_kwargs=True))
        elif isinstance(att, GatedCrossAttention):
            handles.append(att.register_forward_hook(lambda m, args, kwargs, out: records.append(("gated", m, args, kwargs)),
                                                     with_kwargs=True))
        else:
            raise ValueError(f"interaction layer {name} ({type(mod).__name__}): the audio share is measured for CCA "
                             "(ccl and its ablations) and gated cross-attention only")
    return records, handles


CCA_ARGS = ("xq", "xkv", "times_q", "times_kv", "lo", "hi", "reads_partner", "lct_on", "rot_q", "rot_kv", "plan",
            "lct_may_be_off")


def video_grid(cfg, video_latent_shape) -> tuple[int, int, int]:
    """The video token grid (f, h, w) of latents `[B, C, F, H, W]` under the model's patch."""
    pt, ph, pw = cfg.video_patch
    _, _, f, h, w = video_latent_shape
    return f // pt, h // ph, w // pw


def cca_weights(att, args: tuple, kwargs: dict, grid: tuple[int, int, int] | None = None):
    """The CCA softmax recomputed from a hooked video-from-audio call -> (weights `[B, H, Nq, K + Nk]` over
    [LCT; partner] keys, values `[B, K + Nk, H, d]` in the same order, K). A query that reads nothing has
    weights 0. TARP's key window: the call's `lo, hi` where it passes them, else the model's partition
    intervals for the video token `grid`."""
    from reference_impl.interactions.tarp import partition_intervals
    from reference_impl.streams.layers import attention_weights

    a = dict(zip(CCA_ARGS, args, strict=False), **kwargs)
    q, k, v, ck, cv = att.qkv(a["xq"], a["xkv"], a["times_q"], a["times_kv"], a.get("rot_q"), a.get("rot_kv"))
    b, nq, nk = q.shape[0], q.shape[1], k.shape[1]
    lo, hi = a.get("lo"), a.get("hi")
    if lo is None:
        if grid is None:
            raise ValueError("the call passes no key intervals: give the video token grid")
        lo, hi = partition_intervals(att.cfg, grid, nk)[0]
    if len(lo) != nq:
        raise ValueError(f"{len(lo)} key intervals for {nq} queries: not a video-from-audio call of this grid")
    lo, hi = lo.to(q.device), hi.to(q.device)
    keys = torch.arange(nk, device=q.device)
    window = (keys[None, :] >= lo[:, None]) & (keys[None, :] < hi[:, None])  # [Nq, Nk] TARP partition
    partner = window[None] & a["reads_partner"][:, None, None]  # [B, Nq, Nk]
    if ck is None:
        return attention_weights(q, k, partner[:, None]), v, 0
    lct_on = a.get("lct_on")
    lct_on = torch.ones(b, dtype=torch.bool, device=q.device) if lct_on is None else lct_on
    kk = torch.cat([ck[None].expand(b, *ck.shape), k], dim=1)
    vv = torch.cat([cv[None].expand(b, *cv.shape), v], dim=1)
    mask = torch.cat([lct_on[:, None, None].expand(b, nq, ck.shape[0]), partner], dim=2)
    return attention_weights(q, kk, mask[:, None]), vv, ck.shape[0]


def cca_audio_mass(att, args: tuple, kwargs: dict, grid: tuple[int, int, int] | None = None) -> torch.Tensor:
    """Mass on partner (audio) tokens `[B, Nq]`, mean over heads; the rest is on the LCT."""
    w, _, k = cca_weights(att, args, kwargs, grid)
    return w[..., k:].sum(-1).mean(1)


@torch.no_grad()
def audio_attention_shares(model, video0: torch.Tensor, audio0: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                           background: np.ndarray, levels=(0.3, 0.5, 0.7, 0.9), seed: int = 0, batch: int = 8) -> AttentionShares:
    """Claim 2, in T2AV (both streams noisy at the same t). background `[N, Nv]` bool (`background_tokens`
    per clip). -> per clip the share of background and of foreground video queries' attention mass on
    audio tokens, averaged over heads, exchange layers and `levels`. Gated cross-attention has no
    context tokens, so its softmax puts every query's whole mass on audio tokens (share 1)."""
    from reference_impl import Task

    bg_out, fg_out = [], []
    dev = video0.device
    for s in range(0, len(video0), batch):
        v, a, tx, m = video0[s:s + batch], audio0[s:s + batch], text[s:s + batch], text_mask[s:s + batch]
        bgm = torch.as_tensor(background[s:s + batch], device=dev)
        masses = []
        for j, t in enumerate(levels):
            nv = torch.stack([_noise(seed, (s + i) * 1000 + j, v.shape[1:]) for i in range(len(v))]).to(dev)
            na = torch.stack([_noise(seed + 1, (s + i) * 1000 + j, a.shape[1:]) for i in range(len(a))]).to(dev)
            tt = torch.full((len(v),), t, device=dev)
            records, handles = _capture(model)
            try:
                model((1 - t) * v + t * nv, (1 - t) * a + t * na, tt, tt, tx, m, tasks=[Task.T2AV] * len(v))
            finally:
                for h in handles:
                    h.remove()
            for kind, att, args, kwargs in records:
                masses.append(cca_audio_mass(att, args, kwargs, video_grid(model.cfg, v.shape)) if kind == "cca"
                              else torch.ones(bgm.shape, device=dev))
        mass = torch.stack(masses).mean(0)  # [B, Nv]
        bgf = bgm.float()
        bg_out.append(((mass * bgf).sum(1) / bgf.sum(1).clamp_min(1)).cpu())
        fg_out.append(((mass * (1 - bgf)).sum(1) / (1 - bgf).sum(1).clamp_min(1)).cpu())
    return AttentionShares(torch.cat(bg_out).double().numpy(), torch.cat(fg_out).double().numpy())


def write_measure(runs: str | Path, seed: int, measure: str, model: str, ids: list[str], values,
                  info: dict | None = None) -> Path:
    """`<runs>/seed<seed>/measures/<measure>/<model>.json` as the claims study reads it."""
    p = Path(runs) / f"seed{seed}" / "measures" / measure / f"{model}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    vals = [None if not np.isfinite(x) else float(x) for x in np.asarray(values, dtype=np.float64)]
    prov = measure_provenance(info.get("checkpoint") if info else None)
    p.write_text(json.dumps({"measure": measure, "model": model, "ids": list(ids), "values": vals, **(info or {}),
                             "provenance": prov}, indent=1))
    return p


def measure_provenance(checkpoint: str | Path | None) -> dict:
    """The shared run provenance plus the measured weights' sha256."""
    from ..provenance import provenance
    from ..weights import sha256_of

    ema = Path(checkpoint) / "ema.safetensors" if checkpoint else None
    return provenance(extra={"checkpoint_sha256": sha256_of(ema) if ema is not None and ema.is_file() else None})
