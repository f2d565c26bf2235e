"""Multi-task flow-matching training, the same for every model: only the interaction differs.

Each example of a batch draws its task (T2V, T2A, T2AV, A2V, V2A) with the configured
probabilities, its timestep (uniform, Wan-shifted) and its noise; captions are dropped with
probability `text_dropout` for guidance. Cross-modal parameters (`interactions.*`) get `lr_cross`,
the rest `lr`; bf16 autocast on GPU; gradients clipped; EMA weights kept.

`out/metrics.jsonl`: one JSON line per logged step (`step`, `loss`, `loss_<task>`, `lr`, `lr_cross`,
`grad_norm`, `seconds`). `out/checkpoint.pt`: everything needed to resume (model, EMA, optimiser,
random generators, step), written atomically; a run killed and resumed reaches the same weights as
one that was not. `out/ema.safetensors` + `out/config.json`: the final EMA weights (bf16) to ship."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..routing import Route, Task
from .flow import flow_matching_loss, shift_timesteps
from .parallel import barrier, full_state, fully_shard_model, gather_batch, load_full_state, process_group

DEFAULT_TASK_PROBS = {t.value: t.training_probability for t in Task}


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    # From-scratch streams need the full rate; the paper's stage 2 (pretrained streams) uses
    # lr = 1e-5 and lr_cross = 1e-4.
    lr: float = 3e-4
    lr_cross: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    task_probs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_PROBS))
    text_dropout: float = 0.1
    timestep_shift: float = 3.0
    log_every: int = 10
    checkpoint_every: int = 200
    seed: int = 0
    bf16: bool | None = None  # None: on when training on CUDA
    # Replay forward and backward as CUDA graphs: a small model is otherwise bound by the CPU's
    # kernel launches (measured on the H100: ~250 ms a step at batch 32, mostly launch overhead).
    cuda_graphs: bool | None = None  # None: on when training on CUDA
    # Several processes (torchrun; a process group already initialised): "ddp" replicates the model and
    # averages gradients; "fsdp" shards parameters, gradients and optimiser state per block (FSDP2) with
    # every layer's activations recomputed in the backward pass (Wan scales). batch_size is global.
    parallel: str = "ddp"


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


def param_groups(model, cfg: TrainConfig) -> list[dict]:
    cross = [p for n, p in model.named_parameters() if n.startswith("interactions.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("interactions.")]
    groups = [{"params": rest, "lr": cfg.lr, "name": "rest"}]
    if cross:
        groups.append({"params": cross, "lr": cfg.lr_cross, "name": "cross"})
    return groups


def lr_factor(step: int, cfg: TrainConfig) -> float:
    return min(1.0, (step + 1) / max(1, cfg.warmup_steps))


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class _TensorRouted(torch.nn.Module):
    """The model with a tensors-only signature (what CUDA-graph capture takes); the route's Python
    facts are fixed for training: LCT always on, no perturbed pass."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, xv, xa, tv, ta, text, mask, video_reads_audio, audio_reads_video):
        route = Route(video_reads_audio, audio_reads_video, lct_may_be_off=False, may_perturb=False)
        return self.model(xv, xa, tv, ta, text, mask, route=route)


class _GraphedCall:
    """Calls a graphed `_TensorRouted` the way `flow_matching_loss` calls a model."""

    def __init__(self, graphed, cfg):
        self.graphed, self.cfg = graphed, cfg

    def __call__(self, xv, xa, tv, ta, text, mask, route):
        return self.graphed(xv, xa, tv, ta, text, mask, route.video_reads_audio, route.audio_reads_video)


