"""ImageBind-huge (Girdhar et al. 2023) for the IB scores of av-benchmark and JavisBench and for
JavisBench's JavisScore, in the layout of `imagebind_huge.pth` (facebookresearch/ImageBind, the file that
`imagebind_huge(pretrained=True)` downloads). The vision, text and audio branches are built; the file's
depth, thermal and IMU entries are set aside on load (any other key that does not fit is refused).

The network, per modality m (huge sizes; `ImageBindConfig` holds them):
- `modality_preprocessors.m`: vision: a bias-free Conv3d over 2 x 14 x 14 tubelets of a 2-frame clip
  (`rgbt_stem.proj.1`; a still image is repeated to 2 frames first), a CLS token and 1 + 16 x 16 learned
  positions; audio: a bias-free 16 x 16 Conv2d at stride 10 over a 128 x 204 log-mel image (12 x 19
  patches), a LayerNorm over the patch tokens, CLS and 1 + 228 positions; text: CLIP's token embedding
  (49,408 words), 77 learned positions and the causal mask (a stored buffer);
- `modality_trunks.m`: pre-norm blocks (`norm_1`, `attn` in torch's MultiheadAttention layout, `norm_2`,
  `mlp` with GELU; LayerNorm eps 1e-6): vision 32 x 1280 (16 heads) after one more LayerNorm, text
  24 x 1024 (16 heads, causal), audio 12 x 768 (12 heads) with a learned key/value bias token;
- `modality_heads.m`: LayerNorm, then a bias-free projection to 1024 of the CLS token (vision, audio) or
  of the end-of-text token (text: the position of the largest token id);
- `modality_postprocessors.m`: L2 normalisation, then a scale (text: learned, capped at 100; audio: 20).
  An input of several sub-clips is embedded as the mean of its sub-clips' outputs (not renormalised).

Every IB value is a raw cosine in [-1, 1] between two embeddings (the scales cancel). Papers print it
x100 (JavisBench's tables, MMAudio's "IB-score"); ccl-bench prints the raw cosine.

Audio front end (ImageBind's `load_and_transform_audio_data`, which both toolkits call): 16 kHz, down-mixed
to mono (the reference's Kaldi call reads a multi-channel file's first channel);
3 sub-clips of 2 s starting at k * max(D - 2, 0) / 2 s (a clip under 2 s gives 3 copies of itself),
cut at `int(t * 16000)`; each sub-clip loses its mean in place on the shared waveform (the reference
slices are views, so a later overlapping sub-clip sees the earlier removals); Kaldi fbank (25 ms Hann
frames every 10 ms, 128 mel bins, no dither, defaults otherwise), zero-padded or cut to 204 frames,
`(x + 4.268) / 9.138`. Audio under 25 ms (400 samples) has no frame: unavailable.

Presets (`PRESETS`):
- `av-benchmark` (`ib-av`): av-benchmark's `VideoDataset`: frames at 0.5 fps as ffmpeg's fps filter
  picks them (its torio decoder): output frame k is the last source frame whose time rounds to k x 2 s,
  and a clip of T frames gives round(T x 0.5 / fps) of them; the first 4; short side to 224 (antialiased
  bicubic on uint8), /255, CLIP mean/std; three 224 crops along the long side (start, centre rounded up,
  end); each pair of consecutive frames in each crop is a 2-frame sub-clip (3 pairs x 3 crops). Audio: the
  whole clip. A clip under 8 s is unavailable: the loader reads its 8 s of Synchformer frames in the same
  pass and drops the clip (it would be left out of av-benchmark's mean silently).
- `javisbench` (`ib-av@javisbench`, `ib-tv`, `ib-ta`): ImageBind's `load_and_transform_video_data`: 5
  sub-clips of 2 s starting at k x max(D - 2, 0) / 4 s (D = frames / fps), frames ceil(fps t0) to
  ceil(fps t1) - 1, of which the first and the last; short side to 224 (bilinear, no antialias, long side
  floored) on float frames; CLIP mean/std; three crops (5 x 3 sub-clips). Text: the caption in CLIP's
  BPE, 77 tokens, a longer caption cut without an end token (the tokenizer JavisBench ships; ImageBind's
  current one forces the end token: preset `text="forced-end"`). One frame is enough.
- JavisScore (`javisscore`): JavisBench's `calc_av_score` as its `main.py` calls it: every frame as a
  still image (PIL bicubic short side 224, centre crop, CLIP mean/std); windows of int(2 fps) frames every
  int(2 fps) - int(1.5 fps) and of 32,000 samples every 8,000, the last of each moved back to end at the
  clip's end, as many of each as the fewer; each audio window through the audio front end (in window
  order, on the one shared waveform); per window the cosines of its audio and each of its frames
  `[M, N]`. A clip with no more than one window of frames or samples is one window: all frames and the
  whole audio. The lowest-40% rule is the metric's (`metrics.learned.javis_score`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import BackboneAnalysis, mono_at
from .clip_score import MEAN, STD, preprocess_frame
from .layers import Mlp

SIZE = 224
RATE = 16000
MELS, TARGET_FRAMES = 128, 204
FBANK_MEAN, FBANK_STD = -4.268, 9.138
CLIP_S = 2  # seconds per sub-clip (audio and video)
AUDIO_CLIPS, VIDEO_CLIPS = 3, 5
MIN_SAMPLES = 400  # one 25 ms fbank frame
AVB_FPS, AVB_SPAN_S, AVB_FRAMES = 0.5, 8.0, 4  # av-benchmark: 0.5 fps over its 8 s
SYNC_FPS = 25.0  # av-benchmark reads its Synchformer frames in the same pass
JS_WINDOW_S, JS_OVERLAP_S = 2.0, 1.5  # JavisBench main.py's defaults for calc_av_score
UNUSED = ("depth", "thermal", "imu")  # branches of the file not built here


# ---- the network -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageBindConfig:
    """Sizes of `imagebind_huge`; tests run the same code narrower and shallower."""

    out_dim: int = 1024
    vision_dim: int = 1280
    vision_depth: int = 32
    vision_heads: int = 16
    text_dim: int = 1024
    text_depth: int = 24
    text_heads: int = 16
    audio_dim: int = 768
    audio_depth: int = 12
    audio_heads: int = 12
    vocab: int = 49408
    context: int = 77
    patch: int = 14  # vision tubelet 2 x 14 x 14
    audio_kernel: int = 16
    audio_stride: int = 10


class StillToClip(nn.Module):
    """`[N, 3, H, W]` image or `[N, 3, 1, H, W]` -> `[N, 3, 2, H, W]` by repeating the frame; 2-frame clips pass."""

    def forward(self, x):
        if x.ndim == 4:
            x = x[:, :, None]
        return x.repeat(1, 1, 2, 1, 1) if x.shape[2] == 1 else x


class PatchStem(nn.Module):
    """`proj` (a convolution, or a sequence ending in one), flattened to tokens `[N, L, D]`, then an
    optional LayerNorm (`norm_layer`)."""

    def __init__(self, proj: nn.Module, norm: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        return x if self.norm_layer is None else self.norm_layer(x)


class PositionTable(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))


class PatchTokens(nn.Module):
    """Vision or audio input -> `[N, 1 + L, D]`: CLS then the stem's patches, plus learned positions."""

    def __init__(self, stem: PatchStem, patches: int, dim: int):
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding_helper = PositionTable(1 + patches, dim)

    def forward(self, x):
        x = self.rgbt_stem(x)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
        return x + self.pos_embedding_helper.pos_embed


