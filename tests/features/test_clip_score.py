"""CLIP score (JavisBench): OpenAI's TorchScript ViT-B/32 file loads into open_clip through the weights
manager, the frame preprocessing equals an independent torch rendition, and clips without a caption
have no score (with the reason)."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ccl_bench import weights as W
from ccl_bench.features import clip_score as C
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context

SMALL = {"embed_dim": 16, "quick_gelu": True,
         "vision_cfg": {"image_size": 224, "layers": 1, "width": 32, "patch_size": 32, "head_width": 16},
         "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layout_is_openai_vit_b_32():
    with torch.device("meta"):
        sd = C.build_model().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["visual.conv1.weight"] == (768, 3, 32, 32) and shapes["visual.positional_embedding"] == (50, 768)
    assert shapes["visual.proj"] == (768, 512) and shapes["token_embedding.weight"] == (49408, 512)
    assert shapes["text_projection"] == (512, 512) and shapes["positional_embedding"] == (77, 512)
    assert shapes["visual.transformer.resblocks.11.attn.in_proj_weight"] == (2304, 768)
    assert shapes["transformer.resblocks.11.mlp.c_fc.weight"] == (2048, 512)
    # 12 entries per residual block; vision: 6 more, text: 6 more (OpenAI's state dict, less 3 config entries)
    assert len(shapes) == (12 * 12 + 8) + (12 * 12 + 6)


class Node(torch.nn.Module):
    pass


def save_openai_archive(path, model):
    """A TorchScript archive whose state dict is `model`'s plus OpenAI's three configuration entries."""
    state = {**model.state_dict(), "input_resolution": torch.tensor(224), "context_length": torch.tensor(77),
             "vocab_size": torch.tensor(49408)}
    root = Node()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        node = root
        for p in parents:
            if not hasattr(node, p):
                node.add_module(p, Node())
            node = getattr(node, p)
        node.register_buffer(leaf, value.detach().clone().half() if value.is_floating_point() else value.clone())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(root), str(path))


def random_model(seed=0):
    torch.manual_seed(seed)
    model = C.build_model(SMALL).eval()
    with torch.no_grad():  # fp16 round trip, as OpenAI's file stores the weights
        for p in model.parameters():
            p.copy_(p.half().float())
    return model


def trust(monkeypatch, path):
    monkeypatch.setitem(W.REGISTRY, "clip-vit-b-32", dataclasses.replace(W.REGISTRY["clip-vit-b-32"], sha256=W.sha256_of(path)))


def test_openai_archive_loads_and_scores(wdir, monkeypatch):
    model = random_model()
    save_openai_archive(wdir / "ViT-B-32.pt", model)
    trust(monkeypatch, wdir / "ViT-B-32.pt")
    feats = C.ClipScoreFeatures("javisbench", wdir, cfg=SMALL)
    video = np.random.default_rng(0).integers(0, 256, (30, 96, 128, 3), dtype=np.uint8)
    clip = AVClip(video, 10, np.zeros((1, 1600), np.float32), 16000, {"caption": "a red ball bounces"})
    got, conv = feats.compute(clip)
    want = C.clip_score(model, C.preprocess(video, C.PRESETS["javisbench"]), "a red ball bounces")
    assert got["score"].shape == (1,) and -1 <= got["score"][0] <= 1
    assert got["score"][0] == pytest.approx(want, abs=1e-5)
    assert conv == ["30 frames < 48: some repeated"]
    other = C.clip_score(feats.model, C.preprocess(video, C.PRESETS["javisbench"]), "a blue light flashes")
    assert other != pytest.approx(got["score"][0], abs=1e-6)  # the caption matters
    none, why = feats.compute(AVClip(video, 10, clip.audio, 16000))
    assert none["score"].shape == (0,) and "no caption" in why[0]
    assert "caption" in METRICS["clip-score"].unavailable
    assert METRICS["clip-score"].value([got, none], None, Context()) == pytest.approx(got["score"][0])
    assert METRICS["clip-score"].value([none], None, Context()) is None


def test_a_tampered_archive_is_refused(wdir, monkeypatch):
    save_openai_archive(wdir / "ViT-B-32.pt", random_model())
    trust(monkeypatch, wdir / "ViT-B-32.pt")
    with (wdir / "ViT-B-32.pt").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(W.WeightsError, match="differs from the published"):
        C.ClipScoreFeatures("javisbench", wdir, cfg=SMALL).load()


def test_the_cache_key_follows_the_caption():
    feats = C.ClipScoreFeatures("javisbench")
    assert feats.clip_key("m", {"caption": "a"}) != feats.clip_key("m", {"caption": "b"})
    assert feats.clip_key("m", {"caption": "a"}) == feats.clip_key("m", {"caption": "a", "transcript": "x"})


def torch_rendition(video, count, bgr=False):
    """Frames round(linspace(0, T-1, count)); antialiased bicubic (torch's PIL-compatible path) short side
    224 with the long side truncated; centre crop round((size - 224) / 2); (x - mean) / std."""
    idx = torch.linspace(0, len(video) - 1, count).round().long()
    x = torch.from_numpy(video)[idx].permute(0, 3, 1, 2).float()
    if bgr:
        x = x.flip(1)
    h, w = x.shape[-2:]
    th, tw = (224, int(224 * w / h)) if h <= w else (int(224 * h / w), 224)
    x = F.interpolate(x, size=(th, tw), mode="bicubic", antialias=True, align_corners=False).clamp(0, 255).round() / 255
    top, left = round((th - 224) / 2), round((tw - 224) / 2)
    x = x[..., top : top + 224, left : left + 224]
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], dtype=torch.float32)[:, None, None]
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711], dtype=torch.float32)[:, None, None]
    return (x - mean) / std


@pytest.mark.parametrize(("shape", "preset"), [((100, 90, 160), "javisbench"), ((7, 300, 250), "javisbench-cv2")])
def test_frames_match_an_independent_rendition(shape, preset):
    # Smooth frames (PIL rounds to 8 bits between its two passes, torch does not: sharp edges differ more).
    t, h, w = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    video = np.stack([128 + 90 * np.sin(h / 9 + t), 128 + 90 * np.cos(w / 13 - t / 3), 40 + 2 * t % 200 + 0 * h], -1)
    video = video.astype(np.uint8)
    got = C.preprocess(video, C.PRESETS[preset])
    want = torch_rendition(video, 48, bgr=preset.endswith("cv2"))
    assert got.shape == want.shape == (48, 3, 224, 224)
    diff = (got - want).abs() * torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None] * 255  # in 8-bit levels
    assert float(diff.max()) <= 1.01  # one level of rounding
