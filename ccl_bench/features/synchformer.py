"""Synchformer (Iashin et al. 2024, AudioSet checkpoint `24-01-04T16-39-21`) for DeSync, in the layout of
MMAudio's `synchformer_state_dict.pth` (release v0.1), which av-benchmark and JavisBench load:
- `vfeat_extractor.*` MotionFormer: a ViT-B/16 on 16-frame segments with 2x16x16 tubelets (8 x 14 x 14
  tokens), divided space-time attention (`blocks.i.timeattn` then `blocks.i.attn`), separate spatial
  (`pos_embed`, 1 + 196) and temporal (`temp_embed`, 8) position embeddings; a `spatial_attn_agg`
  encoder layer with its own CLS token pools each of the 8 tubelet steps -> `[S, 8, 768]` per clip;
- `afeat_extractor.*` AST (HF `ASTModel` layout, `ast.encoder.layer.i...`): 128 mel x 66 frames per
  segment, 16x16 patches at stride 10 (12 x 6), CLS and distillation tokens; a `freq_attn_agg` layer
  pools the 12 frequency patches of each of the 6 steps -> `[S, 6, 768]`;
- `vproj`, `aproj` and `transformer`: a 3-layer GPT-style encoder over
  `[OFF, 14 x 8 video, MOD, 14 x 6 audio]` (198 tokens, learned positions), whose OFF token is
  classified into 21 offsets `linspace(-2, 2, 21)` s (`off_head`).
Every offset here is a class of that grid, as the network predicts it (its sign is the network's
convention; av-benchmark and JavisBench report its absolute value).

Front end (all presets): video at 25 fps, short side resized with antialiased bicubic (to uint8, as
torchvision's `Resize` on decoded uint8 frames), centre crop 224, `(x / 255 - 0.5) / 0.5`; audio mono
16 kHz; 16-frame video segments every 8 frames and 10,240-sample audio segments every 5,120 (0.64 s
every 0.32 s); per audio segment a power mel spectrogram (n_fft 1024, Hann window 400, hop 160,
centred, 128 HTK mel bands 0-8 kHz, no normalisation), `log(x + 1e-6)`, zero-padded to 66 frames,
`(x + 4.2677393) / (2 * 4.5689974)`. A window is 14 segments (4.8 s).

Presets (see `PRESETS`; the metric `desync` is `av-benchmark`):
- `av-benchmark`: reads the first 8 s; windows: the first and the last 14 segments; value: mean |offset|;
  a clip under 8 s is unavailable (av-benchmark drops it from its loader).
- `javisbench`: reads the first 8 s, zero-padded to 8 s (black frames, silence); windows: every
  14-segment chunk (a short last chunk is the last 14 segments, a short first chunk repeats its own);
  value: mean |offset|.
- `versebench`: reads the first 4.8 s; one window; value: the signed offset (the signs of clips can
  cancel in a mean); a clip under 4.8 s is unavailable.
`versebench` resizes the short side to 256 before the centre crop (Verse-Bench re-encodes to 25 fps,
short side 256, 16 kHz; the lossy re-encoding itself is not replayed here).
Frame-rate conversion takes, for output frame k, the source frame nearest to k / 25 s (ffmpeg's fps
filter, which the reference toolkits' torio decoder runs). The decoder that produced the frames is
recorded in the protocol: MOVA measured DeSync moving between torio and decord."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import BackboneAnalysis, mono_at
from .layers import Mlp

FPS = 25.0
RATE = 16000
SIZE = 224
SEG_FRAMES, SEG_STEP = 16, 8
SEG_SAMPLES, SEG_HOP = 10240, 5120
WINDOW = 14  # segments per window: 4.8 s
N_FFT, WIN, HOP, MELS = 1024, 400, 160, 128
SPEC_FRAMES = 66
LOG_EPS = 1e-6
SPEC_MEAN, SPEC_STD = -4.2677393, 4.5689974
GRID = np.linspace(-2.0, 2.0, 21)  # offset classes, seconds


@dataclass(frozen=True)
class DeSyncPreset:
    name: str
    span_s: float  # seconds of the clip read
    short_clip: str  # "unavailable" | "zero-pad"
    windows: str  # "first-last" | "chunks" | "first"
    value: str  # "abs" | "signed"
    short_side: int = SIZE  # resize target before the 224 centre crop

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "av-benchmark": DeSyncPreset("av-benchmark", 8.0, "unavailable", "first-last", "abs"),
    "javisbench": DeSyncPreset("javisbench", 8.0, "zero-pad", "chunks", "abs"),
    "versebench": DeSyncPreset("versebench", 4.8, "unavailable", "first", "signed", short_side=256),
}


# ---- windows ---------------------------------------------------------------------------------

def window_segments(num_segments: int, how: str) -> list[np.ndarray]:
    """Segment indices of each window of `WINDOW` segments: `first-last` (the first and the last),
    `first` (one), or `chunks` (consecutive chunks; a short last chunk is replaced by the last
    `WINDOW` segments, a short first chunk repeats its own segments, as JavisBench does)."""
    if how == "first-last":
        return [np.arange(WINDOW), np.arange(num_segments - WINDOW, num_segments)]
    if how == "first":
        return [np.arange(WINDOW)]
    if how != "chunks":
        raise ValueError(f"unknown window rule '{how}'")
    out = []
    for c in range(math.ceil(num_segments / WINDOW)):
        idx = np.arange(c * WINDOW, min((c + 1) * WINDOW, num_segments))
        if len(idx) < WINDOW:
            idx = np.resize(idx, WINDOW) if c == 0 else np.arange(num_segments - WINDOW, num_segments)
        out.append(idx)
    return out


def segment_times(idx: np.ndarray) -> tuple[float, float]:
    """(start, end) seconds a window of segments covers."""
    return float(idx.min() * SEG_STEP / FPS), float((idx.max() * SEG_STEP + SEG_FRAMES) / FPS)


# ---- front end ---------------------------------------------------------------------------------

def frames_at_25fps(video: np.ndarray, fps: float, count: int) -> np.ndarray:
    """`[T, H, W, 3]` at `fps` -> the first `count` (or fewer) frames at 25 fps: output frame k is the
    source frame nearest to time k / 25 s."""
    t_out = min(count, math.floor(len(video) * FPS / fps + 1e-6))
    idx = np.minimum(np.round(np.arange(t_out) * fps / FPS).astype(int), len(video) - 1)
    return video[idx]


def video_input(frames: np.ndarray, short_side: int = SIZE) -> torch.Tensor:
    """uint8 `[T, H, W, 3]` -> `[T, 3, 224, 224]` float: short side to `short_side` with antialiased
    bicubic (back to uint8), centre crop 224, `(x / 255 - 0.5) / 0.5`."""
    from torchvision.transforms.v2 import functional as TF

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    x = TF.resize(x, [short_side], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    x = TF.center_crop(x, [SIZE, SIZE])
    return (x.float() / 255.0 - 0.5) / 0.5


def video_segments(x: torch.Tensor) -> torch.Tensor:
    """`[T, 3, H, W]` -> `[S, 3, 16, H, W]`, S = (T - 16) // 8 + 1."""
    s = (x.shape[0] - SEG_FRAMES) // SEG_STEP + 1
    return torch.stack([x[i * SEG_STEP : i * SEG_STEP + SEG_FRAMES] for i in range(s)]).permute(0, 2, 1, 3, 4)