class TextTokens(nn.Module):
    """Token ids `[N, 77]` -> `[N, 77, D]`; `mask` is the additive causal mask (-inf above the diagonal)."""

    def __init__(self, vocab: int, context: int, dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, context, dim))
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu(1))

    def forward(self, tokens):
        return self.token_embedding(tokens) + self.pos_embed


class Block(nn.Module):
    """x + attn(norm_1(x)), then + mlp(norm_2(x)). `bias_kv`: a learned key/value token appended to every
    sequence (the audio trunk's)."""

    def __init__(self, dim: int, heads: int, bias_kv: bool):
        super().__init__()
        self.norm_1, self.norm_2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, add_bias_kv=bias_kv, batch_first=True)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x, mask=None):
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, pre_norm: bool = False, bias_kv: bool = False):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_norm else nn.Identity())
        self.blocks = nn.Sequential(*(Block(dim, heads, bias_kv) for _ in range(depth)))

    def forward(self, x, mask=None):
        x = self.pre_transformer_layer(x)
        for blk in self.blocks:
            x = blk(x, mask)
        return x


class SelectCLS(nn.Module):
    def forward(self, x):
        return x[:, 0]


class EndTokenHead(nn.Module):
    """The text head: LayerNorm and projection of the end-of-text token's output (the largest id's position)."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out, bias=False))

    def forward(self, x, tokens):
        return self.proj(x[torch.arange(len(x), device=x.device), tokens.argmax(-1)])


class Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=-1)


class LogitScale(nn.Module):
    """x * min(exp(s), 100); s learned (text) or a fixed buffer (audio: log 20)."""

    def __init__(self, init: float, learnable: bool):
        super().__init__()
        s = torch.tensor(math.log(init))
        if learnable:
            self.log_logit_scale = nn.Parameter(s)
        else:
            self.register_buffer("log_logit_scale", s)

    def forward(self, x):
        return torch.clamp(self.log_logit_scale.exp(), max=100.0) * x


def _cls_head(dim: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim, eps=1e-6), SelectCLS(), nn.Linear(dim, out, bias=False))


class ImageBind(nn.Module):
    """`embed(modality, x)`: vision `[N, 3, 2, 224, 224]` clips or `[N, 3, 224, 224]` images, audio
    `[N, 1, 128, 204]` log-mel, text `[N, 77]` ids -> `[N, out_dim]` (normalised, then scaled)."""

    def __init__(self, cfg: ImageBindConfig | None = None):
        super().__init__()
        c = self.cfg = cfg or ImageBindConfig()
        p, side = c.patch, SIZE // c.patch
        tubelet = nn.Conv3d(3, c.vision_dim, (2, p, p), stride=(2, p, p), bias=False)
        audio_conv = nn.Conv2d(1, c.audio_dim, c.audio_kernel, stride=c.audio_stride, bias=False)
        mel_patches = ((MELS - c.audio_kernel) // c.audio_stride + 1) * ((TARGET_FRAMES - c.audio_kernel) // c.audio_stride + 1)
        self.modality_preprocessors = nn.ModuleDict({
            "vision": PatchTokens(PatchStem(nn.Sequential(StillToClip(), tubelet)), side * side, c.vision_dim),
            "text": TextTokens(c.vocab, c.context, c.text_dim),
            "audio": PatchTokens(PatchStem(audio_conv, nn.LayerNorm(c.audio_dim)), mel_patches, c.audio_dim),
        })
        self.modality_trunks = nn.ModuleDict({
            "vision": Trunk(c.vision_dim, c.vision_depth, c.vision_heads, pre_norm=True),
            "text": Trunk(c.text_dim, c.text_depth, c.text_heads),
            "audio": Trunk(c.audio_dim, c.audio_depth, c.audio_heads, bias_kv=True),
        })
        self.modality_heads = nn.ModuleDict({"vision": _cls_head(c.vision_dim, c.out_dim),
                                             "text": EndTokenHead(c.text_dim, c.out_dim),
                                             "audio": _cls_head(c.audio_dim, c.out_dim)})
        self.modality_postprocessors = nn.ModuleDict({
            "vision": Normalize(),
            "text": nn.Sequential(Normalize(), LogitScale(1 / 0.07, learnable=True)),
            "audio": nn.Sequential(Normalize(), LogitScale(20.0, learnable=False)),
        })

    def embed(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        pre, trunk = self.modality_preprocessors[modality], self.modality_trunks[modality]
        if modality == "text":
            out = self.modality_heads.text(trunk(pre(x), pre.mask), x)
        else:
            out = self.modality_heads[modality](trunk(pre(x)))
        return self.modality_postprocessors[modality](out)

    def embed_clip(self, modality: str, subclips: torch.Tensor, batch: int = 16) -> torch.Tensor:
        """One input made of sub-clips `[S, ...]` -> the mean of their embeddings `[out_dim]`."""
        with torch.no_grad():
            parts = [self.embed(modality, subclips[i : i + batch]) for i in range(0, len(subclips), batch)]
        return torch.cat(parts).mean(0)


def file_state(state: dict) -> dict:
    """The file's entries for the branches built here (its depth, thermal and IMU entries set aside)."""
    return {k: v for k, v in state.items() if (k.split(".") + [""])[1] not in UNUSED}


