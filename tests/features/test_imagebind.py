"""ImageBind-huge (ib-av, ib-tv, ib-ta, javisscore): the layout of `imagebind_huge.pth` on the meta device,
random weights of that layout at reduced width through the weights manager (the file's other branches set
aside, a stray key or a tampered file refused), each preset's front end against an independent rendition,
the short-clip rules, and the lowest-40% rule."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ccl_bench import weights as W
from ccl_bench.features import imagebind as IB
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context
from ccl_bench.metrics.learned import javis_score

SMALL = IB.ImageBindConfig(out_dim=8, vision_dim=16, vision_depth=1, vision_heads=2, text_dim=16, text_depth=1,
                           text_heads=2, audio_dim=16, audio_depth=2, audio_heads=2)
MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


# ---- layout ----------------------------------------------------------------------------------------

def published_layout() -> dict:
    """Key -> shape of `imagebind_huge`'s vision, text and audio branches, written out from ImageBind's
    `imagebind_model.py` (vision 1280 x 32 blocks, text 1024 x 24, audio 768 x 12 with key/value bias,
    output 1024; 2 x 14 x 14 tubelets on 224; audio 16 x 16 stride 10 on 128 x 204)."""
    pre, out = "modality_preprocessors", 1024
    want = {f"{pre}.vision.cls_token": (1, 1, 1280), f"{pre}.vision.rgbt_stem.proj.1.weight": (1280, 3, 2, 14, 14),
            f"{pre}.vision.pos_embedding_helper.pos_embed": (1, 1 + 16 * 16, 1280),
            f"{pre}.text.token_embedding.weight": (49408, 1024), f"{pre}.text.pos_embed": (1, 77, 1024),
            f"{pre}.text.mask": (77, 77), f"{pre}.audio.cls_token": (1, 1, 768),
            f"{pre}.audio.rgbt_stem.proj.weight": (768, 1, 16, 16), f"{pre}.audio.rgbt_stem.norm_layer.weight": (768,),
            f"{pre}.audio.rgbt_stem.norm_layer.bias": (768,),
            f"{pre}.audio.pos_embedding_helper.pos_embed": (1, 1 + 12 * 19, 768),
            "modality_trunks.vision.pre_transformer_layer.0.weight": (1280,),
            "modality_trunks.vision.pre_transformer_layer.0.bias": (1280,),
            "modality_heads.vision.0.weight": (1280,), "modality_heads.vision.0.bias": (1280,),
            "modality_heads.vision.2.weight": (out, 1280), "modality_heads.text.proj.0.weight": (1024,),
            "modality_heads.text.proj.0.bias": (1024,), "modality_heads.text.proj.1.weight": (out, 1024),
            "modality_heads.audio.0.weight": (768,), "modality_heads.audio.0.bias": (768,),
            "modality_heads.audio.2.weight": (out, 768),
            "modality_postprocessors.text.1.log_logit_scale": (), "modality_postprocessors.audio.1.log_logit_scale": ()}
    for m, d, depth, bias_kv in (("vision", 1280, 32, False), ("text", 1024, 24, False), ("audio", 768, 12, True)):
        for i in range(depth):
            b = f"modality_trunks.{m}.blocks.{i}."
            want.update({b + "attn.in_proj_weight": (3 * d, d), b + "attn.in_proj_bias": (3 * d,),
                         b + "attn.out_proj.weight": (d, d), b + "attn.out_proj.bias": (d,),
                         b + "norm_1.weight": (d,), b + "norm_1.bias": (d,), b + "norm_2.weight": (d,), b + "norm_2.bias": (d,),
                         b + "mlp.fc1.weight": (4 * d, d), b + "mlp.fc1.bias": (4 * d,), b + "mlp.fc2.weight": (d, 4 * d),
                         b + "mlp.fc2.bias": (d,)})
            if bias_kv:
                want.update({b + "attn.bias_k": (1, 1, d), b + "attn.bias_v": (1, 1, d)})
    return want


def test_full_layout_is_the_published_definition():
    with torch.device("meta"):
        sd = IB.ImageBind().state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == published_layout()


def functional_embedding(sd: dict, modality: str, x: torch.Tensor, heads: int) -> torch.Tensor:
    """ImageBind's forward for one modality written from the state dict alone: stem, CLS and positions; pre-norm
    blocks (attention with the audio trunk's key/value bias token appended, the text trunk's causal mask);
    the head's LayerNorm and projection of token 0 (text: of the largest id's position); L2 norm; scale."""
    g = lambda k: sd[f"{k}"]  # noqa: E731
    pre, trunk = f"modality_preprocessors.{modality}.", f"modality_trunks.{modality}."

    def ln(t, key, eps=1e-6):
        return F.layer_norm(t, t.shape[-1:], g(key + ".weight"), g(key + ".bias"), eps)

    if modality == "text":
        t = g(pre + "token_embedding.weight")[x] + g(pre + "pos_embed")
        mask = torch.triu(torch.full((77, 77), float("-inf")), 1)
    else:
        if modality == "vision":
            x = x[:, :, None].repeat(1, 1, 2, 1, 1) if x.ndim == 4 else x
            t = F.conv3d(x, g(pre + "rgbt_stem.proj.1.weight"), stride=(2, 14, 14)).flatten(2).transpose(1, 2)
        else:
            t = F.conv2d(x, g(pre + "rgbt_stem.proj.weight"), stride=10).flatten(2).transpose(1, 2)
            t = ln(t, pre + "rgbt_stem.norm_layer", eps=1e-5)  # nn.LayerNorm's default eps
        t = torch.cat([g(pre + "cls_token").expand(len(t), -1, -1), t], 1) + g(pre + "pos_embedding_helper.pos_embed")
        mask = torch.zeros(t.shape[1], t.shape[1])
    if modality == "vision":
        t = ln(t, trunk + "pre_transformer_layer.0")
    i = 0
    while f"{trunk}blocks.{i}.norm_1.weight" in sd:
        b = f"{trunk}blocks.{i}."
        h = ln(t, b + "norm_1")
        q, k, v = (h @ g(b + "attn.in_proj_weight").T + g(b + "attn.in_proj_bias")).chunk(3, -1)
        m = mask
        if b + "attn.bias_k" in sd:
            k = torch.cat([k, g(b + "attn.bias_k").expand(len(t), 1, -1)], 1)
            v = torch.cat([v, g(b + "attn.bias_v").expand(len(t), 1, -1)], 1)
            m = F.pad(mask, (0, 1))
        split = lambda z: z.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        att = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + m, -1) @ v
        t = t + att.transpose(1, 2).flatten(2) @ g(b + "attn.out_proj.weight").T + g(b + "attn.out_proj.bias")
        h = F.gelu(ln(t, b + "norm_2") @ g(b + "mlp.fc1.weight").T + g(b + "mlp.fc1.bias"))
        t = t + h @ g(b + "mlp.fc2.weight").T + g(b + "mlp.fc2.bias")
        i += 1
    head = f"modality_heads.{modality}."
    if modality == "text":
        e = ln(t[torch.arange(len(t)), x.argmax(-1)], head + "proj.0") @ g(head + "proj.1.weight").T
        scale = min(float(g("modality_postprocessors.text.1.log_logit_scale").exp()), 100.0)
    else:
        e = ln(t[:, 0], head + "0") @ g(head + "2.weight").T
        scale = 20.0 if modality == "audio" else 1.0
    return F.normalize(e, dim=-1) * scale


def test_forward_equals_a_functional_rendition_of_the_definition():
    torch.manual_seed(3)
    model = IB.ImageBind(SMALL).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    sd = model.state_dict()
    assert float(sd["modality_postprocessors.audio.1.log_logit_scale"].exp()) == pytest.approx(20.0)
    inputs = {"vision": torch.randn(2, 3, 2, 224, 224), "audio": torch.randn(2, 1, 128, 204),
              "text": torch.cat([IB.tokenize("a cat", "javisbench"), IB.tokenize(" ".join(["so"] * 90), "javisbench")])}
    with torch.no_grad():
        for modality, x in {**inputs, "still": torch.randn(2, 3, 224, 224)}.items():
            m = "vision" if modality == "still" else modality
            np.testing.assert_allclose(model.embed(m, x).numpy(), functional_embedding(sd, m, x, 2).numpy(), atol=2e-4)


def unused_branches(seed=1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"modality_trunks.depth.blocks.0.attn.in_proj_weight": torch.randn(6, 2, generator=g),
            "modality_preprocessors.imu.pos_embed": torch.randn(1, 3, 2, generator=g),
            "modality_heads.thermal.2.weight": torch.randn(4, 2, generator=g),
            "modality_postprocessors.depth.1.log_logit_scale": torch.tensor(1.6)}


def save_file(folder, seed=0, extra=None):
    torch.manual_seed(seed)
    model = IB.ImageBind(SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "imagebind_huge.pth"
    torch.save({**model.state_dict(), **unused_branches(), **(extra or {})}, path)
    return model.eval(), path


def clip_of(seconds, fps=25, rate=16000, size=(48, 64), caption=None, seed=1):
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 256, (int(round(seconds * fps)), *size, 3), dtype=np.uint8)
    audio = (rng.normal(0, 0.1, (1, int(seconds * rate))) + 0.05).astype(np.float32)
    return AVClip(video, fps, audio, rate, {"caption": caption} if caption else {})


def test_random_weights_load_through_the_manager_and_embed(wdir):
    model, _ = save_file(wdir)
    feats = IB.ImageBindFeatures("javisbench", wdir, cfg=SMALL)
    clip = clip_of(3.0, caption="a dog barks twice")
    got, conv = feats.compute(clip)
    assert conv == [] and (wdir / W.RECORD).is_file()  # no published checksum: recorded on first use
    assert feats.protocol["weights_sha256"] == W.sha256_of(wdir / "imagebind_huge.pth")
    with torch.no_grad():
        v = model.embed_clip("vision", IB.imagebind_video(clip.video, clip.fps))
        a = model.embed_clip("audio", IB.audio_subclips(clip.audio[0].copy()))
        t = model.embed_clip("text", IB.tokenize("a dog barks twice", "javisbench"))
    for key, want in (("video", v), ("audio", a), ("text", t)):
        assert got[key].shape == (1, 8)
        np.testing.assert_allclose(got[key][0], want.double().numpy(), rtol=1e-5, atol=1e-6)
    res = {k: got[k] for k in ("video", "audio", "text")}
    cos = lambda x, y: float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))  # noqa: E731
    for name, (x, y) in {"ib-av@javisbench": ("audio", "video"), "ib-tv": ("text", "video"), "ib-ta": ("text", "audio")}.items():
        value = METRICS[name].value([res], None, Context())
        assert value == pytest.approx(cos(res[x][0], res[y][0])) and -1 <= value <= 1
    # the clip's caption keys the cached result
    assert feats.clip_key("m", {"caption": "a"}) != feats.clip_key("m", {"caption": "b"})


def test_a_stray_key_a_tampered_file_and_a_missing_one(wdir):
    with pytest.raises(W.WeightsError, match="imagebind_huge.pth not found: place it at"):
        IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).load()
    save_file(wdir, extra={"modality_trunks.vision.blocks.7.norm_1.weight": torch.ones(16)})
    with pytest.raises(W.WeightsError, match="not the expected layout"):
        IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).load()
    (wdir / W.RECORD).unlink()
    _, path = save_file(wdir)
    IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).load()  # records its checksum
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).load()


# ---- audio front end --------------------------------------------------------------------------------

def np_fbank(x: np.ndarray) -> np.ndarray:
    """Kaldi's fbank written out: 400-sample frames every 160 (no padding), each less its mean, pre-emphasis
    0.97 (the first sample against itself), symmetric Hann, 512-point power spectrum, 128 triangles on
    1127 ln(1 + f / 700) between 20 Hz and 8 kHz over the first 256 bins, log with float32 eps."""
    frames = np.stack([x[i * 160 : i * 160 + 400] for i in range(1 + (len(x) - 400) // 160)])
    frames = frames - frames.mean(1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], 1)
    frames = frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399))
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    delta = (mel(8000) - mel(20)) / 129
    left = mel(20) + np.arange(128)[:, None] * delta
    fm = mel(np.arange(256) * 16000 / 512)[None]
    tri = np.maximum(0, np.minimum((fm - left) / delta, (left + 2 * delta - fm) / delta))
    return np.log(np.maximum(power[:, :256] @ tri.T, np.finfo(np.float32).eps))


def np_audio_subclips(wave: np.ndarray) -> np.ndarray:
    """3 sub-clips of 2 s at k * max(D - 2, 0) / 2, each with its mean removed from the one shared waveform
    before its fbank; padded with zeros to 204 frames; (x + 4.268) / 9.138."""
    w = wave.astype(np.float64).copy()
    d = len(w) / 16000
    out = []
    for k in range(3):
        # pytorchvideo keeps times as exact fractions of the float duration: at 3.3 s the second sub-clip is
        # samples 10,399 to 42,399 (floats would round its end to 42,400)
        start = Fraction(max(d - 2, 0)) * k / 2
        a, b = int(start * 16000), int((start + 2) * 16000)
        w[a:b] = w[a:b] - w[a:b].mean()
        spec = np_fbank(w[a:b])[:204]
        spec = np.concatenate([spec, np.zeros((204 - len(spec), 128))])
        out.append((spec.T + 4.268) / 9.138)
    return np.stack(out)[:, None]


@pytest.mark.parametrize("seconds", [3.3, 1.2])
def test_audio_front_end_matches_numpy(seconds):
    rng = np.random.default_rng(0)
    wave = (rng.normal(0, 0.1, int(seconds * 16000)) + np.linspace(0, 0.8, int(seconds * 16000))).astype(np.float32)
    wave[5000:7000] = 0.3  # a flat stretch: its frames sit on the log floor
    got = IB.audio_subclips(wave.copy()).double().numpy()
    want = np_audio_subclips(wave)
    assert got.shape == want.shape == (3, 1, 128, 204)
    np.testing.assert_allclose(got, want, atol=2e-3)
    if seconds < 2:  # three copies of the whole clip: 118 frames, then zeros (0 before normalising)
        np.testing.assert_allclose(got[0], got[2], atol=1e-4)
        np.testing.assert_allclose(got[0, 0, :, 118:], 4.268 / 9.138, atol=1e-6)


def test_in_place_mean_removal_carries_to_overlapping_subclips():
    """Sub-clips at 0, 0.65 and 1.3 s of a 3.3 s clip overlap; the first's mean removal shifts the second's
    samples up to 2 s, and the per-frame DC removal does not hide the step in the frames across 2 s."""
    wave = np.full(int(3.3 * 16000), 0.5, np.float32) + np.random.default_rng(1).normal(0, 0.01, 52800).astype(np.float32)
    wave[:16000] += 0.3
    carried = IB.audio_subclips(wave.copy())
    independent = torch.stack([IB.audio_subclips(wave[a:].copy(), count=1)[0] for a in (0, 10400)])
    assert float((carried[1] - independent[1]).abs().max()) > 0.5


# ---- video front ends -------------------------------------------------------------------------------

def ffmpeg_fps(num_frames: int, fps: float, rate: float) -> list[int]:
    """vf_fps's loop: times rounded to the output grid (halves up); while the next frame is already due the
    buffered one is dropped, else it is written at the next tick; until the end tick (one frame after the last)."""
    half = Fraction(1, 2)  # ffmpeg rescales integer timestamps exactly, then rounds halves away from zero
    tick = [math.floor(Fraction(i) * Fraction(rate) / Fraction(fps) + half) for i in range(num_frames)]
    end = math.floor(Fraction(num_frames) * Fraction(rate) / Fraction(fps) + half)
    out, nxt, i = [], tick[0], 0
    while nxt < end:
        while i + 1 < num_frames and tick[i + 1] <= nxt:
            i += 1
        out.append(i)
        nxt += 1
    return out


@pytest.mark.parametrize(("n", "fps", "rate"), [(200, 25.0, 0.5), (240, 30.0, 0.5), (193, 23.976, 0.5), (175, 25, 0.5),
                                                (90, 30.0, 25.0), (200, 24.0, 25.0)])
def test_fps_filter_matches_a_loop_over_ffmpegs_rule(n, fps, rate):
    assert IB.fps_filter_indices(n, fps, rate).tolist() == ffmpeg_fps(n, fps, rate)


def test_av_benchmark_frames_crops_and_pairs():
    t, h, w = np.meshgrid(np.arange(200), np.arange(60), np.arange(91), indexing="ij")  # 224 x 339: centre at 57.5
    video = np.stack([128 + 100 * np.sin(h / 7 + t / 5), 128 + 100 * np.cos(w / 11), 60 + t % 100 + 0 * h], -1).astype(np.uint8)
    got = IB.av_benchmark_video(video, 25.0)
    assert got.shape == (9, 3, 2, 224, 224)
    x = torch.from_numpy(video[[24, 74, 124, 174]]).permute(0, 3, 1, 2).float()  # the last frame before 1, 3, 5, 7 s
    x = F.interpolate(x, size=(224, 339), mode="bicubic", antialias=True, align_corners=False).round().clamp(0, 255) / 255
    x = (x - torch.tensor(MEAN, dtype=torch.float32)[:, None, None]) / torch.tensor(STD, dtype=torch.float32)[:, None, None]
    for i, (pair, left) in enumerate((p, c) for p in range(3) for c in (0, 58, 115)):  # centre rounded up
        want = x[pair : pair + 2, :, :, left : left + 224].transpose(0, 1)
        assert float((got[i] - want).abs().max()) <= 2 / 255 / 0.26 + 1e-5  # within 2 levels of 8-bit rounding


def np_bilinear(img: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """`[..., H, W]` resized as torch's bilinear with align_corners=False (source = (o + 0.5) * in / out - 0.5,
    clamped at 0), no antialias."""
    def taps(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0

    y0, y1, fy = taps(img.shape[-2], oh)
    x0, x1, fx = taps(img.shape[-1], ow)
    rows = img[..., y0, :] * (1 - fy[:, None]) + img[..., y1, :] * fy[:, None]
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


def test_imagebind_video_loader_matches_numpy():
    t, h, w = np.meshgrid(np.arange(96), np.arange(83), np.arange(50), indexing="ij")  # portrait, 6 s at 16 fps
    video = np.stack([128 + 90 * np.sin(h / 9 + t), 100 + w + 0 * t, 40 + 2 * t], -1).astype(np.uint8)
    # 5 sub-clips of 2 s every 1 s: frames [16k, 16k + 32), first and last of each
    assert IB.imagebind_frame_pairs(96, 16.0).tolist() == [[0, 31], [16, 47], [32, 63], [48, 79], [64, 95]]
    assert IB.imagebind_frame_pairs(20, 16.0).tolist() == [[0, 19]] * 5  # under 2 s: the whole clip, five times
    assert IB.imagebind_frame_pairs(1, 16.0).tolist() == [[0, 0]] * 5
    got = IB.imagebind_video(video, 16.0).numpy()
    assert got.shape == (15, 3, 2, 224, 224)
    want = []
    for a, b in [(0, 31), (16, 47), (32, 63), (48, 79), (64, 95)]:
        x = video[[a, b]].transpose(3, 0, 1, 2) / 255.0  # [3, 2, H, W]
        x = np_bilinear(x, 371, 224)  # short side 224, long side floor(83 / 50 * 224)
        x = (x - MEAN[:, None, None, None]) / STD[:, None, None, None]
        want += [x[..., top : top + 224, :] for top in (0, 74, 147)]  # portrait: down the long side, centre 73.5 up
    np.testing.assert_allclose(got, np.stack(want), atol=1e-4)


def test_tokenizer_rules():
    from open_clip import tokenizer

    short = "a red ball bounces"
    assert torch.equal(IB.tokenize(short, "javisbench"), tokenizer.tokenize([short]))
    long = " ".join(["word"] * 100)
    jb, forced = IB.tokenize(long, "javisbench")[0], IB.tokenize(long, "forced-end")[0]
    assert forced[-1] == 49407 and 49407 not in jb.tolist()  # JavisBench's copy cuts without the end token
    assert torch.equal(jb[:76], forced[:76])


# ---- JavisScore --------------------------------------------------------------------------------------

def test_javisscore_windows():
    frames, audio = IB.javisscore_windows(192, 128000, 24.0)  # 8 s at 24 fps: 2 s windows every 0.5 s
    assert frames.shape == (13, 48) and frames[0, 0] == 0 and frames[-1, -1] == 191 and frames[1, 0] == 12
    assert audio[0] == (0, 32000) and audio[-1] == (96000, 128000) and len(audio) == 13
    frames, audio = IB.javisscore_windows(100, 60000, 24.0)  # the last of each moved back; the fewer count wins
    assert [f[0] for f in frames] == [0, 12, 24, 36, 48] and audio == [(0, 32000), (8000, 40000), (16000, 48000),
                                                                       (24000, 56000), (28000, 60000)]
    frames, audio = IB.javisscore_windows(40, 60000, 24.0)  # no more frames than one window: one window of all
    assert frames.tolist() == [list(range(40))] and audio == [(0, 60000)]


def test_lowest_forty_percent_rule():
    cos = np.array([[0.9, 0.1, 0.5, 0.3, 0.7], [0.2, 0.2, 0.8, 0.6, 0.4]])  # int(5 * 0.4) = 2 lowest per window
    assert javis_score(cos) == pytest.approx(((0.1 + 0.3) / 2 + (0.2 + 0.2) / 2) / 2)
    assert javis_score(np.array([[0.5, 0.4]])) is None  # int(2 * 0.4) = 0: no frame to average
    assert javis_score(np.zeros((0, 0))) is None


def test_javisscore_end_to_end_and_short_clip(wdir):
    model, _ = save_file(wdir)
    feats = IB.JavisScoreFeatures(wdir, cfg=SMALL)
    clip = clip_of(2.6, fps=10, size=(30, 40))
    clip.audio[0, :16000] += 0.5  # a step: window 0's mean removal then leaves a step at 2 s inside window 1
    got, conv = feats.compute(clip)
    assert got["cosines"].shape == (3, 20) and conv == []  # 26 frames, 41,600 samples: windows at 0, 0.5, 1 s / 0.3 s
    with torch.no_grad():  # window 0 sees no earlier removal: recompute it alone
        v = model.embed("vision", IB.still_frames(clip.video, np.arange(20))).double()
        a = model.embed_clip("audio", IB.audio_subclips(clip.audio[0, :32000].copy())).double()
    np.testing.assert_allclose(got["cosines"][0], F.cosine_similarity(v, a[None], dim=-1).numpy(), atol=1e-5)
    wave = clip.audio[0].astype(np.float64)
    wave[:32000] -= wave[:32000].mean()  # window 0 leaves its mean removal on the shared waveform
    with torch.no_grad():  # window 1: samples 8,000 to 40,000, frames 5 to 24
        v = model.embed("vision", IB.still_frames(clip.video, np.arange(5, 25))).double()
        a = model.embed_clip("audio", IB.audio_subclips(wave[8000:40000].astype(np.float32))).double()
    np.testing.assert_allclose(got["cosines"][1], F.cosine_similarity(v, a[None], dim=-1).numpy(), atol=1e-5)
    assert METRICS["javisscore"].value([got], None, Context()) == pytest.approx(javis_score(got["cosines"]))
    two, _ = feats.compute(clip_of(0.2, fps=10, size=(30, 40)))
    assert two["cosines"].shape == (1, 2) and METRICS["javisscore"].value([two], None, Context()) is None
    assert "3 frames" in METRICS["javisscore"].unavailable


# ---- short clips -------------------------------------------------------------------------------------

def test_short_clip_rules(wdir):
    save_file(wdir)
    got, why = IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).compute(clip_of(5.0))
    assert got["video"].shape == got["audio"].shape == (0, 8) and "shorter than the 8 s av-benchmark reads" in why[0]
    assert METRICS["ib-av"].value([got], None, Context()) is None
    got, conv = IB.ImageBindFeatures("av-benchmark", wdir, cfg=SMALL).compute(clip_of(8.0))
    assert got["video"].shape == got["audio"].shape == (1, 8) and got["text"].shape == (0, 8) and conv == []
    tiny = AVClip(np.zeros((1, 30, 40, 3), np.uint8), 25, np.zeros((1, 300), np.float32), 16000, {"caption": "hum"})
    got, why = IB.ImageBindFeatures("javisbench", wdir, cfg=SMALL).compute(tiny)  # one frame is enough for the picture
    assert got["video"].shape == got["text"].shape == (1, 8) and got["audio"].shape == (0, 8)
    assert "under one 25 ms fbank frame" in why[0]
    assert METRICS["ib-tv"].value([got], None, Context()) is not None and METRICS["ib-ta"].value([got], None, Context()) is None


def test_eval_on_a_suite_folder_reads_captions_and_gives_each_preset(wdir, monkeypatch, tmp_path):
    """`ccl-bench eval` path: a tiny av-sync build (2 s clips, captions in the manifest), random weights of the
    released layout at reduced width: the JavisBench scores have values, av-benchmark's IB is unavailable
    (clips under 8 s) with that reason."""
    from ccl_bench.evaluate import evaluate
    from ccl_bench.features import BACKBONES
    from ccl_bench.suites import build_suite, load_suite

    save_file(wdir)
    for p in IB.PRESETS:
        monkeypatch.setitem(BACKBONES, f"imagebind-{p}", lambda d, dev, p=p: IB.ImageBindFeatures(p, d, dev, cfg=SMALL))
    monkeypatch.setitem(BACKBONES, "imagebind-javisscore", lambda d, dev: IB.JavisScoreFeatures(d, dev, cfg=SMALL))
    out = build_suite(load_suite("av-sync"), tmp_path / "suite", rendering="tiny", num=2, show_progress=False).parent
    names = ["ib-av", "ib-av@javisbench", "ib-tv", "ib-ta", "javisscore"]
    res, _, _ = evaluate(out, metrics=names, weights_dir=wdir, cache_dir=tmp_path / "cache", bootstrap=0,
                         show_progress=False, details=True)
    got = res["metrics"]
    assert got["ib-av"]["status"] == "unavailable" and "ImageBind video and audio" in got["ib-av"]["reason"]
    for name in names[1:]:
        assert got[name]["n"] == 2 and -1 <= got[name]["value"] <= 1, (name, got[name])
    assert got["ib-tv"]["protocol"]["text"] == "javisbench" and "raw cosine" in got["ib-tv"]["protocol"]["value"]