def mel_transform():
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(sample_rate=RATE, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=MELS)


def audio_segments(audio: np.ndarray | torch.Tensor, mel=None) -> torch.Tensor:
    """Mono 16 kHz `[N]` -> normalised log-mel segments `[S, 66, 128]` (time, frequency),
    S = (N - 10240) // 5120 + 1."""
    a = torch.as_tensor(np.asarray(audio, np.float32))
    s = (len(a) - SEG_SAMPLES) // SEG_HOP + 1
    segs = torch.stack([a[i * SEG_HOP : i * SEG_HOP + SEG_SAMPLES] for i in range(s)])
    spec = torch.log((mel or mel_transform())(segs) + LOG_EPS)  # [S, 128, 65]
    spec = F.pad(spec, (0, SPEC_FRAMES - spec.shape[-1]), value=0.0)[..., :SPEC_FRAMES]
    spec = (spec - SPEC_MEAN) / (2 * SPEC_STD)
    return spec.transpose(1, 2).contiguous()


# ---- the network -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SynchformerConfig:
    """Sizes of the released checkpoint; tests run the same code narrower and shallower."""

    dim: int = 768
    video_depth: int = 12
    video_heads: int = 12
    audio_depth: int = 12
    audio_heads: int = 12
    mlp_ratio: int = 4
    global_layers: int = 3
    global_heads: int = 8
    classes: int = 21