# ---- audio front end -------------------------------------------------------------------------------

def subclip_spans(duration_s: float, count: int, clip_s: int = CLIP_S) -> list[tuple[Fraction, Fraction]]:
    """pytorchvideo's `ConstantClipsPerVideoSampler`: `count` spans of `clip_s` seconds starting at
    k * max(D - clip_s, 0) / (count - 1), in exact fractions."""
    last = Fraction(max(duration_s - clip_s, 0))
    step = last / max(count - 1, 1)
    return [(step * k, step * k + clip_s) for k in range(count)]


def fbank(wave: np.ndarray) -> torch.Tensor:
    """A float32 waveform `[n]` at 16 kHz, n >= 400 -> Kaldi log-mel fbank `[frames, 128]` (htk_compat,
    Hann window, 25 ms / 10 ms, no dither, no energy; pre-emphasis 0.97 and per-frame DC removal by default)."""
    import torchaudio.compliance.kaldi as kaldi

    return kaldi.fbank(torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None], htk_compat=True,
                       sample_frequency=RATE, use_energy=False, window_type="hanning", num_mel_bins=MELS, dither=0.0,
                       frame_length=25, frame_shift=10)


def audio_subclips(wave: np.ndarray, count: int = AUDIO_CLIPS) -> torch.Tensor:
    """Mono 16 kHz float32 `[n]` -> normalised log-mel sub-clips `[count, 1, 128, 204]`. `wave` is changed
    in place (each sub-clip's mean removed on it), as the reference changes its waveform."""
    out = []
    for start, end in subclip_spans(len(wave) / RATE, count):
        seg = wave[int(start * RATE) : int(end * RATE)]  # a view: the removal below reaches later sub-clips
        seg -= seg.mean(dtype=np.float32)
        spec = fbank(seg).T  # [128, frames]
        spec = F.pad(spec, (0, max(TARGET_FRAMES - spec.shape[1], 0)))[:, :TARGET_FRAMES]
        out.append(((spec - FBANK_MEAN) / FBANK_STD)[None])
    return torch.stack(out)


