"""The two training stages of the protocol (`../shared/brief/claims.md`, "The protocol").

Stage 1 (`StreamsModel`): the video stream alone on T2V and the audio stream alone on T2A, no
interaction; trained once and shared by every model. Its weights carry the dual-stream model's names
(`video_stream.*`, `audio_stream.*`), so stage 2 loads them into any `DualStreamModel`.

Stage 2 (`load_stage1_streams`): a named model built whole, its streams replaced by the stage-1
weights; the interaction keeps its own initialisation (zero-initialised output where the design says
so, so at step 0 its T2V / T2A predictions are the stage-1 streams')."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..routing import Route
from ..streams import AudioStream, VideoStream

STREAMS = ("video", "audio")
STREAM_PREFIXES = {"video": "video_stream.", "audio": "audio_stream."}
# The config fields a stream's weights depend on: stage 1 and stage 2 must agree on them.
STREAM_FIELDS = {
    "video": ("video_dim", "video_ffn_dim", "video_heads", "layers", "video_in_dim", "video_patch", "text_dim", "freq_dim"),
    "audio": ("audio_dim", "audio_ffn_dim", "audio_heads", "layers", "audio_in_dim", "audio_patch", "text_dim", "freq_dim"),
}


def stage1_task_probs(streams: tuple[str, ...]) -> dict[str, float]:
    """Stage 1's task mix: T2V for the video stream alone, T2A for the audio stream alone, and for
    both at once T2AV (with no interaction that is T2V and T2A side by side, each example training both)."""
    if set(streams) == set(STREAMS):
        return {"t2av": 1.0}
    return {"t2v": 1.0} if streams == ("video",) else {"t2a": 1.0}


class StreamsModel(nn.Module):
    """Stage 1: one or both streams, each on its own (no interaction). The forward takes the dual-stream
    model's arguments and returns zeros for a stream it does not hold (that stream is never generated
    by stage 1's tasks, so it carries no loss)."""

    def __init__(self, cfg: ModelConfig, streams: tuple[str, ...] = STREAMS):
        super().__init__()
        bad = [s for s in streams if s not in STREAMS]
        if bad or not streams:
            raise ValueError(f"streams must be some of {', '.join(STREAMS)}, got {', '.join(streams) or 'none'}")
        self.cfg, self.streams = cfg, tuple(s for s in STREAMS if s in streams)
        if "video" in self.streams:
            self.video_stream = VideoStream(cfg)
        if "audio" in self.streams:
            self.audio_stream = AudioStream(cfg)

    def forward(self, video, audio, t_video, t_audio, text, text_mask=None, tasks=None, route: Route | None = None):
        """As `DualStreamModel.forward` -> (video, audio) predictions, float32; the route is ignored
        (nothing to route without an interaction)."""
        pv = self.video_stream(video, t_video, text, text_mask).float() if "video" in self.streams else torch.zeros_like(video)
        pa = self.audio_stream(audio, t_audio, text, text_mask).float() if "audio" in self.streams else torch.zeros_like(audio)
        return pv, pa


def streams_in(state: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """Which streams a state dict holds weights of."""
    return tuple(s for s in STREAMS if any(k.startswith(STREAM_PREFIXES[s]) for k in state))


def stream_fields(stage1: dict) -> dict:
    """The stream shapes of a stage-1 model config (a dict, from config.json) that a stage-2 model built on
    those streams takes from them (a wider stage-1 video stream makes a wider stage-2 video stream). Not the
    input channels: the data's codecs fix those, and a stream trained on other data is refused by
    `check_stream_config`."""
    fields = {f: stage1[f] for s in STREAMS for f in STREAM_FIELDS[s] if f in stage1 and not f.endswith("_in_dim")}
    if "video_patch" in fields:
        fields["video_patch"] = tuple(fields["video_patch"])
    return fields


def check_stream_config(stage1: dict, cfg: ModelConfig, streams: tuple[str, ...]) -> None:
    """ValueError naming the first field where the stage-1 model config (a dict, from config.json)
    and this model's differ for a stream it provides."""
    for s in streams:
        for f in STREAM_FIELDS[s]:
            a, b = stage1.get(f), getattr(cfg, f)
            if (list(a) if isinstance(a, list | tuple) else a) != (list(b) if isinstance(b, tuple) else b):
                raise ValueError(f"stage-1 {s} stream has {f}={a}, this model {f}={b}")


def load_stage1_streams(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Copy stage-1 stream weights (as float32) into a `DualStreamModel` (both streams) or a `StreamsModel`
    (its streams: a stage-1 run continued); every stream parameter must be given, nothing else may be.
    -> tensors loaded per stream. ValueError on a missing or foreign key."""
    streams, wanted = streams_in(state), tuple(getattr(model, "streams", STREAMS))
    if set(streams) != set(wanted):
        needs = "both video and audio are needed" if set(wanted) == set(STREAMS) else f"the model trains {' and '.join(wanted)}"
        raise ValueError(f"stage-1 weights hold the {', '.join(streams) or 'no'} stream(s); {needs}")
    own = {k: v for k, v in model.state_dict().items() if k.startswith(tuple(STREAM_PREFIXES[s] for s in wanted))}
    missing, foreign = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or foreign:
        raise ValueError(f"stage-1 weights do not fit: missing {missing[:3]}, unexpected {foreign[:3]}")
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise ValueError(f"stage-1 weight {k} has shape {tuple(v.shape)}, the model {tuple(own[k].shape)}")
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k in state:
                v.copy_(state[k].to(v.dtype))
    return {s: sum(k.startswith(STREAM_PREFIXES[s]) for k in state) for s in wanted}
