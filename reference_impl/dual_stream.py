"""`DualStreamModel`: a video stream and an audio stream run block by block, joined by one
interaction in every k-th block. Routing is per example; each stream has its own timestep."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import ModelConfig
from .interactions import INTERACTIONS, NoExchange, StreamState
from .routing import Route, Task
from .streams.stream import AudioStream, Perturbation, VideoStream
from .timing import audio_token_times, video_token_times


class DualStreamModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.interaction not in INTERACTIONS:
            raise ValueError(f"unknown interaction '{cfg.interaction}' (known: {', '.join(INTERACTIONS)})")
        for fault in cfg.narrow_streams():
            warnings.warn(f"{cfg.extra.get('name', cfg.interaction)}: {fault}; it cannot carry its input through and "
                          "will learn poorly (widen the stream or shrink the patch)", stacklevel=2)
        self.cfg = cfg
        self.video_stream = VideoStream(cfg)
        self.audio_stream = AudioStream(cfg)
        kind = INTERACTIONS[cfg.interaction]
        layers = [] if kind is NoExchange else cfg.exchange_layers()
        self.interactions = nn.ModuleDict({str(i): kind(cfg) for i in layers})
        shared = kind.make_shared(cfg) if layers else None
        if shared is not None:  # one module for every layer (LTX-2's global adaLN), named with the interaction
            self.interactions["shared"] = shared
        self._plain = NoExchange(cfg)
        # Recompute layers in the backward pass instead of keeping their activations (Wan-scale training):
        # `checkpoint_fraction` of them (the first ones), 1.0 = every layer; less trades memory for speed.
        self.gradient_checkpointing = False
        self.checkpoint_fraction = 1.0

    def compile_blocks(self, **options) -> DualStreamModel:
        """Compiled regions: `torch.compile` each block's three stages and each interaction's exchange
        with its residual additions (their element-wise work fused around the matmuls and attention; the
        forward's host-side set-up, routing and partition plans stay eager). Same results; options go to
        `torch.compile`."""
        import torch._dynamo

        # One compiled function per stage serves every block of every model in the process, with an entry
        # per shape and route pattern (the host partner switches): room for them all, not dynamo's 8.
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 64))
        for block in [*self.video_stream.blocks, *self.audio_stream.blocks]:
            for stage in ("self_attention", "text_attention", "feed_forward"):
                setattr(block, stage, torch.compile(getattr(block, stage), **options))
        for key, inter in self.interactions.items():
            if key != "shared" and type(inter).exchange is not NoExchange.exchange:
                inter.exchanged = torch.compile(inter.exchanged, **options)  # the exchange with its residual adds
        return self

    def route(self, batch: int, tasks: Sequence[Task | str] | None, device) -> Route:
        return Route.for_tasks(tasks if tasks is not None else [Task.T2AV] * batch, self.cfg.routing, device)

    def forward(self, video: torch.Tensor, audio: torch.Tensor, t_video: torch.Tensor, t_audio: torch.Tensor,
                text: torch.Tensor, text_mask: torch.Tensor | None = None,
                tasks: Sequence[Task | str] | None = None, route: Route | None = None):
        """video `[B, Cv, F, H, W]` and audio `[B, Ca, T]` latents; t_video, t_audio `[B]` in [0, 1]
        (a conditioning stream has t = 0); text `[B, L, text_dim]`, text_mask `[B, L]` bool.
        tasks: per-example `Task` (default T2AV), turned into a route by the config's routing rule;
        route: an explicit route instead (guidance passes). -> (video, audio) predictions, float32."""
        vs, aud = self.video_stream, self.audio_stream
        route = route if route is not None else self.route(video.shape[0], tasks, video.device)
        xv, gv = vs.patchify(video)  # [B, Nv, Dv], Nv = f h w
        xa, ga = aud.patchify(audio)  # [B, Na, Da]
        ev, e0v = vs.embed_time(t_video)  # [B, Dv], [B, 6, Dv]
        ea, e0a = aud.embed_time(t_audio)  # [B, Da], [B, 6, Da]
        text, text_mask = vs.prepare_text(text, text_mask)  # both streams share the config's text convention
        frame_of_token = torch.arange(gv[0], device=video.device).repeat_interleave(gv[1] * gv[2])  # [Nv]
        sv = StreamState(e=ev, e0=e0v, angles=vs.rope_angles(gv, video.device), context=vs.embed_text(text),
                         context_mask=text_mask, times=video_token_times(self.cfg, gv[0], video.device)[frame_of_token],
                         positions=frame_of_token, grid=gv, reads_partner=route.video_reads_audio, lct_on=route.lct_on,
                         lct_may_be_off=route.lct_may_be_off, reads_partner_host=route.video_reads_audio_host)
        sa = StreamState(e=ea, e0=e0a, angles=aud.rope_angles(ga, audio.device), context=aud.embed_text(text),
                         context_mask=text_mask, times=audio_token_times(self.cfg, ga[0], audio.device),
                         positions=torch.arange(ga[0], device=audio.device), grid=ga,
                         reads_partner=route.audio_reads_video, lct_on=route.lct_on, lct_may_be_off=route.lct_may_be_off,
                         reads_partner_host=route.audio_reads_video_host)
        if "shared" in self.interactions:
            self.interactions["shared"](sv, sa)  # what every layer shares, computed once per forward
        first = next((m for k, m in self.interactions.items() if k != "shared"), None)
        if first is not None:  # tables every layer shares, made once (all layers have one config)
            first.prepare(sv, sa)
        perturb = Perturbation(route.perturb_mode, route.perturbed) if route.may_perturb else None
        recompute = round(self.checkpoint_fraction * len(vs.blocks)) if self.gradient_checkpointing else 0
        for i, (vb, ab) in enumerate(zip(vs.blocks, aud.blocks, strict=True)):
            sv.sa_perturb = sa.sa_perturb = perturb if i in route.stg_layers else None
            layer = self.interactions[str(i)] if str(i) in self.interactions else self._plain
            if i < recompute and torch.is_grad_enabled():
                xv, xa = checkpoint(layer.run_layer, vb, ab, xv, xa, sv, sa, use_reentrant=False)
            else:
                xv, xa = layer.run_layer(vb, ab, xv, xa, sv, sa)  # [B, Nv, Dv], [B, Na, Da] float32
        return vs.unpatchify(vs.head(xv, ev), gv), aud.unpatchify(aud.head(xa, ea), ga)  # [B, Cv, F, H, W], [B, Ca, T]