# ---- video front ends ------------------------------------------------------------------------------

def fps_filter_indices(num_frames: int, fps: float, rate: float) -> np.ndarray:
    """ffmpeg's fps filter (rounding `near`, its default): source frame i lands on output tick
    round(i rate / fps) (halves up); output k is the last source frame on a tick <= k; the clip gives
    round(T rate / fps) outputs (its end, one frame period after the last frame, rounded alike)."""
    ticks = np.floor(np.arange(num_frames) * rate / fps + 0.5 + 1e-9).astype(int)
    count = int(math.floor(num_frames * rate / fps + 0.5 + 1e-9))
    return np.searchsorted(ticks, np.arange(count), side="right") - 1


def normalise(x: torch.Tensor, channel_dim: int) -> torch.Tensor:
    shape = [1] * x.ndim
    shape[channel_dim] = 3
    return (x - torch.tensor(MEAN).view(shape)) / torch.tensor(STD).view(shape)


def three_crops(x: torch.Tensor, size: int = SIZE) -> list[torch.Tensor]:
    """`[..., H, W]` -> 3 crops `[..., 224, 224]` along the long side: start, centre (offset rounded up), end."""
    h, w = x.shape[-2:]
    top, left = math.ceil((h - size) / 2), math.ceil((w - size) / 2)
    if h > w:
        return [x[..., t : t + size, left : left + size] for t in (0, top, h - size)]
    return [x[..., top : top + size, s : s + size] for s in (0, left, w - size)]


