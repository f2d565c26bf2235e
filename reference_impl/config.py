"""Model configuration as data: one flat dataclass, named scales and named models are override dicts.

Fields tagged [design] reconstruct the CCL paper where its text was not available (see
`../shared/brief/ccl-method.md`); each is a switch so the paper's exact form can be set once known."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelConfig:
    # ---- video stream (Wan2.1 layout) ----
    video_dim: int = 64
    video_ffn_dim: int = 128
    video_heads: int = 2
    layers: int = 2  # both streams have the same depth so every block can exchange [design]
    video_in_dim: int = 12  # latent channels (Wan VAE: 16; the tiny pixel codec: 3 x 2 x 2)
    video_patch: tuple[int, int, int] = (1, 2, 2)
    text_dim: int = 32  # width of the precomputed text embeddings (umT5: 4096)
    freq_dim: int = 256  # sinusoidal timestep embedding width
    # Text convention. Wan2.1 zero-pads every caption to 512 umT5 slots and attends to all of them
    # (padding included): text_pad_to=512, text_mask=False. 0 / True: the batch's own length, padding masked.
    text_pad_to: int = 0
    text_mask: bool = True
    eps: float = 1e-6
    # ---- audio stream: same block type over 1-D audio latent tokens [design] ----
    audio_dim: int = 32
    audio_ffn_dim: int = 64
    audio_heads: int = 1
    audio_in_dim: int = 16  # audio latent channels (log-mel bins for the tiny codec; MMAudio VAE: 20)
    audio_patch: int = 2
    rope_theta: float = 1e4
    # ---- latent timing: where tokens sit in seconds (TARP positions, Ovi/joint position maps) ----
    video_fps: float = 16.0  # pixel frame rate
    video_temporal_compression: int = 1  # pixel frames per latent frame (Wan VAE: 4)
    video_causal_first_frame: bool = False  # Wan VAE: latent 0 covers pixel frame 0 alone [design]
    audio_latent_rate: float = 64.0  # audio latent frames per second (before audio_patch)
    # ---- the cross-modal interaction ----
    interaction: str = "ccl"  # ccl | gated | ovi | ltx2 | joint | none
    exchange_every: int = 1  # interaction in every k-th block (block i when i % k == 0)
    cross_head_dim: int = 32  # head width of cross-modal attention; inner width = audio_dim
    # task: a stream reads its partner only where the task gives one (CCL's DCR; for the baselines the
    # absent partner zeroes their branch, their usual "no modality"); always: every task reads it;
    # t2av-only: routed as task, trained on T2AV alone (the baselines' own recipes: the zeroed branch
    # of inference's "no modality" is then a state they never trained in, the paper's fault 3).
    routing: str = "task"
    # CCL: Cross-Modal Context Attention
    lct: bool = True  # Learnable Context Tokens appended to keys/values
    lct_tokens: int = 16  # K per direction per block [design]
    tarp_rope: bool = True  # 1-D RoPE over physical seconds on both modalities' q/k
    tarp_rope_rate: float = 0.0  # rotary positions per second; 0 = the audio token rate [design]
    tarp_partition: bool = True  # restrict each query to a window of the other modality
    tarp_window: int = 3  # video frame i reads the audio tokens within this many frame durations centred on it
    tarp_video_frames: int = 1  # audio token j reads this many video frames centred on its own (odd)
    # time: windows centred on each token's own time (`reference_impl.timing`) [design];
    # index: the third-party rule `c = N_audio // F` tokens per frame (drifts when the ratio is not whole)
    tarp_partition_rule: str = "time"
    # how windows are computed (the same result): auto | varlen | flex | math | partitioned | dense | full
    tarp_attention_path: str = "auto"
    # gated baseline
    gate: str = "tanh"  # tanh: x += tanh(a) * xattn, a scalar | gamma: per-channel zero-init gamma
    gated_rope: str = "none"  # none | index (plain token-index RoPE)
    # ovi baseline
    ovi_video_init_scale: float = 0.1  # Ovi divides the video-side fusion weights by 10 at init
    extra: dict[str, Any] = field(default_factory=dict)  # free notes carried into provenance

    @property
    def audio_token_rate(self) -> float:
        """Audio tokens per second (after patching)."""
        return self.audio_latent_rate / self.audio_patch

    def exchange_layers(self) -> list[int]:
        return [i for i in range(self.layers) if i % self.exchange_every == 0]

    def narrow_streams(self) -> list[str]:
        """Streams narrower than the numbers each of their tokens carries: such a stream cannot pass
        its input's noise through to the velocity it must predict, and its loss stalls."""
        out = []
        v_in = self.video_in_dim * self.video_patch[0] * self.video_patch[1] * self.video_patch[2]
        if self.video_dim < v_in:
            out.append(f"video stream {self.video_dim} wide, tokens of {v_in} numbers ({self.video_in_dim} channels x "
                       f"patch {'x'.join(map(str, self.video_patch))})")
        a_in = self.audio_in_dim * self.audio_patch
        if self.audio_dim < a_in:
            out.append(f"audio stream {self.audio_dim} wide, tokens of {a_in} numbers ({self.audio_in_dim} channels x "
                       f"patch {self.audio_patch})")
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ModelConfig)]


