"""Analytic forward FLOPs of a `DualStreamModel` (2 per multiply-add; matrix products and attention
only, as `torch.utils.flop_counter` counts them), so a measured count can be checked.

Notation: B batch, Nv / Na video / audio tokens, L text tokens, D widths, F FFN widths, I the
cross-modal inner width (= audio width), K learnable context tokens. Per stream block:
`8 N D^2` (self-attention q, k, v, o) + `4 N^2 D` (its scores and values) + `4 N D^2 + 4 L D^2`
(text cross-attention q, o and k, v) + `4 N L D` + `4 N D F` (FFN)."""

from __future__ import annotations

import math

from .config import ModelConfig


def attention(nq: int, nk: int, width: int) -> int:
    """q k^T and p v over `width` channels."""
    return 4 * nq * nk * width


def linear(n: int, cin: int, cout: int) -> int:
    return 2 * n * cin * cout


def stream_block(n: int, text: int, dim: int, ffn: int) -> int:
    return (4 * linear(n, dim, dim) + attention(n, n, dim) + 2 * linear(n, dim, dim) + 2 * linear(text, dim, dim)
            + attention(n, text, dim) + linear(n, dim, ffn) + linear(n, ffn, dim))


def stream(n: int, text: int, dim: int, ffn: int, layers: int, patch_in: int, patch_out: int, text_dim: int,
           freq_dim: int) -> int:
    """A whole stream on one example: patch embedding, text and time embeddings, blocks, head."""
    embed = linear(n, patch_in, dim) + linear(text, text_dim, dim) + linear(text, dim, dim)
    time = linear(1, freq_dim, dim) + linear(1, dim, dim) + linear(1, dim, 6 * dim)
    return embed + time + layers * stream_block(n, text, dim, ffn) + linear(n, dim, patch_out)


def interaction(cfg: ModelConfig, grid: tuple[int, int, int], na: int, batch: int) -> int:
    """One exchange layer on `batch` examples. grid: video token grid (f, h, w); na: audio tokens.
    CCL: the scores its partition plans compute (LCT included; one attention call per direction)."""
    f, h, w = grid
    nv, dv, da, inner = f * h * w, cfg.video_dim, cfg.audio_dim, cfg.audio_dim
    kind = cfg.interaction
    if kind == "none":
        return 0
    if kind in ("gated", "ltx2", "ccl"):
        proj = batch * (linear(nv, dv, inner) * 2 + linear(na, da, inner) * 2  # q, o of each direction
                        + linear(na, da, inner) * 2 + linear(nv, dv, inner) * 2)  # k, v of each direction
        if kind != "ccl":
            return proj + batch * (attention(nv, na, inner) + attention(na, nv, inner))
        from .interactions.tarp import tarp_plans

        k = cfg.lct_tokens if cfg.lct else 0
        proj += linear(k, da, inner) * 2 + linear(k, dv, inner) * 2  # context tokens' k, v (once per call)
        att = sum(attention(plan.scores, 1, inner) for plan in tarp_plans(cfg, grid, na, "cpu"))
        return proj + batch * att
    if kind == "ovi":
        return batch * (linear(na, da, dv) * 2 + attention(nv, na, dv)  # video reads audio: k, v fusion
                        + linear(nv, dv, da) * 2 + attention(na, nv, da))
    if kind == "joint":
        return batch * (linear(na, da, dv) + linear(na, dv, dv) * 2 + attention(nv, na, dv)  # audio keys in video
                        + linear(nv, dv, da) + linear(nv, da, da) * 2 + attention(na, nv, da))
    raise ValueError(f"unknown interaction '{kind}'")


def forward_flops(cfg: ModelConfig, video_latent: tuple[int, int, int], audio_latent: int, text: int,
                  batch: int = 1) -> dict[str, int]:
    """FLOPs of one forward on `batch` examples: video latent (frames, height, width), audio latent
    frames, text tokens -> {"video", "audio", "interaction", "total"}."""
    pt, ph, pw = cfg.video_patch
    grid = (video_latent[0] // pt, video_latent[1] // ph, video_latent[2] // pw)
    nv, na = math.prod(grid), audio_latent // cfg.audio_patch
    v = batch * stream(nv, text, cfg.video_dim, cfg.video_ffn_dim, cfg.layers, cfg.video_in_dim * pt * ph * pw,
                       cfg.video_in_dim * pt * ph * pw, cfg.text_dim, cfg.freq_dim)
    a = batch * stream(na, text, cfg.audio_dim, cfg.audio_ffn_dim, cfg.layers, cfg.audio_in_dim * cfg.audio_patch,
                       cfg.audio_in_dim * cfg.audio_patch, cfg.text_dim, cfg.freq_dim)
    x = len(cfg.exchange_layers()) * interaction(cfg, grid, na, batch)
    if cfg.interaction == "ltx2" and cfg.exchange_layers():  # the shared global adaLN, once per forward: 5 chunks a role
        x += batch * (linear(1, cfg.video_dim, 5 * cfg.video_dim) + linear(1, cfg.audio_dim, 5 * cfg.audio_dim))
    return {"video": v, "audio": a, "interaction": x, "total": v + a + x}
