"""`ccl-bench profile`: what a reference model costs, with random weights: parameters, FLOPs (counted
and checked against `reference_impl.flops`), forward and forward+backward time, peak memory, MFU
against the bf16 matmul rate measured in the same run, and, in sample mode, each guidance scheme's
passes per step, network evaluations and seconds per clip.

Token counts. Wan scales: the Wan VAE (4x in time with a causal first frame, 8x8 in space, 16
channels) and Wan's 1 x 2 x 2 patch over a `HxWxS` clip at 16 fps (`4 round(S fps / 4) + 1` frames),
and an audio latent of `--audio-rate` Hz (default 31.25, MMAudio's 16 kHz VAE: 157 tokens for 5 s).
tiny / small: the av-sync `tiny` rendering through its fixed codecs (pixels, log-mel)."""

from __future__ import annotations

import gc
import math
import re
from dataclasses import asdict, dataclass

import torch

from ..errors import CCLBenchError

WAN_FPS = 16.0
WAN_TEXT_TOKENS = 512  # umT5 context length in Wan2.1


@dataclass(frozen=True)
class ClipSize:
    height: int
    width: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> ClipSize:
        m = re.fullmatch(r"(\d+)x(\d+)x(\d+(?:\.\d+)?)s?", text.strip())
        if not m:
            raise CCLBenchError(f"--clip '{text}': use HEIGHTxWIDTHxSECONDS, e.g. 352x640x5s")
        return cls(int(m[1]), int(m[2]), float(m[3]))


