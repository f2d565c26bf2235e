"""Multi-task flow-matching training, the same for every model: only the interaction differs.

Each example of a batch draws its task (T2V, T2A, T2AV, A2V, V2A) with the configured
probabilities (by default the mix the model's routing implies: the paper's five tasks, or T2AV alone
for a `t2av-only` baseline), its timestep (uniform, Wan-shifted) and its noise; captions are dropped
with probability `text_dropout` for guidance. The whole draw happens on the training device from one
generator (the data lie there too), so a step copies nothing from the host and waits for nothing:
the host reads the GPU only on logged steps and checkpoints. Cross-modal parameters
(`interactions.*`) get `lr_cross`, the rest `lr`; bf16 autocast on GPU; gradients clipped; EMA kept.

Speed on a GPU: the forward (and its backward) is compiled by `torch.compile` (the element-wise work
of a narrow model fused) and replayed as CUDA graphs; AdamW is fused. Each falls back to the plain
path, with one printed line, if it fails on the installed torch.

`out/metrics.jsonl`: one JSON line per logged step (`step`, `loss`, `loss_<task>`, `lr`, `lr_cross`,
`grad_norm`, `seconds`, `partner_absent_examples`). `out/checkpoint.pt`: everything needed to resume
(model, EMA, optimiser, generator, step), written atomically every `checkpoint_every` steps, at least
every `checkpoint_seconds`, at the end and on SIGTERM; a run killed and resumed reaches the same weights
as one that was not. `out/ema.safetensors` + `out/config.json`: the final EMA weights (bf16) to ship."""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..routing import TASKS, Route, default_task_probs
from .flow import flow_matching_loss, shift_timesteps
from .parallel import barrier, full_state, fully_shard_model, gather_batch, load_full_state, process_group

DEFAULT_TASK_PROBS = default_task_probs("task")


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    # From-scratch streams need the full rate; the paper's stage 2 (pretrained streams) uses
    # lr = 1e-5 and lr_cross = 1e-4 (cross-modal 10x the streams).
    lr: float = 3e-4
    lr_cross: float = 3e-4
    warmup_steps: int = 50
    # Warmup-stable-decay [design]: the last `decay_steps` of `steps` take the rate linearly down to 0, so a
    # run can end annealed and a campaign can stretch its stable phase before deciding where it ends. Decided
    # at `steps`, so a run resumed with a larger `steps` moves its decay to the new end. 0: constant.
    decay_steps: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    # Task mix; None: the one the model's routing implies (`routing.default_task_probs`).
    task_probs: dict[str, float] | None = None
    text_dropout: float = 0.1
    timestep_shift: float = 3.0
    log_every: int = 10
    checkpoint_every: int = 200
    checkpoint_seconds: float = 60.0  # a kill loses at most this much training
    # Evaluation snapshots (claim 6, convergence): every N steps, and at the last step, the EMA is also
    # exported to `out/snapshots/step-<N>/` (ema.safetensors + config.json). 0: none.
    snapshot_every: int = 0
    seed: int = 0
    bf16: bool | None = None  # None: on when training on CUDA
    # Replay forward and backward as CUDA graphs: a small model is otherwise bound by the CPU's
    # kernel launches (measured on the H100: ~250 ms a step at batch 32, mostly launch overhead).
    cuda_graphs: bool | None = None  # None: on when training on CUDA
    # torch.compile the forward (and so its backward): fuses the element-wise work that bounds a narrow
    # model (measured on the H100, `small` at batch 512: 2.5x without graphs). None: on for one CUDA process.
    compile: bool | None = None
    compile_backend: str = "inductor"  # "eager" / "aot_eager": the same capture without code generation (tests)
    # Inductor options for the compiled forward (e.g. {"coordinate_descent_tuning": True}: block sizes of the fused
    # norm reductions searched per kernel, the 30% of a `small` step that `throughput-profile.md` names). None: defaults.
    compile_options: dict | None = None
    # Several processes (torchrun; a process group already initialised): "ddp" replicates the model and
    # averages gradients; "fsdp" shards parameters, gradients and optimiser state per block (FSDP2) with
    # every layer's activations recomputed in the backward pass (Wan scales). batch_size is global.
    parallel: str = "ddp"
    # Provenance of the protocol (recorded in config.json): "joint" trains a dual-stream model (stage 2
    # when init_from names the stage-1 streams it started from), "streams" trains stage 1.
    stage: str = "joint"
    init_from: str | None = None