class Trainer:
    def __init__(self, model, data: LatentData, cfg: TrainConfig, out: str | Path, device="cpu",
                 meta: dict | None = None):
        self.model, self.cfg, self.out, self.device = model.to(device), cfg, Path(out), torch.device(device)
        self.data = data.to(device)
        self.meta = meta or {}
        self.rank, self.world = process_group()
        if cfg.batch_size % self.world:
            raise ValueError(f"batch size {cfg.batch_size} does not split over {self.world} processes")
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.net = self.model  # what the forward calls: the model, or its DDP / FSDP2 wrapping
        if self.world > 1 and cfg.parallel == "fsdp":
            fully_shard_model(self.model)
            fully_shard_model(self.ema)  # the same shards, so the EMA update stays shard-local
        elif self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index or 0] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        fused = self.device.type == "cuda"  # one kernel per parameter group rather than several per tensor
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     fused=fused or None)
        self.gen = torch.Generator().manual_seed(cfg.seed)  # tasks, timesteps, indices, dropout
        self.noise_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)  # on the device: no copies
        self.step = 0
        self._saved_step = None  # the step checkpoint.pt holds
        self.seconds = 0.0
        self.bf16 = cfg.bf16 if cfg.bf16 is not None else self.device.type == "cuda"
        self.use_graphs = ((cfg.cuda_graphs if cfg.cuda_graphs is not None else True) and self.device.type == "cuda"
                           and self.world == 1)
        self._graphed = None
        probs = torch.tensor([cfg.task_probs.get(t.value, 0.0) for t in Task], dtype=torch.float64)
        if probs.sum() <= 0:
            raise ValueError("task_probs must give some task a positive probability")
        self.task_probs = probs / probs.sum()

    # ---- checkpoints -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        """Rank 0 writes; under FSDP2 the shards are gathered to full state dicts first (every rank)."""
        model, ema, opt = full_state(self.model, self.ema, self.opt, self.cfg.parallel == "fsdp" and self.world > 1)
        if self.rank == 0:
            _save_atomic({"model": model, "ema": ema, "opt": opt, "gen": self.gen.get_state(),
                          "noise_gen": self.noise_gen.get_state(), "step": self.step, "seconds": self.seconds,
                          "train_config": asdict(self.cfg)}, self.checkpoint_path)
        barrier(self.world)
        self._saved_step = self.step

    def resume(self) -> bool:
        """Continue from `checkpoint.pt` if there is one; drop log lines written after it."""
        if not self.checkpoint_path.is_file():
            return False
        ck = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        load_full_state(self.model, self.ema, self.opt, ck, self.cfg.parallel == "fsdp" and self.world > 1)
        self.gen.set_state(ck["gen"].cpu())
        self.noise_gen.set_state(ck["noise_gen"].cpu())
        self.step, self.seconds = ck["step"], ck["seconds"]
        self._saved_step = self.step
        log = self.out / "metrics.jsonl"
        if log.is_file() and self.rank == 0:
            keep = [ln for ln in log.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.step]
            log.write_text("".join(ln + "\n" for ln in keep))
        return True

    # ---- one step ----------------------------------------------------------------------------
    def draw_batch(self):
        b, g = self.cfg.batch_size, self.gen
        idx = torch.randint(len(self.data.video), (b,), generator=g)
        tasks = [list(Task)[i] for i in torch.multinomial(self.task_probs, b, replacement=True, generator=g).tolist()]
        t = shift_timesteps(torch.rand(b, generator=g), self.cfg.timestep_shift)
        drop = torch.rand(b, generator=g) < self.cfg.text_dropout
        ng, dev = self.noise_gen, self.device
        noise_v = torch.randn((b, *self.data.video.shape[1:]), generator=ng, device=dev)
        noise_a = torch.randn((b, *self.data.audio.shape[1:]), generator=ng, device=dev)
        return idx, tasks, t, drop, noise_v, noise_a

    def _forward(self, sample):
        """The callable `flow_matching_loss` runs: the model, or its CUDA-graphed replay."""
        if not self.use_graphs:
            return self.net
        if self._graphed is None:
            try:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
                    graphed = torch.cuda.make_graphed_callables(_TensorRouted(self.model), sample)
                self._graphed = _GraphedCall(graphed, self.model.cfg)
            except Exception as exc:  # noqa: BLE001 - any capture failure: train eagerly, and say so
                print(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training without graphs", flush=True)
                self.use_graphs = False
                return self.model
        return self._graphed

    def train_step(self, record_losses: bool = True) -> dict:
        # Every process draws the whole (global) batch from the same generators and trains on its slice,
        # so N processes take exactly the step one process takes on the whole batch.
        idx, tasks, t, drop, noise_v, noise_a = self.draw_batch()
        all_tasks = tasks
        if self.world > 1:
            b = self.cfg.batch_size // self.world
            mine = slice(self.rank * b, (self.rank + 1) * b)
            idx, tasks, t, drop, noise_v, noise_a = idx[mine], tasks[mine], t[mine], drop[mine], noise_v[mine], noise_a[mine]
        d, dev = self.data, self.device
        idx, drop = idx.to(dev), drop.to(dev)
        text = torch.where(drop[:, None, None], d.null_text, d.text[idx])
        mask = torch.where(drop[:, None], d.null_mask, d.text_mask[idx])
        for group in self.opt.param_groups:
            group["lr"] = (self.cfg.lr_cross if group["name"] == "cross" else self.cfg.lr) * lr_factor(self.step, self.cfg)
        video0, audio0, t = d.video[idx], d.audio[idx], t.to(dev)
        if self.use_graphs and self._graphed is None:
            b = len(tasks)
            sample = (video0, audio0, t, t, text, mask, torch.ones(b, dtype=torch.bool, device=dev),
                      torch.ones(b, dtype=torch.bool, device=dev))
            self._forward(sample)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=not self.use_graphs):
            per_example = flow_matching_loss(self._forward(None), video0, audio0, noise_v, noise_a, t, tasks, text, mask,
                                             routing=self.model.cfg.routing)
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
            per_example = gather_batch(per_example.detach(), self.world)
            record = {"step": self.step, "loss": per_example.mean().item(), "grad_norm": grad_norm.item()}
            for task in Task:
                sel = [i for i, tk in enumerate(all_tasks) if tk == task]
                if sel:
                    record[f"loss_{task.value}"] = per_example[sel].mean().item()
            for group in self.opt.param_groups:
                record["lr" if group["name"] == "rest" else "lr_cross"] = group["lr"]
        return record

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(list(self.ema.parameters()), [p.detach() for p in self.model.parameters()], 1 - decay)

    # ---- the loop ------------------------------------------------------------------------------
    def fit(self, resume: bool = False, on_step: Callable[[dict], None] | None = None,
            stop_after: int | None = None) -> Path:
        """Train to `cfg.steps` (or stop after `stop_after` more steps, to simulate a kill)."""
        self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self.resume()
        self.model.train()
        if self.cfg.parallel == "fsdp" and self.world > 1:
            self.model.gradient_checkpointing = True
        log = (self.out / "metrics.jsonl").open("a") if self.rank == 0 else None
        done = 0
        try:
            while self.step < self.cfg.steps:
                if stop_after is not None and done >= stop_after:
                    return self.out
                start = time.perf_counter()
                logged = (self.step + 1) % self.cfg.log_every == 0 or self.step + 1 == self.cfg.steps
                record = self.train_step(record_losses=logged)
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                self.seconds += time.perf_counter() - start
                record["seconds"] = round(self.seconds, 3)
                if logged and not math.isfinite(record["loss"]):
                    raise FloatingPointError(f"loss became {record['loss']} at step {self.step}")
                if logged and log is not None:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                    self.save_checkpoint()
                if on_step:
                    on_step(record)  # may move cfg.steps (a coordinator fixing the common count)
                done += 1
        finally:
            if log is not None:
                log.close()
        if self._saved_step != self.step:
            self.save_checkpoint()  # the end moved after the last save: keep the run resumable from here
        self.export()
        return self.out

    def export(self) -> Path:
        """EMA weights in bf16 (`ema.safetensors`) and `config.json` (model, train and `meta` fields)."""
        from safetensors.torch import save_file

        _, ema, _ = full_state(None, self.ema, None, self.cfg.parallel == "fsdp" and self.world > 1)
        path = self.out / "ema.safetensors"
        if self.rank != 0:
            return path
        state = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in ema.items()}
        save_file(state, str(path.with_suffix(".tmp")))
        os.replace(path.with_suffix(".tmp"), path)
        cfg = {"model": self.model.cfg.to_dict(), "train": asdict(self.cfg), "steps_done": self.step, **self.meta}
        (self.out / "config.json").write_text(json.dumps(cfg, indent=1, default=str))
        return path
