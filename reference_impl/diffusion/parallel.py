"""Several processes (torchrun): the process group, batch gathering, FSDP2 sharding of a
`DualStreamModel`, and whole state dicts gathered from (or scattered to) the shards. DDP needs nothing
here beyond `process_group`: `Trainer` wraps the model itself."""

from __future__ import annotations

import torch


def process_group() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def gather_batch(x: torch.Tensor, world: int) -> torch.Tensor:
    """Every process's slice of a batch `[b, ...]`, concatenated in rank order (the global batch)."""
    if world == 1:
        return x
    import torch.distributed as dist

    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def fully_shard_model(model) -> None:
    """FSDP2: each stream block and each interaction its own unit, then the rest. An interaction drives
    its layer through the blocks' stage methods (not their `forward`), so those methods are registered
    as forward methods: each gathers its block's parameters while it runs."""
    try:
        from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method
    except ImportError:  # torch < 2.6
        from torch.distributed._composable.fsdp import fully_shard, register_fsdp_forward_method
    for block in [*model.video_stream.blocks, *model.audio_stream.blocks]:
        fully_shard(block)
        for method in ("self_attention", "text_attention", "feed_forward", "modulated_input"):
            register_fsdp_forward_method(block, method)
    for interaction in model.interactions.values():
        fully_shard(interaction)
        if hasattr(interaction, "run_layer"):  # not the shared module, which runs through its forward
            register_fsdp_forward_method(interaction, "run_layer")
    fully_shard(model)


def full_state(model, ema, opt, sharded: bool):
    """(model, ema, optimiser) state dicts, whole; under FSDP2 gathered from the shards (on CPU)."""
    if not sharded:
        return (model.state_dict() if model is not None else None, ema.state_dict(),
                opt.state_dict() if opt is not None else None)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_optimizer_state_dict

    full = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return (get_model_state_dict(model, options=full) if model is not None else None,
            get_model_state_dict(ema, options=full),
            get_optimizer_state_dict(model, opt, options=full) if opt is not None else None)


def load_full_state(model, ema, opt, ck: dict, sharded: bool) -> None:
    if not sharded:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    full = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, ck["model"], options=full)
    set_model_state_dict(ema, ck["ema"], options=full)
    set_optimizer_state_dict(model, opt, ck["opt"], options=full)
