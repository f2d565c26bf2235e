"""Suite clips -> the latents and text embeddings the reference models train and sample on."""

from __future__ import annotations

import numpy as np
import torch

from ..progress import progress
from ..suites import SuiteSpec, make_clip


def render_split(spec: SuiteSpec, split: str, rendering: str, num: int, seed: int, show_progress: bool = True):
    """`num` clips of a split, rendered in memory -> (video uint8 `[N, T, H, W, 3]`, audio `[N, S]`, metadata)."""
    rend = spec.rendering(rendering)
    videos, audios, metas = [], [], []
    with progress(show_progress) as bar:
        task = bar.add_task(f"render {spec.name} {split}/{rendering}", total=num)
        for i in range(num):
            clip = make_clip(spec, split, rend, i, seed, num)
            videos.append(clip.video)
            audios.append(clip.audio[0])
            metas.append(dict(clip.metadata, id=f"{split}-{i:05d}"))
            bar.advance(task)
    return torch.from_numpy(np.stack(videos)), torch.from_numpy(np.stack(audios)), metas


def encode_clips(video: torch.Tensor, audio: torch.Tensor, video_codec, audio_codec, batch: int = 256):
    """uint8 video `[N, T, H, W, 3]`, audio `[N, S]` -> latents, encoded in chunks."""
    lv = torch.cat([video_codec.encode(video[i : i + batch]) for i in range(0, len(video), batch)])
    la = torch.cat([audio_codec.encode(audio[i : i + batch]) for i in range(0, len(audio), batch)])
    return lv, la