@dataclass
class LatentData:
    """Training examples, encoded once: video `[N, Cv, F, H, W]`, audio `[N, Ca, T]`, text `[N, L, D]`,
    text_mask `[N, L]`, and the empty caption's embedding `[1, L, D]` / mask `[1, L]`."""

    video: torch.Tensor
    audio: torch.Tensor
    text: torch.Tensor
    text_mask: torch.Tensor
    null_text: torch.Tensor
    null_mask: torch.Tensor

    def to(self, device) -> LatentData:
        names = ("video", "audio", "text", "text_mask", "null_text", "null_mask")
        return LatentData(*(getattr(self, f).to(device) for f in names))


@dataclass
class Batch:
    """One drawn batch, on the training device: example indices, task ids (into `TASKS`), timesteps,
    caption dropped, noise for both streams."""

    idx: torch.Tensor  # [B] long
    tasks: torch.Tensor  # [B] long
    t: torch.Tensor  # [B] float32 in [0, 1]
    drop: torch.Tensor  # [B] bool
    noise_v: torch.Tensor  # [B, Cv, F, H, W]
    noise_a: torch.Tensor  # [B, Ca, T]

    def slice(self, part: slice) -> Batch:
        return Batch(*(getattr(self, f)[part] for f in ("idx", "tasks", "t", "drop", "noise_v", "noise_a")))