class PoolingEncoderLayer(nn.TransformerEncoderLayer):
    """A pre-norm encoder layer with its own CLS token: `[N, L, D]` -> the CLS output `[N, D]`
    (Synchformer's spatial, frequency and temporal aggregators)."""

    def __init__(self, dim: int, heads: int, ff: int):
        super().__init__(dim, heads, dim_feedforward=ff, dropout=0.0, activation=nn.GELU(), batch_first=True,
                         layer_norm_eps=1e-6, norm_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
        return super().forward(x)[:, 0]


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, kernel, conv=nn.Conv2d):
        super().__init__()
        self.proj = conv(3, dim, kernel, stride=kernel)


class DividedAttention(nn.Module):
    """Attention within groups of tokens (one spatial position across frames, or one frame across
    positions), each group also seeing the CLS token; the CLS token attends to every token."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, frames: int, over: str):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # [B, h, N, dh]
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v)  # [B, h, 1, dh]
        patches = (n - 1) // frames

        def groups(t):  # [B, h, F*P, dh] -> [B, h, G, L, dh]
            t = t[:, :, 1:].unflatten(2, (frames, patches))
            return t.transpose(2, 3) if over == "time" else t

        qg, kg, vg = groups(q), groups(k), groups(v)
        g = kg.shape[2]
        kg = torch.cat([k[:, :, None, :1].expand(-1, -1, g, -1, -1), kg], dim=3)
        vg = torch.cat([v[:, :, None, :1].expand(-1, -1, g, -1, -1), vg], dim=3)
        out = F.scaled_dot_product_attention(qg, kg, vg)  # [B, h, G, L, dh]
        out = (out.transpose(2, 3) if over == "time" else out).flatten(2, 3)  # back to (frame, patch) order
        out = torch.cat([cls_out, out], dim=2).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class DividedSpaceTimeBlock(nn.Module):
    """x + time attention, then + space attention, then + MLP (each pre-normed)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim, eps=1e-6) for _ in range(3))
        self.attn, self.timeattn = DividedAttention(dim, heads), DividedAttention(dim, heads)
        self.mlp = Mlp(dim, mlp_ratio * dim)

    def forward(self, x, frames: int):
        x = x + self.timeattn(self.norm3(x), frames, "time")
        x = x + self.attn(self.norm1(x), frames, "space")
        return x + self.mlp(self.norm2(x))


class MotionFormer(nn.Module):
    """Video segments `[N, 3, 16, 224, 224]` -> per tubelet step features `[N, 8, D]`."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d, self.steps, self.side = cfg.dim, SEG_FRAMES // 2, SIZE // 16
        self.patch_embed = PatchEmbed(d, (16, 16))  # kept in the checkpoint, unused for video
        self.patch_embed_3d = PatchEmbed(d, (2, 16, 16), nn.Conv3d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.side**2, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, self.steps, d))
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(d, cfg.video_heads, cfg.mlp_ratio) for _ in range(cfg.video_depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.spatial_attn_agg = PoolingEncoderLayer(d, cfg.video_heads, cfg.mlp_ratio * d)

    def forward(self, x):
        n = len(x)
        x = self.patch_embed_3d.proj(x).flatten(2).transpose(1, 2)  # [N, 8 * 196, D], step-major
        p = self.side**2
        # Separate embeddings: the spatial one tiled over steps plus the temporal one per step.
        pos = self.pos_embed[:, 1:].repeat(1, self.steps, 1) + self.temp_embed.repeat_interleave(p, dim=1)
        x = torch.cat([self.cls_token.expand(n, -1, -1) + self.pos_embed[:, :1], x + pos], dim=1)
        for blk in self.blocks:
            x = blk(x, self.steps)
        x = self.norm(x[:, 1:])  # [N, 8 * 196, D]
        x = x.unflatten(1, (self.steps, p)).flatten(0, 1)  # [N * 8, 196, D]
        return self.spatial_attn_agg(x).view(n, self.steps, -1)


class ASTSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (m(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for m in (self.query, self.key, self.value))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)


class Dense(nn.Module):
    def __init__(self, din: int, dout: int):
        super().__init__()
        self.dense = nn.Linear(din, dout)


class ASTAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = ASTSelfAttention(dim, heads)
        self.output = Dense(dim, dim)


class ASTLayer(nn.Module):
    """Pre-norm ViT block in Hugging Face's AST naming (LayerNorm eps 1e-12)."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.attention = ASTAttention(dim, heads)
        self.intermediate, self.output = Dense(dim, hidden), Dense(hidden, dim)
        self.layernorm_before, self.layernorm_after = nn.LayerNorm(dim, eps=1e-12), nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x):
        x = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class ASTEmbeddings(nn.Module):
    def __init__(self, dim: int, tokens: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, 2 + tokens, dim))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(1, dim, 16, stride=10)


