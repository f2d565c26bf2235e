"""Measuring compute: FLOP counts, step times (CUDA events, warm-up, median), peak memory and the
device's bf16 matmul rate, for any callable. Knows nothing of particular models."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop_count

_registered = False


def _register_cpu_sdpa() -> None:
    """torch's FLOP counter knows the CUDA attention kernels but not the CPU flash kernel that an
    unmasked SDPA takes on a CPU; count it with the same formula (2 matmuls)."""
    global _registered
    if _registered:
        return
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        try:
            @register_flop_formula(op)
            def _cpu_flash(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
                return sdpa_flop_count(query_shape, key_shape, value_shape)
        except (RuntimeError, ValueError):  # already registered by a newer torch
            pass
    _registered = True


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs torch counts while `fn()` runs (matmuls, convolutions, attention)."""
    _register_cpu_sdpa()
    with FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


@dataclass
class Timing:
    median_ms: float
    samples_ms: list[float]
    device: str
    graph: bool = False  # timed as a replayed CUDA graph (the device's time alone, no launch gaps)


def time_call(fn: Callable[[], object], device: str, warmup: int = 2, repeats: int = 5, inner: int = 1,
              graph: bool = False) -> Timing:
    """Median wall time of `fn()` over `repeats` runs after `warmup`; CUDA events on a GPU (so only
    device time between the two events counts), perf_counter on a CPU. inner > 1: each sample times
    `inner` calls back to back and is divided by `inner` (a sub-millisecond kernel's device time, with
    the host's launch work overlapped by the queued calls, as it is inside a model). graph (a GPU): the
    `inner` calls captured once as a CUDA graph and replayed, so a call whose host work (Python, launches)
    outlasts its kernels is timed by its kernels, as inside a model whose queue the big matmuls keep full;
    where capture fails, the queued calls are timed instead (`Timing.graph` says which)."""
    for _ in range(warmup):
        fn()
    samples = []
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        replay = _captured(fn, inner) if graph else None
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            if replay is not None:
                replay.replay()
            else:
                for _ in range(inner):
                    fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / inner)
        return Timing(statistics.median(samples), samples, device, replay is not None)
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) * 1e3 / inner)
    return Timing(statistics.median(samples), samples, device)


def _captured(fn: Callable[[], object], inner: int):
    """`inner` calls of fn as one CUDA graph (warmed up on a side stream first), or None where capture fails."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn()
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(inner):
                fn()
        torch.cuda.synchronize()
        return g
    except Exception:  # noqa: BLE001 - a path that syncs with the host or allocates outside the pool: timed queued
        torch.cuda.synchronize()
        return None


def timed_once(fn: Callable[[], object], device: str) -> tuple[object, float]:
    """(`fn()`, its wall seconds) for one call, the device synchronised before and after: a whole
    per-clip latency (host preprocessing included), where `time_call` gives a kernel's median."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def peak_memory(fn: Callable[[], object], device: str) -> float | None:
    """Peak allocated GPU memory (GB) while `fn()` runs; None on a CPU."""
    if not device.startswith("cuda"):
        fn()
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 1e9


def matmul_rate(device: str, n: int = 8192, dtype=torch.bfloat16, repeats: int = 10) -> float:
    """Measured dense matmul rate (FLOP/s) of `n x n x n` products on random data (the MFU denominator)."""
    if not device.startswith("cuda"):
        n = min(n, 1024)
        dtype = torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = time_call(lambda: a @ b, device, warmup=3, repeats=repeats)
    return 2 * n**3 / (t.median_ms / 1e3)