def param_groups(model, cfg: TrainConfig) -> list[dict]:
    cross = [p for n, p in model.named_parameters() if n.startswith("interactions.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("interactions.")]
    groups = [{"params": rest, "lr": cfg.lr, "name": "rest"}]
    if cross:
        groups.append({"params": cross, "lr": cfg.lr_cross, "name": "cross"})
    return groups


def lr_factor(step: int, cfg: TrainConfig, warm_start: int = 0) -> float:
    """The rate's multiplier for the step after `step` steps done: a linear warm-up over `warmup_steps`
    counted from `warm_start` (where a fresh optimiser began), then 1, then linearly down to
    `1 / decay_steps` at the last step when `decay_steps` is set."""
    warm = min(1.0, (step - warm_start + 1) / max(1, cfg.warmup_steps))
    return warm * (min(1.0, (cfg.steps - step) / cfg.decay_steps) if cfg.decay_steps > 0 else 1.0)


def task_cdf(task_probs: dict[str, float], device) -> torch.Tensor:
    """Cumulative task probabilities `[len(TASKS)]` (float64), normalised; unknown task names refused."""
    unknown = set(task_probs) - {t.value for t in TASKS}
    if unknown:
        raise ValueError(f"task_probs: unknown task {', '.join(sorted(unknown))} (tasks: {', '.join(t.value for t in TASKS)})")
    probs = torch.tensor([float(task_probs.get(t.value, 0.0)) for t in TASKS], dtype=torch.float64)
    if (probs < 0).any() or probs.sum() <= 0:
        raise ValueError("task_probs must be non-negative and give some task a positive probability")
    return (probs / probs.sum()).cumsum(0).to(device)


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class _TensorRouted(torch.nn.Module):
    """The model with a tensors-only signature (what CUDA-graph capture and torch.compile take); the
    route's Python facts are fixed for training: LCT always on, no perturbed pass."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, xv, xa, tv, ta, text, mask, video_reads_audio, audio_reads_video):
        route = Route(video_reads_audio, audio_reads_video, lct_may_be_off=False, may_perturb=False)
        return self.model(xv, xa, tv, ta, text, mask, route=route)


class _TensorCall:
    """Calls a tensors-only forward (compiled and/or graphed) the way `flow_matching_loss` calls a model."""

    def __init__(self, fn, cfg):
        self.fn, self.cfg = fn, cfg

    def __call__(self, xv, xa, tv, ta, text, mask, route):
        return self.fn(xv, xa, tv, ta, text, mask, route.video_reads_audio, route.audio_reads_video)


class TrainingInterrupted(SystemExit):
    """Raised by `fit` after a SIGTERM: the checkpoint of the step reached is on disk."""


class Trainer:
    def __init__(self, model, data: LatentData, cfg: TrainConfig, out: str | Path, device="cpu",
                 meta: dict | None = None):
        self.model, self.cfg, self.out, self.device = model.to(device), cfg, Path(out), torch.device(device)
        self.data = data.to(device)  # resident on the device: a batch is gathered there
        self.meta = meta or {}
        self.rank, self.world = process_group()
        if cfg.batch_size % self.world:
            raise ValueError(f"batch size {cfg.batch_size} does not split over {self.world} processes")
        if cfg.task_probs is None:
            cfg.task_probs = default_task_probs(model.cfg.routing)
        self.task_cdf = task_cdf(cfg.task_probs, self.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.net = self.model  # what the forward calls: the model, or its DDP / FSDP2 wrapping
        if self.world > 1 and cfg.parallel == "fsdp":
            fully_shard_model(self.model)
            fully_shard_model(self.ema)  # the same shards, so the EMA update stays shard-local
        elif self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index or 0] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        cuda = self.device.type == "cuda"
        # fused: one kernel per parameter group rather than several per tensor
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     fused=cuda or None)
        # One generator, on the device: tasks, timesteps, indices, dropout and noise are drawn there.
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.step = 0
        self._saved_step = None  # the step checkpoint.pt holds
        self.seconds = 0.0
        self.bf16 = cfg.bf16 if cfg.bf16 is not None else cuda
        self.use_graphs = (cfg.cuda_graphs if cfg.cuda_graphs is not None else True) and cuda and self.world == 1
        self.use_compile = (cfg.compile if cfg.compile is not None else cuda) and self.world == 1
        self._call = None  # the tensors-only forward, once made
        # Examples whose stream(s) read no partner tokens (for a model without LCT: its branch zeroed),
        # counted on the device; a `t2av-only` baseline never meets one in training.
        self.partner_absent = torch.zeros((), dtype=torch.long, device=self.device)
        self._stop_signal = None
        self._warm_start = 0  # the step the learning-rate warm-up counts from (moved by a resume without moments)

    # ---- checkpoints -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        """Rank 0 writes; under FSDP2 the shards are gathered to full state dicts first (every rank)."""
        model, ema, opt = full_state(self.model, self.ema, self.opt, self.cfg.parallel == "fsdp" and self.world > 1)
        if self.rank == 0:
            _save_atomic({"model": model, "ema": ema, "opt": opt, "gen": self.gen.get_state(), "step": self.step,
                          "seconds": self.seconds, "partner_absent": int(self.partner_absent),
                          "warm_start": self._warm_start, "train_config": asdict(self.cfg)}, self.checkpoint_path)
        barrier(self.world)
        self._saved_step = self.step
        self._saved_at = time.monotonic()

    def resume(self) -> bool:
        """Continue from `checkpoint.pt` if there is one; drop log lines written after it. Without one
        (a run killed before its first checkpoint) the run starts again from step 0 with an empty log,
        and says so."""
        log = self.out / "metrics.jsonl"
        if not self.checkpoint_path.is_file():
            if log.is_file() and self.rank == 0 and log.stat().st_size:
                print(f"{self.out}: no checkpoint to resume from; training starts again at step 0 "
                      "(the log of the lost steps is cleared)", flush=True)
                log.write_text("")
            return False
        ck = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        load_full_state(self.model, self.ema, self.opt, ck, self.cfg.parallel == "fsdp" and self.world > 1)
        self.gen.set_state(ck["gen"].cpu())
        self.step, self.seconds = ck["step"], ck["seconds"]
        self.partner_absent.fill_(ck.get("partner_absent", 0))
        self._warm_start = ck.get("warm_start", 0)
        self._saved_step = self.step
        if log.is_file() and self.rank == 0:
            keep = [ln for ln in log.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.step]
            log.write_text("".join(ln + "\n" for ln in keep))
        return True

    def save_portable(self, path: str | Path, max_bytes: int = 16 * 2**20) -> dict:
        """A small resumable state for another machine (`state.safetensors`): the training weights in
        float32 (bf16 where float32 would pass `max_bytes`), the AdamW moments only where they fit too,
        the generator, step and seconds (metadata). The EMA travels in `ema.safetensors` (bf16).
        -> what was kept. Single process only."""
        from safetensors.torch import save_file

        weights = self.model.state_dict()
        n = sum(v.numel() for v in weights.values())
        dtype = torch.float32 if 4 * n <= max_bytes else torch.bfloat16
        state = {f"model.{k}": v.detach().to("cpu", dtype).contiguous() for k, v in weights.items()}
        size = n * (4 if dtype == torch.float32 else 2)
        moments = {}
        names = {id(p): k for k, p in self.model.named_parameters()}
        for group in self.opt.param_groups:
            for p in group["params"]:
                st = self.opt.state.get(p, {})
                for m in ("exp_avg", "exp_avg_sq"):
                    if m in st:
                        moments[f"opt.{m}.{names[id(p)]}"] = st[m].detach().to("cpu", torch.float32).contiguous()
        moment_bytes = sum(4 * v.numel() for v in moments.values())
        kept_moments = bool(moments) and size + moment_bytes <= max_bytes
        if kept_moments:
            state.update(moments)
            state["opt.step"] = torch.tensor(float(self.step - self._warm_start))
        state["gen_state"] = self.gen.get_state().cpu()
        meta = {"step": str(self.step), "seconds": str(self.seconds), "partner_absent": str(int(self.partner_absent)),
                "weights_dtype": str(dtype).removeprefix("torch."), "moments": str(kept_moments),
                "warm_start": str(self._warm_start)}
        path = Path(path)
        save_file(state, str(path.with_name(path.name + ".tmp")), metadata=meta)
        os.replace(path.with_name(path.name + ".tmp"), path)
        return {"weights": meta["weights_dtype"], "moments": kept_moments, "bytes": path.stat().st_size}

    def load_portable(self, path: str | Path, ema_path: str | Path | None = None) -> None:
        """Continue from `save_portable`'s file (and the EMA of `ema_path`, bf16). Without the AdamW
        moments the optimiser starts afresh and the learning-rate warm-up runs again from here."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        state = load_file(str(path))
        self.model.load_state_dict({k[6:]: v.float() for k, v in state.items() if k.startswith("model.")})
        if ema_path is not None and Path(ema_path).is_file():
            self.ema.load_state_dict({k: v.float() for k, v in load_file(str(ema_path)).items()})
        else:
            self.ema.load_state_dict(self.model.state_dict())
        self.step, self.seconds = int(meta["step"]), float(meta["seconds"])
        self.partner_absent.fill_(int(meta["partner_absent"]))
        self.gen.set_state(state["gen_state"])
        self._warm_start = int(meta.get("warm_start", 0))
        if meta["moments"] == "True":
            names = {k: p for k, p in self.model.named_parameters()}
            for key, value in state.items():
                if key.startswith("opt.exp_"):
                    _, m, name = key.split(".", 2)
                    st = self.opt.state[names[name]]
                    st[m] = value.to(names[name].device)
                    fused = self.device.type == "cuda"  # fused AdamW keeps its step count on the device
                    st["step"] = state["opt.step"].clone().to(names[name].device if fused else "cpu")
        else:
            self._warm_start = self.step
        self._saved_step = None

    # ---- one step ----------------------------------------------------------------------------
    def draw_batch(self) -> Batch:
        """The whole (global) batch, drawn on the device: no host copies, no syncs."""
        b, g, dev = self.cfg.batch_size, self.gen, self.device
        idx = torch.randint(len(self.data.video), (b,), generator=g, device=dev)
        u = torch.rand(b, generator=g, device=dev, dtype=torch.float64)
        tasks = torch.searchsorted(self.task_cdf, u, right=True).clamp_(max=len(TASKS) - 1)
        t = shift_timesteps(torch.rand(b, generator=g, device=dev), self.cfg.timestep_shift)
        drop = torch.rand(b, generator=g, device=dev) < self.cfg.text_dropout
        noise_v = torch.randn((b, *self.data.video.shape[1:]), generator=g, device=dev)
        noise_a = torch.randn((b, *self.data.audio.shape[1:]), generator=g, device=dev)
        return Batch(idx, tasks, t, drop, noise_v, noise_a)

    def _forward(self, sample):
        """The callable `flow_matching_loss` runs: the model (eager), or its compiled and/or CUDA-graphed
        tensors-only form. sample: example inputs for graph capture (made on the first step)."""
        if not (self.use_graphs or self.use_compile):
            return self.net
        if self._call is not None:
            return self._call
        fn = _TensorRouted(self.model)
        if self.use_compile:
            with torch.no_grad():  # host-made tables (TARP plans) are built eagerly, outside any compiled region
                fn(*(x[:1] for x in sample))
            import torch._dynamo as dynamo

            dynamo.config.cache_size_limit = max(dynamo.config.cache_size_limit, 32)
            fn = torch.compile(fn, dynamic=False, backend=self.cfg.compile_backend,
                               options=dict(self.cfg.compile_options) if self.cfg.compile_options else None)
        if self.use_graphs:
            try:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
                    fn = torch.cuda.make_graphed_callables(fn, sample)
            except Exception as exc:  # noqa: BLE001 - any capture failure: drop one speed-up, and say so
                if self.use_compile:
                    print(f"compiled CUDA-graph capture failed ({type(exc).__name__}: {str(exc)[:300]}); "
                          "training with CUDA graphs, uncompiled", flush=True)
                    self.use_compile = False
                    return self._forward(sample)
                print(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training without graphs", flush=True)
                self.use_graphs = False
                return self.net
        self._call = _TensorCall(fn, self.model.cfg)
        return self._call

    def _loss(self, batch: Batch, video0, audio0, text, mask):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16,
                            cache_enabled=not (self.use_graphs or self.use_compile)):
            return flow_matching_loss(self._forward(None), video0, audio0, batch.noise_v, batch.noise_a, batch.t,
                                      batch.tasks, text, mask, routing=self.model.cfg.routing)

    def train_step(self, record_losses: bool = True) -> dict:
        # Every process draws the whole (global) batch from the same generator and trains on its slice,
        # so N processes take exactly the step one process takes on the whole batch.
        whole = batch = self.draw_batch()
        if self.world > 1:
            b = self.cfg.batch_size // self.world
            batch = whole.slice(slice(self.rank * b, (self.rank + 1) * b))
        d, dev = self.data, self.device
        text = torch.where(batch.drop[:, None, None], d.null_text, d.text[batch.idx])
        mask = torch.where(batch.drop[:, None], d.null_mask, d.text_mask[batch.idx])
        for group in self.opt.param_groups:
            base = self.cfg.lr_cross if group["name"] == "cross" else self.cfg.lr
            group["lr"] = base * lr_factor(self.step, self.cfg, self._warm_start)
        video0, audio0 = d.video[batch.idx], d.audio[batch.idx]
        if (self.use_graphs or self.use_compile) and self._call is None:
            n = len(batch.t)
            ones = torch.ones(n, dtype=torch.bool, device=dev)
            # Distinct tensors only: a CUDA graph keeps its sample arguments as its input buffers and copies
            # each call's inputs into them in order, so one tensor given twice (the two streams' times) would
            # feed both streams the second one (T2V's absent audio: t = 1 for the video too).
            self._forward((video0, audio0, batch.t, batch.t.clone(), text, mask, ones, ones.clone()))
        if self.use_compile and not self.use_graphs and not getattr(self, "_compiled_ran", False):
            try:  # the first compiled call compiles: on failure, train eagerly (and say so)
                per_example = self._loss(batch, video0, audio0, text, mask)
                self._compiled_ran = True
            except Exception as exc:  # noqa: BLE001
                print(f"torch.compile failed ({type(exc).__name__}: {str(exc)[:300]}); training uncompiled", flush=True)
                self.use_compile, self._call = False, None
                per_example = self._loss(batch, video0, audio0, text, mask)
        else:
            per_example = self._loss(batch, video0, audio0, text, mask)
        route = Route.for_tasks(whole.tasks, self.model.cfg.routing)
        self.partner_absent += (~(route.video_reads_audio & route.audio_reads_video)).sum()
        loss = per_example.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP2
            grad_norm = grad_norm.full_tensor()
        self.opt.step()
        self.update_ema()
        self.step += 1
        record = {"step": self.step, "loss": loss.detach(), "grad_norm": grad_norm}
        if record_losses:  # host reads (device syncs) only for the steps that are logged
            per_example = gather_batch(per_example.detach().float(), self.world)
            k = len(TASKS)
            sums = torch.zeros(k, device=per_example.device).index_add_(0, whole.tasks, per_example)
            counts = torch.bincount(whole.tasks, minlength=k)
            stats = torch.cat([per_example.mean()[None], grad_norm.float()[None], sums, counts.float(),
                               self.partner_absent.float()[None]]).tolist()
            record = {"step": self.step, "loss": stats[0], "grad_norm": stats[1]}
            for i, task in enumerate(TASKS):
                if stats[2 + k + i] > 0:
                    record[f"loss_{task.value}"] = stats[2 + i] / stats[2 + k + i]
            for group in self.opt.param_groups:
                record["lr" if group["name"] == "rest" else "lr_cross"] = group["lr"]
            record["partner_absent_examples"] = int(stats[-1])
        return record

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(list(self.ema.parameters()), [p.detach() for p in self.model.parameters()], 1 - decay)

    # ---- the loop ------------------------------------------------------------------------------
    def _on_sigterm(self, signum, frame) -> None:
        self._stop_signal = signum  # acted on after the step in flight: checkpoint, then exit

    def fit(self, resume: bool = False, on_step: Callable[[dict], None] | None = None,
            stop_after: int | None = None) -> Path:
        """Train to `cfg.steps` (or stop after `stop_after` more steps, to simulate a kill). On SIGTERM
        the step reached is checkpointed and `TrainingInterrupted` raised (exit status 143)."""
        self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.resume() if resume else False
        self.model.train()
        if self.cfg.parallel == "fsdp" and self.world > 1:
            self.model.gradient_checkpointing = True
        log = None
        if self.rank == 0:  # a fresh run starts a fresh log: no step is ever listed twice
            log = (self.out / "metrics.jsonl").open("a" if resumed else "w")
        handler = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, self._on_sigterm) if handler else None
        self._saved_at = time.monotonic()
        done = 0
        try:
            mark = time.perf_counter()
            while self.step < self.cfg.steps:
                if stop_after is not None and done >= stop_after:
                    return self.out
                logged = (self.step + 1) % self.cfg.log_every == 0 or self.step + 1 == self.cfg.steps
                record = self.train_step(record_losses=logged)
                if logged and self.device.type == "cuda":
                    torch.cuda.synchronize()  # seconds are wall time up to a logged step's end
                now = time.perf_counter()
                self.seconds += now - mark
                mark = now
                record["seconds"] = round(self.seconds, 3)
                if logged and not math.isfinite(record["loss"]):
                    raise FloatingPointError(f"loss became {record['loss']} at step {self.step}")
                if logged and log is not None:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                due = (self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps
                       or time.monotonic() - self._saved_at >= self.cfg.checkpoint_seconds)
                if due or self._stop_signal is not None:
                    self.save_checkpoint()
                    mark = time.perf_counter()  # checkpoint writing is not training time
                if self.cfg.snapshot_every and (self.step % self.cfg.snapshot_every == 0 or self.step == self.cfg.steps):
                    self.export(self.out / "snapshots" / f"step-{self.step}")
                    mark = time.perf_counter()
                if self._stop_signal is not None:
                    if log is not None:
                        log.flush()
                    raise TrainingInterrupted(128 + self._stop_signal)
                if on_step:
                    on_step(record)  # may move cfg.steps (a coordinator fixing the common count)
                done += 1
        finally:
            if log is not None:
                log.close()
            if handler:
                signal.signal(signal.SIGTERM, previous)
        if self._saved_step != self.step:
            self.save_checkpoint()  # the end moved after the last save: keep the run resumable from here
        self.export()
        return self.out

    def export(self, folder: Path | None = None) -> Path:
        """EMA weights in bf16 (`ema.safetensors`) and `config.json` (model, train and `meta` fields), in
        `folder` (default: the run's own folder; a snapshot's elsewhere)."""
        from safetensors.torch import save_file

        _, ema, _ = full_state(None, self.ema, None, self.cfg.parallel == "fsdp" and self.world > 1)
        folder = self.out if folder is None else Path(folder)
        path = folder / "ema.safetensors"
        if self.rank != 0:
            return path
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in ema.items()}
        save_file(state, str(path.with_suffix(".tmp")))
        os.replace(path.with_suffix(".tmp"), path)
        cfg = {"model": self.model.cfg.to_dict(), "train": asdict(self.cfg), "steps_done": self.step,
               "partner_absent_examples": int(self.partner_absent), **self.meta}
        # config.json last and whole (renamed into place): a reader that sees it finds complete weights beside it
        (folder / "config.tmp").write_text(json.dumps(cfg, indent=1, default=str))
        os.replace(folder / "config.tmp", folder / "config.json")
        return path