class ASTEncoder(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, depth: int):
        super().__init__()
        self.layer = nn.ModuleList(ASTLayer(dim, heads, hidden) for _ in range(depth))


class ASTModel(nn.Module):
    F_PATCHES = (MELS - 16) // 10 + 1  # 12
    T_PATCHES = (SPEC_FRAMES - 16) // 10 + 1  # 6

    def __init__(self, dim: int, heads: int, hidden: int, depth: int):
        super().__init__()
        self.embeddings = ASTEmbeddings(dim, self.F_PATCHES * self.T_PATCHES)
        self.encoder = ASTEncoder(dim, heads, hidden, depth)
        self.layernorm = nn.LayerNorm(dim, eps=1e-12)


class AST(nn.Module):
    """Audio segments `[N, 66, 128]` (time, mel) -> per time-patch features `[N, 6, D]`."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d, hidden = cfg.dim, cfg.mlp_ratio * cfg.dim
        self.ast = ASTModel(d, cfg.audio_heads, hidden, cfg.audio_depth)
        self.freq_attn_agg = PoolingEncoderLayer(d, cfg.audio_heads, hidden)

    def forward(self, spec):
        n, emb = len(spec), self.ast.embeddings
        x = emb.patch_embeddings.projection(spec.transpose(1, 2)[:, None])  # [N, D, 12 freq, 6 time]
        f, t = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # frequency-major
        x = torch.cat([emb.cls_token.expand(n, -1, -1), emb.distillation_token.expand(n, -1, -1), x], 1)
        x = x + emb.position_embeddings
        for layer in self.ast.encoder.layer:
            x = layer(x)
        x = self.ast.layernorm(x)[:, 2:]  # [N, f * t, D]
        x = x.unflatten(1, (f, t)).transpose(1, 2).flatten(0, 1)  # [N * t, f, D]: pool over frequency
        return self.freq_attn_agg(x).view(n, t, -1)


class GlobalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.key, self.query, self.value, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (m(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for m in (self.query, self.key, self.value))
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class GlobalBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = GlobalSelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PositionalEncoding(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, tokens, dim))


class GlobalTransformer(nn.Module):
    """`[B, 14 * 8, D]` video and `[B, 14 * 6, D]` audio tokens -> offset logits `[B, 21]`."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d = cfg.dim
        self.vis_in_lnorm, self.aud_in_lnorm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.OFF_tok, self.MOD_tok = nn.Parameter(torch.zeros(1, 1, d)), nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb_cfg = PositionalEncoding(2 + WINDOW * (8 + 6), d)  # 198
        self.blocks = nn.Sequential(*(GlobalBlock(d, cfg.global_heads) for _ in range(cfg.global_layers)))
        self.ln_f = nn.LayerNorm(d)
        self.off_head = nn.Linear(d, cfg.classes)

    def forward(self, v, a):
        b = len(v)
        x = torch.cat([self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(v), self.MOD_tok.expand(b, -1, -1),
                       self.aud_in_lnorm(a)], dim=1)
        x = self.ln_f(self.blocks(x + self.pos_emb_cfg.pos_emb))
        return self.off_head(x[:, 0])


class Synchformer(nn.Module):
    def __init__(self, cfg: SynchformerConfig | None = None):
        super().__init__()
        cfg = cfg or SynchformerConfig()
        self.vfeat_extractor = MotionFormer(cfg)
        self.afeat_extractor = AST(cfg)
        self.vproj, self.aproj = nn.Linear(cfg.dim, cfg.dim), nn.Linear(cfg.dim, cfg.dim)
        self.transformer = GlobalTransformer(cfg)

    def compare(self, vfeats, afeats):
        """Window features `[B, 14, 8, D]`, `[B, 14, 6, D]` -> offset logits `[B, 21]`."""
        return self.transformer(self.vproj(vfeats).flatten(1, 2), self.aproj(afeats).flatten(1, 2))


