"""CLIP ViT-B/32 (OpenAI weights, run through open_clip) for the CLIP score of JavisBench: the mean
cosine between the caption's text embedding and the embeddings of 48 evenly spaced frames.

Weights: OpenAI's `ViT-B-32.pt` (a TorchScript archive; its SHA-256 is the folder name in the URL,
which OpenAI's loader checks). Its state dict is copied into open_clip's `ViT-B-32-quickgelu` model
(OpenAI trained with QuickGELU); the archive's `input_resolution`, `context_length` and `vocab_size`
entries are configuration, not weights.

Protocol `javisbench` (`calc_clip_score` of JavisBench, which loads `clip.load("ViT-B/32")`):
- frames `round(linspace(0, T - 1, 48))` (a clip with fewer frames repeats some: the minimum is 1 frame);
- each frame: short side to 224 with PIL bicubic (long side truncated), centre crop 224, /255, CLIP
  mean/std;
- text: open_clip's tokenizer (OpenAI's BPE, 77 tokens, truncated), the caption as written;
- score = mean over frames of cos(frame, caption): a raw cosine in [-1, 1] (not x100, not clipped at 0).
Preset `javisbench-cv2` feeds the frames as JavisBench's default cv2 reader does: it converts BGR to RGB
and its frame transform converts again, so CLIP sees the channels swapped (BGR). Scores from the two
presets are not comparable."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import BackboneAnalysis

SIZE = 224
FRAMES = 48
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
MODEL = "ViT-B-32-quickgelu"
CONFIG_ENTRIES = ("input_resolution", "context_length", "vocab_size")


@dataclass(frozen=True)
class ClipScorePreset:
    name: str
    channels: str  # "rgb" | "bgr" (what the network is fed)
    frames: int = FRAMES

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {"javisbench": ClipScorePreset("javisbench", "rgb"), "javisbench-cv2": ClipScorePreset("javisbench-cv2", "bgr")}


def frame_indices(num_frames: int, count: int = FRAMES) -> np.ndarray:
    """`round(linspace(0, T - 1, count))` (half to even, as torch.round)."""
    return np.round(np.linspace(0, num_frames - 1, count)).astype(int)


def preprocess_frame(frame: np.ndarray) -> torch.Tensor:
    """uint8 `[H, W, 3]` -> `[3, 224, 224]` float: PIL bicubic short side 224, centre crop, CLIP mean/std."""
    from PIL import Image

    h, w = frame.shape[:2]
    # torchvision's Resize(224): the short side becomes 224, the long side int(224 * long / short).
    th, tw = (SIZE, int(SIZE * w / h)) if h <= w else (int(SIZE * h / w), SIZE)
    img = np.asarray(Image.fromarray(frame).resize((tw, th), Image.BICUBIC), np.float32) / 255.0
    top, left = int(round((th - SIZE) / 2.0)), int(round((tw - SIZE) / 2.0))  # torchvision CenterCrop
    img = img[top : top + SIZE, left : left + SIZE]
    x = (torch.from_numpy(img.copy()) - torch.tensor(MEAN)) / torch.tensor(STD)
    return x.permute(2, 0, 1).contiguous()


def preprocess(video: np.ndarray, preset: ClipScorePreset) -> torch.Tensor:
    """uint8 `[T, H, W, 3]` RGB -> `[48, 3, 224, 224]`."""
    frames = np.asarray(video)[frame_indices(len(video), preset.frames)]
    if preset.channels == "bgr":
        frames = frames[..., ::-1]
    return torch.stack([preprocess_frame(np.ascontiguousarray(f)) for f in frames])


def build_model(cfg: dict | None = None):
    """open_clip's CLIP with random weights: `ViT-B-32-quickgelu`, or a given open_clip config dict
    (tests run the same code at reduced width)."""
    import open_clip

    return open_clip.CLIP(**(cfg or open_clip.get_model_config(MODEL)))


def clip_score(model, frames: torch.Tensor, caption: str) -> float:
    """Mean cosine between the caption and each frame (raw, in [-1, 1])."""
    import open_clip

    tokens = open_clip.tokenize([caption])  # truncates to 77 tokens, keeping the end token
    with torch.no_grad():
        img = model.encode_image(frames).float()
        txt = model.encode_text(tokens).float()
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return float((img @ txt.T).mean())


class ClipScoreFeatures(BackboneAnalysis):
    """Per clip: `{"score": [s]}` (empty when the clip has no caption)."""

    weights_names = ("clip-vit-b-32",)
    reads_text = ("caption",)

    def __init__(self, preset: str = "javisbench", weights_dir=None, device: str = "cpu", cfg: dict | None = None):
        self.preset, self.cfg = PRESETS[preset], cfg
        protocol = {"name": f"clip-score-{preset}", "model": f"open_clip {MODEL}, OpenAI weights", **self.preset.to_dict(),
                    "sampling": "round(linspace(0, T - 1, 48))", "resize": "PIL bicubic short side 224, centre crop 224",
                    "mean": MEAN, "std": STD, "value": "mean cosine over frames, raw (not x100)", "min_frames": 1}
        super().__init__(f"clip-{preset}", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into

        state = {k: v for k, v in states["clip-vit-b-32"].items() if k not in CONFIG_ENTRIES}
        model = load_into(build_model(self.cfg), state, "clip-vit-b-32")
        return model.float().eval().to(self.device)

    def compute(self, clip):
        caption = clip.metadata.get("caption")
        if not caption:
            return {"score": np.zeros(0)}, ["no caption (clip-score reads `caption` from the suite manifest)"]
        frames = preprocess(clip.video, self.preset).to(self.device)
        conv = [f"{clip.num_frames} frames < {self.preset.frames}: some repeated"] if clip.num_frames < self.preset.frames else []
        return {"score": np.array([clip_score(self.model, frames, caption)])}, conv