def av_benchmark_video(video: np.ndarray, fps: float) -> torch.Tensor | str:
    """uint8 `[T, H, W, 3]` -> `[9, 3, 2, 224, 224]` (3 consecutive-frame pairs x 3 crops), or why not."""
    from torchvision.transforms.v2 import functional as TF

    sync = len(fps_filter_indices(len(video), fps, SYNC_FPS))
    idx = fps_filter_indices(len(video), fps, AVB_FPS)[:AVB_FRAMES]
    if sync < round(AVB_SPAN_S * SYNC_FPS) or len(idx) < AVB_FRAMES:
        return (f"shorter than the {AVB_SPAN_S:g} s av-benchmark reads ({len(video) / fps:.2f} s): its loader drops "
                "the clip; IB unavailable")
    x = torch.from_numpy(np.ascontiguousarray(video[idx])).permute(0, 3, 1, 2)  # [4, 3, H, W] uint8
    x = TF.resize(x, [SIZE], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    x = normalise(x.float() / 255.0, 1)
    pairs = [crop[i : i + 2].transpose(0, 1) for i in range(AVB_FRAMES - 1) for crop in three_crops(x)]
    return torch.stack(pairs)


def short_side_bilinear(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """pytorchvideo's ShortSideScale on `[C, T, H, W]` float: bilinear, no antialias, long side floored."""
    h, w = x.shape[-2:]
    hw = (int(math.floor(h / w * size)), size) if w < h else (size, int(math.floor(w / h * size)))
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False)


def imagebind_frame_pairs(num_frames: int, fps: float) -> np.ndarray:
    """`[5, 2]` frame indices: per 2 s sub-clip (pytorchvideo's decord reader: frames ceil(fps t0) to
    ceil(fps t1) - 1, the float product as Python forms it) the first and the last."""
    pairs = []
    for start, end in subclip_spans(num_frames / fps, VIDEO_CLIPS):
        first, stop = math.ceil(fps * float(start)), min(math.ceil(fps * float(end)), num_frames)
        pairs.append((first, stop - 1))
    return np.array(pairs)


def imagebind_video(video: np.ndarray, fps: float) -> torch.Tensor:
    """ImageBind's video loader: uint8 `[T, H, W, 3]` -> `[15, 3, 2, 224, 224]` (5 sub-clips x 3 crops)."""
    out = []
    for pair in imagebind_frame_pairs(len(video), fps):
        x = torch.from_numpy(np.ascontiguousarray(video[pair])).permute(3, 0, 1, 2).float() / 255.0  # [3, 2, H, W]
        out += three_crops(normalise(short_side_bilinear(x), 0))
    return torch.stack(out)


def still_frames(video: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """JavisScore's frames: `[F, 3, 224, 224]` (PIL bicubic short side 224, centre crop, CLIP mean/std)."""
    return torch.stack([preprocess_frame(video[i]) for i in idx])


def javisscore_windows(num_frames: int, num_samples: int, fps: float,
                       window_s: float = JS_WINDOW_S, overlap_s: float = JS_OVERLAP_S) -> tuple[np.ndarray, list]:
    """-> (frame indices `[M, N]`, audio sample spans [(a, b)] * M). Short clips: one window of everything."""
    vw, vo = int(window_s * fps), int(overlap_s * fps)
    aw, ao = int(window_s * RATE), int(overlap_s * RATE)
    if num_frames <= vw or num_samples <= aw:
        return np.arange(num_frames)[None], [(0, num_samples)]

    def spans(n: int, size: int, step: int) -> list[tuple[int, int]]:
        out = []
        for s in range(0, n, step):
            s = min(s, n - size)
            out.append((s, s + size))
            if s + size >= n:
                break
        return out

    video, audio = spans(num_frames, vw, vw - vo), spans(num_samples, aw, aw - ao)
    m = min(len(video), len(audio))
    return np.stack([np.arange(a, b) for a, b in video[:m]]), audio[:m]


# ---- tokenizer -------------------------------------------------------------------------------------

def tokenize(caption: str, rule: str) -> torch.Tensor:
    """CLIP's BPE (open_clip's tokenizer) -> `[1, 77]` ids. `forced-end`: a long caption keeps the end token
    in the last place (ImageBind today, open_clip); `javisbench`: cut at 77, no end token (JavisBench's copy)."""
    from open_clip import tokenizer

    if rule == "forced-end":
        return tokenizer.tokenize([caption])
    t = tokenizer._tokenizer
    ids = ([t.sot_token_id] + t.encode(caption) + [t.eot_token_id])[:77]
    out = torch.zeros(1, 77, dtype=torch.long)
    out[0, : len(ids)] = torch.tensor(ids)
    return out


# ---- the analyses ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class IBPreset:
    name: str
    video: str  # "av-benchmark" (0.5 fps pairs of the first 8 s) | "imagebind" (5 x 2 s sub-clips)
    text: str | None  # tokenizer rule, None: the toolkit has no text score

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {"av-benchmark": IBPreset("av-benchmark", "av-benchmark", None),
           "javisbench": IBPreset("javisbench", "imagebind", "javisbench")}

_AUDIO = {"channels": "down-mixed to mono (the reference's Kaldi call reads a multi-channel file's first channel)",
          "rate": RATE, "subclips": f"{AUDIO_CLIPS} x {CLIP_S} s at k * max(D - 2, 0) / 2 (pytorchvideo constant sampler)",
          "mean_removal": "per sub-clip, in place on the shared waveform (as the reference)",
          "fbank": f"kaldi: 25 ms Hann / 10 ms, {MELS} bins, htk_compat, no dither; pad or cut to {TARGET_FRAMES} frames",
          "normalise": f"(x - {FBANK_MEAN}) / {FBANK_STD}", "min_samples": MIN_SAMPLES}


class _ImageBindAnalysis(BackboneAnalysis):
    weights_names = ("imagebind-huge",)

    def __init__(self, name: str, protocol: dict, weights_dir, device, cfg: ImageBindConfig | None):
        self.cfg = cfg or ImageBindConfig()
        protocol = {**protocol, "model": "ImageBind-huge (vision, text, audio branches)", "audio": _AUDIO,
                    "decoder": _decoder(), "value": "raw cosine in [-1, 1] (papers print x100)"}
        super().__init__(name, protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        # The reference loads the file strictly, so its buffers (text mask, audio scale) are in it and are read too.
        model = load_into(ImageBind(self.cfg), file_state(states["imagebind-huge"]), "imagebind-huge")
        return model.float().eval().to(self.device)

    def audio_embedding(self, clip, conv: list[str]) -> np.ndarray | str:
        wave = np.array(mono_at(clip, RATE, conv), np.float32)  # a copy: the front end changes it
        if len(wave) < MIN_SAMPLES:
            return f"audio of {len(wave)} samples at 16 kHz, under one 25 ms fbank frame: IB unavailable"
        return self.model.embed_clip("audio", audio_subclips(wave).to(self.device)).double().cpu().numpy()


def _decoder() -> str:
    from ..io.reader import _has_decord

    return ("decord" if _has_decord() else "PyAV") + " (ccl-bench read_clip); frames picked in memory"


def _rows(x: np.ndarray | None, dim: int) -> np.ndarray:
    return np.zeros((0, dim)) if x is None else np.asarray(x, float).reshape(1, -1)


class ImageBindFeatures(_ImageBindAnalysis):
    """Per clip `{"video": [1, 1024], "audio": [1, 1024], "text": [1, 1024]}`, each `[0, 1024]` where the
    preset has none for the clip (too short, no caption, or a toolkit without text)."""

    def __init__(self, preset: str = "av-benchmark", weights_dir=None, device: str = "cpu", cfg: ImageBindConfig | None = None):
        self.preset = PRESETS[preset]
        self.reads_text = ("caption",) if self.preset.text else ()
        video = ("0.5 fps (ffmpeg fps filter), first 4 frames of 8 s; bicubic antialiased short side 224; 3 crops; "
                 "3 consecutive pairs x 3 crops; clips under 8 s unavailable" if self.preset.video == "av-benchmark" else
                 "5 x 2 s sub-clips at k * max(D - 2, 0) / 4, first and last frame of each; bilinear short side 224; "
                 "3 crops; min 1 frame")
        minimum = {"min_seconds": AVB_SPAN_S} if self.preset.video == "av-benchmark" else {"min_frames": 1}
        protocol = {"name": f"imagebind-{preset}", **self.preset.to_dict(), "video_frames": video, "mean": MEAN, "std": STD,
                    "audio_span": "whole clip", **minimum}
        super().__init__(f"imagebind-{preset}", protocol, weights_dir, device, cfg)

    def compute(self, clip):
        conv: list[str] = []
        p = self.preset
        video = av_benchmark_video(clip.video, clip.fps) if p.video == "av-benchmark" else imagebind_video(clip.video, clip.fps)
        if isinstance(video, str):
            return {k: _rows(None, self.cfg.out_dim) for k in ("video", "audio", "text")}, [video]
        v = self.model.embed_clip("vision", video.to(self.device)).double().cpu().numpy()
        a = self.audio_embedding(clip, conv)
        if isinstance(a, str):
            conv.append(a)
            a = None
        t = None
        if p.text:
            caption = clip.metadata.get("caption")
            if caption:
                t = self.model.embed_clip("text", tokenize(caption, p.text).to(self.device)).double().cpu().numpy()
            else:
                conv.append("no caption (ib-tv and ib-ta read `caption` from the suite manifest)")
        return {k: _rows(x, self.cfg.out_dim) for k, x in (("video", v), ("audio", a), ("text", t))}, conv


class JavisScoreFeatures(_ImageBindAnalysis):
    """Per clip `{"cosines": [M, N]}`: per window the cosine of its audio embedding and each of its N frames'
    (`[0, 0]` when the clip has no audio frame)."""

    def __init__(self, weights_dir=None, device: str = "cpu", cfg: ImageBindConfig | None = None, batch: int = 32):
        self.batch = batch
        protocol = {"name": "javisscore-javisbench", "window_s": JS_WINDOW_S, "overlap_s": JS_OVERLAP_S,
                    "windows": "int(2 fps) frames every int(2 fps) - int(1.5 fps); 32000 samples every 8000; last moved "
                               "back to the end; min of the two counts; a short clip is one window of everything",
                    "frames": "every frame a still image: PIL bicubic short side 224, centre crop 224", "mean": MEAN,
                    "std": STD, "lowest_share": 0.4, "min_frames": 3}
        super().__init__("imagebind-javisscore", protocol, weights_dir, device, cfg)

    def compute(self, clip):
        conv: list[str] = []
        wave = np.array(mono_at(clip, RATE, conv), np.float32)
        frames, spans = javisscore_windows(clip.num_frames, len(wave), clip.fps)
        if min(b - a for a, b in spans) < MIN_SAMPLES:
            return {"cosines": np.zeros((0, 0))}, conv + ["audio under one 25 ms fbank frame: JavisScore unavailable"]
        used = np.unique(frames)
        with torch.no_grad():
            x = still_frames(clip.video, used)
            emb = torch.cat([self.model.embed("vision", x[i : i + self.batch].to(self.device))
                             for i in range(0, len(x), self.batch)]).double().cpu()
        emb = emb[torch.from_numpy(np.searchsorted(used, frames))]  # [M, N, D]
        audio = torch.stack([self.model.embed_clip("audio", audio_subclips(wave[a:b]).to(self.device)).double().cpu()
                             for a, b in spans])  # [M, D]; wave[a:b] is a view: removals carry to later windows
        cos = F.cosine_similarity(emb, audio[:, None], dim=-1, eps=1e-6)
        return {"cosines": cos.numpy()}, conv