# ---- the analysis ------------------------------------------------------------------------------

@dataclass
class DeSyncWindows:
    """One clip's result: per window the predicted offset class (s) and the seconds it spans."""

    offsets: np.ndarray  # [W] grid values (s), signed
    spans: np.ndarray  # [W, 2] start and end (s)


def predict_windows(model: Synchformer, video: torch.Tensor, audio: torch.Tensor, how: str, device="cpu",
                    batch: int = 8) -> DeSyncWindows:
    """Segment features of the whole span, then one offset per window. video `[S, 3, 16, 224, 224]`,
    audio `[S', 66, 128]` (the shorter stream sets S)."""
    with torch.no_grad():
        s = min(len(video), len(audio))
        vf = torch.cat([model.vfeat_extractor(video[i : i + batch].to(device)) for i in range(0, s, batch)])
        af = model.afeat_extractor(audio[:s].to(device))
        wins = window_segments(s, how)
        idx = torch.as_tensor(np.stack(wins))
        logits = model.compare(vf[idx], af[idx])  # [W, 21]
    cls = logits.argmax(-1).cpu().numpy()
    return DeSyncWindows(GRID[cls], np.array([segment_times(w) for w in wins]))


def decoder_name() -> str:
    from ..io.reader import _has_decord

    return ("decord" if _has_decord() else "PyAV") + " (ccl-bench read_clip), then nearest-frame 25 fps in memory"


class DeSyncFeatures(BackboneAnalysis):
    """Per clip `{"offsets": [W], "windows": [W, 2]}`; both empty when the clip is too short."""

    weights_names = ("synchformer",)

    def __init__(self, preset: str = "av-benchmark", weights_dir=None, device: str = "cpu",
                 cfg: SynchformerConfig | None = None):
        self.preset, self.cfg = PRESETS[preset], cfg or SynchformerConfig()
        protocol = {"name": f"desync-{preset}", **self.preset.to_dict(), "fps": FPS, "rate": RATE,
                    "segments": "16 frames / 10240 samples every 0.32 s; 14 per 4.8 s window",
                    "mel": f"n_fft {N_FFT}, win {WIN}, hop {HOP}, {MELS} HTK mels, log(x + 1e-6), pad 66, "
                           f"(x - {SPEC_MEAN}) / (2 * {SPEC_STD})",
                    "video": "bicubic antialiased short side, centre crop 224, mean = std = 0.5",
                    "grid_s": GRID.tolist(), "decoder": decoder_name()}
        super().__init__(f"synchformer-{preset}", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        return load_into(Synchformer(self.cfg), states["synchformer"], "synchformer").eval().to(self.device)

    def inputs(self, clip) -> tuple[torch.Tensor, torch.Tensor, list[str]] | str:
        """The clip's video and audio segments, or the reason it has none under this preset."""
        conv: list[str] = []
        p = self.preset
        need_frames, need_samples = round(p.span_s * FPS), round(p.span_s * RATE)
        frames = frames_at_25fps(clip.video, clip.fps, need_frames)
        if abs(clip.fps - FPS) > 1e-6:
            conv.append(f"frame rate {clip.fps:g} -> 25 fps (nearest frame)")
        audio = mono_at(clip, RATE, conv)[:need_samples]
        if len(frames) < need_frames or len(audio) < need_samples:
            if p.short_clip == "unavailable":
                return (f"shorter than the {p.span_s:g} s the {p.name} preset reads "
                        f"({len(frames) / FPS:.2f} s video, {len(audio) / RATE:.2f} s audio): DeSync unavailable")
            conv.append(f"zero-padded to {p.span_s:g} s ({p.name})")
            frames = np.concatenate([frames, np.zeros((need_frames - len(frames), *frames.shape[1:]), np.uint8)])
            audio = np.pad(audio, (0, need_samples - len(audio)))
        return video_segments(video_input(frames, p.short_side)), audio_segments(audio), conv

    def compute(self, clip):
        got = self.inputs(clip)
        if isinstance(got, str):
            return {"offsets": np.zeros(0), "windows": np.zeros((0, 2))}, [got]
        video, audio, conv = got
        w = predict_windows(self.model, video, audio, self.preset.windows, self.device)
        return {"offsets": w.offsets, "windows": w.spans}, conv