@dataclass(frozen=True)
class Shapes:
    """Latent shapes of one example: video `(C, F, H, W)`, audio `(C, T)`, text tokens."""

    video: tuple[int, int, int, int]
    audio: tuple[int, int]
    text: int

    def tokens(self, cfg) -> tuple[int, int]:
        pt, ph, pw = cfg.video_patch
        _, f, h, w = self.video
        return (f // pt) * (h // ph) * (w // pw), self.audio[1] // cfg.audio_patch


def wan_shapes(clip: ClipSize, audio_rate: float, cfg) -> Shapes:
    frames = 4 * round(clip.seconds * WAN_FPS / 4) + 1
    latent_frames = (frames - 1) // 4 + 1
    return Shapes((cfg.video_in_dim, latent_frames, clip.height // 8, clip.width // 8),
                  (cfg.audio_in_dim, math.ceil(clip.seconds * audio_rate)), WAN_TEXT_TOKENS)


def model_and_shapes(name: str, scale: str, overrides: dict, clip: ClipSize, audio_rate: float, device, dtype):
    """Build the model directly on `device` in `dtype` (a 14B model never exists in float32)."""
    import reference_impl as R

    if scale in ("tiny", "small"):
        from ..suites import load_suite
        from .models import codecs_for

        rend = load_suite("av-sync").rendering("tiny")
        vc, ac = codecs_for(rend)
        from reference_impl.codecs import codec_overrides

        overrides = {**codec_overrides(vc, ac), **overrides}
        cfg = R.resolve_config(name, scale, **overrides)
        shapes = Shapes((vc.channels, rend.num_frames, rend.height // vc.patch, rend.width // vc.patch),
                        (ac.n_mels, ac.frames(rend.num_samples)), 24)
    else:
        cfg = R.resolve_config(name, scale, **{"audio_latent_rate": audio_rate, **overrides})
        shapes = wan_shapes(clip, audio_rate, cfg)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = R.DualStreamModel(cfg)
    finally:
        torch.set_default_dtype(previous)
    return model, shapes


def inputs(model, shapes: Shapes, batch: int, device, seed: int = 0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, generator=g).to(device)  # noqa: E731
    t = torch.rand(batch, generator=g).to(device)
    return dict(video=rnd(batch, *shapes.video), audio=rnd(batch, *shapes.audio), t_video=t, t_audio=t,
                text=rnd(batch, shapes.text, model.cfg.text_dim))


def profile_model(name: str, scale: str = "tiny", mode: str = "train", guidance: list[str] | None = None,
                  dtype: str = "bf16", batch: int = 1, checkpointing: bool = False, device: str | None = None,
                  clip: ClipSize = ClipSize(352, 640, 5.0), audio_rate: float = 31.25, steps: int = 50,
                  repeats: int = 5, overrides: dict | None = None, matmul_flops: float | None = None,
                  compile_blocks: bool = False, optimizer: bool = True) -> list[dict]:
    """-> one record per measurement: mode train gives one, sample gives one per guidance scheme.

    checkpointing: False, True (recompute every layer) or a fraction of the layers (selective);
    compile_blocks: `DualStreamModel.compile_blocks` (compiled regions); optimizer: the train step
    includes AdamW's update (forward + backward + optimizer), as a training step costs."""
    from reference_impl.diffusion.guidance import GuidanceScales, guided_prediction, passes_per_step
    from reference_impl.flops import forward_flops

    from ..profiling import count_flops, peak_memory, time_call

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.startswith("cuda")
    gc.collect()  # the previous model's memory goes back before this one is built
    if on_gpu:
        torch.cuda.empty_cache()
    amp = torch.bfloat16 if dtype == "bf16" else torch.float32
    # bf16 weights at Wan scale (and their grads): what fits a 14B stream on one card; fp32 masters elsewhere.
    param_dtype = amp if scale.startswith("wan") and on_gpu else torch.float32
    model, shapes = model_and_shapes(name, scale, overrides or {}, clip, audio_rate, device, param_dtype)
    model.gradient_checkpointing = bool(checkpointing)
    model.checkpoint_fraction = 1.0 if checkpointing is True or not checkpointing else float(checkpointing)
    cfg = model.cfg
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    nv, na = shapes.tokens(cfg)
    base = {"model": name, "scale": scale, "mode": mode, "batch": batch, "dtype": dtype,
            "param_dtype": str(param_dtype).replace("torch.", ""), "checkpointing": checkpointing,
            "compiled": bool(compile_blocks), "optimizer": optimizer and mode == "train",
            "device": torch.cuda.get_device_name() if on_gpu else "cpu", "video_tokens": nv, "audio_tokens": na,
            "text_tokens": shapes.text, "clip": asdict(clip) if scale.startswith("wan") else "av-sync tiny rendering",
            "params": {"video": count(model.video_stream), "audio": count(model.audio_stream),
                       "interaction": count(model.interactions)}}
    base["params"]["total"] = sum(base["params"].values())
    x = inputs(model, shapes, batch, device)
    autocast = lambda: torch.autocast(device.split(":")[0], dtype=amp, enabled=dtype == "bf16")  # noqa: E731
    analytic = forward_flops(cfg, shapes.video[1:], shapes.audio[1], shapes.text, batch)

    def forward():
        with torch.no_grad(), autocast():
            return model(x["video"], x["audio"], x["t_video"], x["t_audio"], x["text"])

    records = []
    try:
        flops = count_flops(forward)  # eagerly: a compiled region would hide its ops from the counter
        if compile_blocks:
            model.compile_blocks()
        base.update(flops_fwd=flops, flops_fwd_analytic=analytic["total"], flops_check=flops / analytic["total"],
                    flops_fwd_interaction=analytic["interaction"], flop_share=analytic["interaction"] / analytic["total"])
        if mode == "train":
            model.train()
            opt = (torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True if on_gpu else None) if optimizer else None)

            def step():
                model.zero_grad(set_to_none=True)
                with autocast():
                    pv, pa = model(x["video"], x["audio"], x["t_video"], x["t_audio"], x["text"])
                    loss = pv.float().square().mean() + pa.float().square().mean()
                loss.backward()
                if opt is not None:
                    opt.step()

            fwd = time_call(forward, device, repeats=repeats)
            retries = _alloc_retries() if on_gpu else None
            st = time_call(step, device, repeats=repeats)
            rec = {**base, "guidance": None, "fwd_ms": fwd.median_ms, "step_ms": st.median_ms,
                   "step_samples_ms": st.samples_ms,
                   # the caching allocator freeing its cache and retrying (a device sync each) while timed
                   "alloc_retries": _alloc_retries() - retries if on_gpu else None,
                   "peak_mem_gb": peak_memory(step, device),
                   "passes_per_step": None, "nfe_per_clip": None, "sec_per_clip": None}
            if matmul_flops:
                rec["mfu"] = 3 * flops / (st.median_ms / 1e3) / matmul_flops  # backward ~ 2x forward
                rec["mfu_fwd"] = flops / (fwd.median_ms / 1e3) / matmul_flops
            records.append(rec)
        else:
            model.eval()
            null = torch.zeros_like(x["text"])
            for scheme in guidance or ["ucg", "ucg-joint", "cfg", "ltx2"]:  # (and ovi-native, ltx2-native)
                def guided(scheme=scheme):
                    with torch.no_grad(), autocast():
                        return guided_prediction(model, scheme, GuidanceScales(), x["video"], x["audio"], x["t_video"],
                                                 x["t_audio"], ["t2av"] * batch, x["text"], None, null, None)

                t = time_call(guided, device, warmup=1, repeats=repeats)
                passes = passes_per_step(scheme)
                rec = {**base, "guidance": scheme, "passes_per_step": passes, "nfe_per_clip": passes * steps,
                       "sampling_steps": steps, "guided_step_ms": t.median_ms, "step_ms": t.median_ms,
                       "sec_per_clip": steps * t.median_ms / 1e3 / batch, "peak_mem_gb": peak_memory(guided, device),
                       # every pass runs the same ops on its copy of the batch (routes only mask): passes x forward
                       "flops_guided_step": passes * flops}
                if matmul_flops:
                    rec["mfu"] = rec["flops_guided_step"] / (t.median_ms / 1e3) / matmul_flops
                records.append(rec)
    except torch.OutOfMemoryError as exc:
        records.append({**base, "status": "oom", "error": str(exc).splitlines()[0]})
    return records


def _alloc_retries() -> int:
    """How often the CUDA caching allocator has hit the card's memory, freed its cache and retried."""
    return torch.cuda.memory_stats().get("num_alloc_retries", 0)


def add_interaction_shares(records: list[dict]) -> None:
    """interaction_share = (time - `none`'s time) / time, against `none` at the same settings: of the
    step (train: forward + backward; sample: one guided step) and, in train mode, of the forward alone
    (`interaction_share_fwd`, comparable even where one of the two needed activation checkpointing)."""
    def key(r):
        return r["scale"], r["mode"], r.get("guidance"), r["audio_tokens"]

    none = {key(r): r for r in records if r["model"] == "none" and "step_ms" in r}
    for r in records:
        b = none.get(key(r))
        if b is None or "step_ms" not in r:
            continue
        same = r.get("checkpointing") == b.get("checkpointing")
        r["interaction_share"] = (r["step_ms"] - b["step_ms"]) / r["step_ms"] if same else None
        if "fwd_ms" in r and "fwd_ms" in b:
            r["interaction_share_fwd"] = (r["fwd_ms"] - b["fwd_ms"]) / r["fwd_ms"]


def tarp_attention_bench(video_tokens_grid=(21, 22, 40), audio_tokens=(157, 1000), heads=6, head_dim=128, lct=16,
                         window=3, device=None, dtype=torch.bfloat16, repeats=10, directions=("video", "audio"),
                         inner: int | None = None) -> list[dict]:
    """TARP's windowed cross-attention (Wan-1.3B timeline and CCL's cross-attention width: 6 heads of 128;
    time rule, 16 LCT) on each path, per direction (`video`: video queries over audio keys; `audio`:
    audio queries over video keys): `varlen` (one variable-length flash call, a sequence per run of queries
    sharing a window), `flex` (one FlexAttention call, block mask), `gather` (per group on
    gathered keys), `dense-masked` (one call, per-window mask), `auto (<path>)` (the model's choice on
    this device); against `dense`, plain attention over every partner token and the LCT. On a GPU each path
    is compiled as one region and timed as `inner` calls (default 20) replayed as a CUDA graph: its kernels'
    time, as inside the model's compiled blocks. Every row carries its error against the masked reference
    (float32), and `grad:<path>` rows the training case's gradient error and forward + backward time."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    inner = inner or (20 if device.startswith("cuda") else 1)
    f, h, w = video_tokens_grid
    out = []
    for direction in directions:
        for na in audio_tokens:
            out += _tarp_pair(direction, f, h * w, na, heads, head_dim, lct, window, device, dtype, repeats, inner)
    return out


def _tarp_pair(direction, f, per_frame, na, heads, head_dim, lct, window, device, dtype, repeats, inner) -> list[dict]:
    import reference_impl as R
    from reference_impl.interactions.tarp import PartitionPlan, partition_intervals, tarp_attention
    from reference_impl.streams.layers import attention

    nv = f * per_frame
    cfg = R.resolve_config("ccl", "wan-1.3b", tarp_window=window, audio_latent_rate=na / 5.0)  # na tokens in 5 s
    (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, (f, 1, per_frame), na)
    nq, nk, lo, hi = (nv, na, lo_v, hi_v) if direction == "video" else (na, nv, lo_a, hi_a)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, nq, heads, head_dim, generator=g).to(device, dtype)
    k = torch.randn(1, nk, heads, head_dim, generator=g).to(device, dtype)
    v = torch.randn_like(k)
    ck = torch.randn(lct, heads, head_dim, generator=g).to(device, dtype)
    cv = torch.randn_like(ck)
    paths = {"varlen": "varlen", "flex": "flex", "gather": "partitioned", "dense-masked": "dense", "auto": "auto"}
    if not device.startswith("cuda"):  # no fused kernel on a CPU (the unfused references are what the tests check)
        paths.pop("flex")
        paths.pop("varlen")
    plans = {kind: PartitionPlan.make(lo, hi, nk, lct, device, path, head_dim) for kind, path in paths.items()}
    allowed = torch.ones(1, dtype=torch.bool, device=device)
    # The model's training and T2AV sampling case: every example reads its partner (a host fact of the route).
    runs = [(kind if kind != "auto" else f"auto ({plan.kind})", plan.scores,
             lambda plan=plan: tarp_attention(q, k, v, plan, allowed, ck, cv, partner_always=True))
            for kind, plan in plans.items()]
    # dense: the LCT joined to the keys inside the timed call, as every path (and the model) does
    runs.append(("dense", nq * (lct + nk), lambda: attention(q, torch.cat([ck[None], k], 1), torch.cat([cv[None], v], 1))))
    rows = []
    from reference_impl.interactions import tarp as tarp_module
    from reference_impl.interactions.tarp import dense_partitioned_attention

    # every path's output against the masked reference in float32 on the same inputs (dense reads other keys)
    lo_d, hi_d = lo.to(device), hi.to(device)
    ref = dense_partitioned_attention(q.float(), k.float(), v.float(), lo_d, hi_d, allowed, ck.float(), cv.float())
    for kind, scores, fn in runs:
        fn, compiled = _compiled(fn) if device.startswith("cuda") else (fn, False)
        err = None if kind == "dense" else float((fn().float() - ref).abs().max() / ref.abs().max())
        rows.append({"direction": direction, "kind": kind, "query_tokens": nq, "key_tokens": nk, "video_tokens": nv,
                     "audio_tokens": na, "window_tokens": int((hi - lo).max()), "lct": lct, "heads": heads,
                     "flops": 4 * scores * heads * head_dim,  # q.k and p.v over the scores the path computes
                     "max_rel_error": err, "compiled": compiled, "device": device, **_timed(fn, device, repeats, inner)})
        if kind.startswith(("flex", "auto (flex")) and tarp_module.FLEX_UNFUSED:
            rows[-1]["flex_unfused"] = tarp_module.FLEX_UNFUSED  # measured, but not on the fused kernel
    rows += _tarp_grad_rows(direction, q, k, v, ck, cv, lo_d, hi_d, plans, device, repeats, inner)
    return rows


def _compiled(fn):
    """(fn as one compiled region, True), as TARP runs inside the model's compiled blocks (its glue ops, the
    LCT joined to the keys and the gathers, fused with their neighbours); (fn, False) where compiling fails."""
    try:
        c = torch.compile(fn, dynamic=False)
        c()
        return c, True
    except Exception:  # noqa: BLE001 - a compiler fault: timed eagerly, and the row says so
        return fn, False


def _timed(fn, device, repeats, inner, key="ms") -> dict:
    """{key: device ms per call, "timing": "graph" | "queued"}: on a GPU as a replayed CUDA graph of `inner`
    calls where it captures (a sub-0.1 ms path's host work would otherwise be what is timed), else queued."""
    from ..profiling import time_call

    t = time_call(fn, device, warmup=3, repeats=repeats, inner=inner, graph=device.startswith("cuda"))
    return {key: t.median_ms, "timing": "graph" if t.graph else "queued"}


def _tarp_grad_rows(direction, q, k, v, ck, cv, lo, hi, plans, device, repeats, inner) -> list[dict]:
    """Training's case on each path with a backward: two examples, one without its partner (a five-task
    route), the loss's gradients against the masked reference in float32: the max relative error of dq,
    dk, dv and of the LCT's, and the device time of forward + backward (`train_ms`). Rows of kind
    `grad:<path>`."""
    from reference_impl.interactions.tarp import dense_partitioned_attention, tarp_attention

    allowed = torch.tensor([True, False], device=device)
    leaves = [x.detach().expand(2, *x.shape[1:]).contiguous().requires_grad_() for x in (q, k, v)]
    leaves += [x.detach().clone().requires_grad_() for x in (ck, cv)]

    def grads(fn, cast):
        xs = [x.detach().to(cast).requires_grad_() for x in leaves]
        out = fn(*xs)
        w = torch.linspace(-1, 1, out.numel(), device=device).view_as(out)  # a loss that weighs every output
        return torch.autograd.grad((out.float() * w).sum(), xs)

    ref = grads(lambda q, k, v, ck, cv: dense_partitioned_attention(q, k, v, lo, hi, allowed, ck, cv), torch.float32)
    rows = []
    for kind, plan in plans.items():
        if kind == "flex" or (kind == "auto" and plan.kind == "flex" and plan.grad_plan is None):
            continue  # no backward measured here (FlexAttention's backward trains only many-key-block plans)
        got = grads(lambda q, k, v, ck, cv, plan=plan: tarp_attention(q, k, v, plan, allowed, ck, cv), q.dtype)
        err = max(float((a.float() - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(got, ref, strict=True))
        label = kind if kind != "auto" else f"auto ({(plan.grad_plan or plan).kind})"
        xs = [x.detach().requires_grad_() for x in leaves]

        def step(plan=plan, xs=xs):
            torch.autograd.grad(tarp_attention(*xs[:3], plan, allowed, *xs[3:]).float().sum(), xs)

        rows.append({"direction": direction, "kind": f"grad:{label}", "query_tokens": q.shape[1], "key_tokens": k.shape[1],
                     "audio_tokens": k.shape[1] if direction == "video" else q.shape[1], "max_rel_error": err,
                     "device": device, **_timed(step, device, repeats, max(1, inner // 4), key="train_ms")})
    return rows