def coerce(name: str, value: Any) -> Any:
    """Turn a CLI string (`--set lct_tokens=32`) into the field's type."""
    if name not in field_names():
        raise KeyError(name)
    default = getattr(ModelConfig(), name)
    if not isinstance(value, str):
        return tuple(value) if isinstance(default, tuple) else value
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} takes true or false, got '{value}'")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        return tuple(int(v) for v in value.strip("()[]").split(","))
    return value


def heads_of_128(width: int) -> int:
    """Audio width = video width / 2, rounded to whole heads of 128 [design]."""
    return max(1, round(width / 2 / 128)) * 128


# Stream sizes. `tiny`: CPU tests; `small`: learns the av-sync tiny rendering on one GPU in minutes;
# `wan-1.3b` / `wan-14b`: Wan2.1 T2V video streams (dims from the Wan2.1 configs).
SCALES: dict[str, dict[str, Any]] = {
    "tiny": dict(video_dim=64, video_ffn_dim=128, video_heads=2, layers=2, audio_dim=64, audio_ffn_dim=128,
                 audio_heads=2, audio_patch=1, cross_head_dim=32, text_dim=32, lct_tokens=4),
    # small: at most ~3.9M parameters for any interaction (ltx2's adaLN tables are the largest), so a bf16
    # checkpoint stays under 8 MB. Patch 2 x 2 x 2 (Wan: 1 x 2 x 2): 1,024 video tokens for the av-sync
    # tiny rendering rather than 2,048, which halves a training step; the head still outputs every frame,
    # and token times account for it. The audio stream is 3/4 of the video width here, not half: its
    # tokens carry 64 mel bins, and a stream narrower than its tokens cannot learn
    # (`ModelConfig.narrow_streams`; measured on CPU after 150 steps: audio loss 1.19 at 64 wide with
    # patch 2, 0.65 at 128 wide with patch 1).
    "small": dict(video_dim=128, video_ffn_dim=448, video_heads=4, layers=6, audio_dim=96, audio_ffn_dim=256,
                  audio_heads=3, audio_patch=1, cross_head_dim=32, text_dim=128, lct_tokens=16, audio_in_dim=64,
                  video_patch=(2, 2, 2)),
    "wan-1.3b": dict(video_dim=1536, video_ffn_dim=8960, video_heads=12, layers=30, video_in_dim=16, text_dim=4096,
                     audio_dim=heads_of_128(1536), audio_ffn_dim=4 * heads_of_128(1536), audio_heads=heads_of_128(1536) // 128,
                     cross_head_dim=128, audio_in_dim=20, audio_patch=1, audio_latent_rate=31.25, video_fps=16.0,
                     video_temporal_compression=4, video_causal_first_frame=True,
                     text_pad_to=512, text_mask=False),
    "wan-14b": dict(video_dim=5120, video_ffn_dim=13824, video_heads=40, layers=40, video_in_dim=16, text_dim=4096,
                    audio_dim=heads_of_128(5120), audio_ffn_dim=4 * heads_of_128(5120), audio_heads=heads_of_128(5120) // 128,
                    cross_head_dim=128, audio_in_dim=20, audio_patch=1, audio_latent_rate=31.25, video_fps=16.0,
                    video_temporal_compression=4, video_causal_first_frame=True,
                    text_pad_to=512, text_mask=False),
}

# Named models: the interaction and its switches. Ablations are plain overrides of `ccl`. Each
# baseline trains by its own recipe (T2AV alone); its `-mt` variant trains with CCL's five-task routing,
# so a difference to CCL splits into "multi-task routing" and "learnable context tokens".
MODELS: dict[str, dict[str, Any]] = {
    "ccl": dict(interaction="ccl", routing="task"),
    "ccl-no-tarp": dict(interaction="ccl", routing="task", tarp_rope=False, tarp_partition=False),
    # TARP's two halves apart (claim 5's split): time-aligned RoPE over every partner token; partitions without it.
    "ccl-rope-only": dict(interaction="ccl", routing="task", tarp_partition=False),
    "ccl-partition-only": dict(interaction="ccl", routing="task", tarp_rope=False),
    "ccl-no-lct": dict(interaction="ccl", routing="task", lct=False),
    "ccl-no-dcr": dict(interaction="ccl", routing="always"),
    "gated": dict(interaction="gated", routing="t2av-only"),
    "ovi": dict(interaction="ovi", routing="t2av-only"),
    "ltx2": dict(interaction="ltx2", routing="t2av-only"),
    "joint": dict(interaction="joint", routing="t2av-only"),
    "none": dict(interaction="none", routing="task"),
    "gated-mt": dict(interaction="gated", routing="task"),
    "ovi-mt": dict(interaction="ovi", routing="task"),
    "ltx2-mt": dict(interaction="ltx2", routing="task"),
    "joint-mt": dict(interaction="joint", routing="task"),
}
