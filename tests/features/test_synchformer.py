"""Synchformer / DeSync: the checkpoint layout, divided attention against a loop over its groups, the
front end against numpy, the three presets' windows and short-clip rules, loading through the weights
manager, and the av-sync offset ladder end to end (random weights, reduced width, same code)."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ccl_bench import weights as W
from ccl_bench.features import synchformer as S
from ccl_bench.io import AVClip

SMALL = S.SynchformerConfig(dim=16, video_depth=1, video_heads=2, audio_depth=1, audio_heads=2, mlp_ratio=2,
                            global_layers=1, global_heads=2)


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layout_is_the_released_state_dict():
    with torch.device("meta"):
        sd = S.Synchformer().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["vfeat_extractor.pos_embed"] == (1, 197, 768) and shapes["vfeat_extractor.temp_embed"] == (1, 8, 768)
    assert shapes["vfeat_extractor.patch_embed_3d.proj.weight"] == (768, 3, 2, 16, 16)
    assert shapes["vfeat_extractor.patch_embed.proj.weight"] == (768, 3, 16, 16)
    assert shapes["vfeat_extractor.blocks.11.timeattn.qkv.weight"] == (2304, 768)
    assert shapes["vfeat_extractor.spatial_attn_agg.linear1.weight"] == (3072, 768)
    assert shapes["vfeat_extractor.spatial_attn_agg.self_attn.in_proj_weight"] == (2304, 768)
    assert shapes["afeat_extractor.ast.embeddings.position_embeddings"] == (1, 74, 768)  # 2 + 12 x 6 patches
    assert shapes["afeat_extractor.ast.embeddings.patch_embeddings.projection.weight"] == (768, 1, 16, 16)
    assert shapes["afeat_extractor.ast.encoder.layer.11.attention.attention.query.weight"] == (768, 768)
    assert shapes["afeat_extractor.ast.encoder.layer.11.intermediate.dense.weight"] == (3072, 768)
    assert shapes["afeat_extractor.freq_attn_agg.cls_token"] == (1, 1, 768)
    assert shapes["transformer.pos_emb_cfg.pos_emb"] == (1, 198, 768) and shapes["transformer.off_head.weight"] == (21, 768)
    assert shapes["transformer.blocks.2.mlp.2.weight"] == (768, 3072)
    video = 2 + 2 + 3 + 12 * 18 + 2 + 13  # patch embeds, cls/pos/temp, blocks, norm, spatial pooling layer
    audio = 5 + 12 * 16 + 2 + 13  # embeddings, layers, final norm, frequency pooling layer
    glob = 2 + 2 + 2 + 1 + 3 * 16 + 2 + 2  # input norms, OFF/MOD, positions, blocks, ln_f, off_head
    assert len(shapes) == video + audio + 4 + glob


def loop_divided_attention(att, x, frames, over):
    """The published rule written as loops: the CLS query attends to every token; each other token
    attends to CLS plus the tokens of its group (same patch across frames, or same frame)."""
    b, n, d = x.shape
    h, p = att.heads, (n - 1) // frames
    q, k, v = att.qkv(x).chunk(3, dim=-1)
    split = lambda t: t.view(b, n, h, d // h)  # noqa: E731
    q, k, v = split(q) * (d // h) ** -0.5, split(k), split(v)
    out = torch.zeros(b, n, h, d // h)
    for bi in range(b):
        for hi in range(h):
            out[bi, 0, hi] = torch.softmax(q[bi, 0, hi] @ k[bi, :, hi].T, -1) @ v[bi, :, hi]
            for tok in range(1, n):
                f, pos = divmod(tok - 1, p)
                members = [1 + ff * p + pos for ff in range(frames)] if over == "time" else [1 + f * p + pp for pp in range(p)]
                keys = [0, *members]
                w = torch.softmax(q[bi, tok, hi] @ k[bi, keys, hi].T, -1)
                out[bi, tok, hi] = w @ v[bi, keys, hi]
    return att.proj(out.reshape(b, n, d))


@pytest.mark.parametrize("over", ["time", "space"])
def test_divided_attention_equals_its_loop_definition(over):
    torch.manual_seed(0)
    att = S.DividedAttention(8, 2).eval()
    x = torch.randn(2, 1 + 3 * 4, 8)
    with torch.no_grad():
        np.testing.assert_allclose(att(x, 3, over).numpy(), loop_divided_attention(att, x, 3, over).numpy(), atol=1e-5)


def test_windows_of_each_preset():
    assert [w.tolist() for w in S.window_segments(24, "first-last")] == [list(range(14)), list(range(10, 24))]
    assert [w.tolist() for w in S.window_segments(24, "first")] == [list(range(14))]
    # JavisBench: a short last chunk takes the last 14; a short first chunk repeats itself.
    assert [w.tolist() for w in S.window_segments(30, "chunks")] == [list(range(14)), list(range(14, 28)),
                                                                     list(range(16, 30))]
    assert [w.tolist() for w in S.window_segments(10, "chunks")] == [[*range(10), 0, 1, 2, 3]]
    assert S.segment_times(np.arange(10, 24)) == (3.2, 8.0)


def np_log_mel_segments(wave):
    """torchaudio MelSpectrogram(16 kHz, n_fft 1024, win 400, hop 160, 128 mels) written with numpy:
    reflect-pad 512, a periodic Hann of 400 centred in 1024, |rfft|^2, HTK triangles 0-8 kHz (no norm);
    then log(x + 1e-6), zero-pad to 66 frames, (x + 4.2677393) / (2 * 4.5689974)."""
    segs = [wave[i * 5120 : i * 5120 + 10240] for i in range((len(wave) - 10240) // 5120 + 1)]
    win = np.zeros(1024)
    win[312:712] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    pts = 700 * (10 ** (np.linspace(mel(0), mel(8000), 130) / 2595) - 1)
    freqs = np.linspace(0, 8000, 513)
    fb = np.maximum(0, np.minimum((freqs[:, None] - pts[:-2]) / (pts[1:-1] - pts[:-2]),
                                  (pts[2:] - freqs[:, None]) / (pts[2:] - pts[1:-1])))
    out = []
    for s in segs:
        x = np.pad(s, 512, mode="reflect")
        frames = np.stack([x[i * 160 : i * 160 + 1024] for i in range(1 + len(s) // 160)])
        spec = np.log(np.abs(np.fft.rfft(frames * win)) ** 2 @ fb + 1e-6)  # [65, 128]
        spec = np.concatenate([spec, np.zeros((1, 128))])
        out.append((spec + 4.2677393) / (2 * 4.5689974))
    return np.stack(out)


def test_audio_front_end_matches_numpy():
    wave = np.random.default_rng(0).normal(0, 0.2, 16000).astype(np.float32)
    wave[9000:] = 0  # silence, where log(x + 1e-6) is set by its epsilon
    got = S.audio_segments(wave).double().numpy()
    want = np_log_mel_segments(wave.astype(np.float64))
    assert got.shape == want.shape == (2, 66, 128)
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_video_front_end_matches_an_independent_rendition():
    t, h, w = np.meshgrid(np.arange(40), np.arange(60), np.arange(90), indexing="ij")
    video = np.stack([128 + 100 * np.sin(h / 7 + t / 5), 128 + 100 * np.cos(w / 11), 60 + t + 0 * h], -1).astype(np.uint8)
    frames = S.frames_at_25fps(video, 30.0, 200)  # 40 frames at 30 fps = 1.33 s -> 33 frames at 25 fps
    idx = np.minimum(np.round(np.arange(33) * 30 / 25).astype(int), 39)
    np.testing.assert_array_equal(frames, video[idx])
    got = S.video_input(frames)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(224, 336), mode="bicubic", antialias=True, align_corners=False).round().clamp(0, 255)
    want = (x[..., :, 56:280] / 255 - 0.5) / 0.5
    assert got.shape == want.shape == (33, 3, 224, 224)
    assert float((got - want).abs().max()) <= 2 / 255 * 2 + 1e-6  # at most 2 levels of 8-bit rounding
    assert tuple(S.video_segments(got).shape) == (3, 3, 16, 224, 224)  # (33 - 16) // 8 + 1 segments


def save_checkpoint(folder, monkeypatch, seed=0):
    torch.manual_seed(seed)
    model = S.Synchformer(SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "synchformer_state_dict.pth"
    torch.save(model.state_dict(), path)
    monkeypatch.setitem(W.REGISTRY, "synchformer", dataclasses.replace(W.REGISTRY["synchformer"], md5=W.md5_of(path)))
    return model.eval(), path


def clip_of(seconds, fps=25, rate=16000, seed=1):
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 256, (int(seconds * fps), 24, 32, 3), dtype=np.uint8)
    return AVClip(video, fps, rng.normal(0, 0.1, (1, int(seconds * rate))).astype(np.float32), rate)


def test_random_weights_load_and_give_the_models_windows(wdir, monkeypatch):
    model, _ = save_checkpoint(wdir, monkeypatch)
    feats = S.DeSyncFeatures("av-benchmark", wdir, cfg=SMALL)
    clip = clip_of(8.0)
    got, conv = feats.compute(clip)
    video = S.video_segments(S.video_input(clip.video))
    audio = S.audio_segments(clip.audio[0])
    want = S.predict_windows(model, video, audio, "first-last")
    np.testing.assert_array_equal(got["offsets"], want.offsets)
    np.testing.assert_allclose(got["windows"], [[0.0, 4.8], [3.2, 8.0]])
    assert set(got["offsets"]) <= set(S.GRID) and conv == []
    assert "decord" in feats.protocol["decoder"] or "PyAV" in feats.protocol["decoder"]


def test_a_tampered_checkpoint_is_refused_and_a_missing_one_named(wdir, monkeypatch):
    with pytest.raises(W.WeightsError, match="synchformer_state_dict.pth not found: place it at"):
        S.DeSyncFeatures("av-benchmark", wdir, cfg=SMALL).load()
    _, path = save_checkpoint(wdir, monkeypatch)
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    with pytest.raises(W.WeightsError, match="md5 .* differs from the published"):
        S.DeSyncFeatures("av-benchmark", wdir, cfg=SMALL).load()


def test_short_clip_rules(wdir, monkeypatch):
    save_checkpoint(wdir, monkeypatch)
    five = clip_of(5.0)
    got, why = S.DeSyncFeatures("av-benchmark", wdir, cfg=SMALL).compute(five)
    assert got["offsets"].shape == (0,) and "shorter than the 8 s the av-benchmark preset reads" in why[0]
    got, conv = S.DeSyncFeatures("javisbench", wdir, cfg=SMALL).compute(five)
    np.testing.assert_allclose(got["windows"], [[0.0, 4.8], [3.2, 8.0]])  # zero-padded to 8 s
    assert conv == ["zero-padded to 8 s (javisbench)"]
    got, _ = S.DeSyncFeatures("versebench", wdir, cfg=SMALL).compute(five)
    np.testing.assert_allclose(got["windows"], [[0.0, 4.8]])
    got, why = S.DeSyncFeatures("versebench", wdir, cfg=SMALL).compute(clip_of(4.0))
    assert got["offsets"].shape == (0,) and "4.8 s the versebench preset reads" in why[0]


def test_offset_ladder_end_to_end(wdir, monkeypatch, tmp_path):
    """`ccl-bench suite build av-sync --perturb offset=...` (native rendering, 8 s), then eval of DeSync
    presets with random weights: each clip reports its windows and an offset from the grid."""
    from ccl_bench.evaluate import evaluate
    from ccl_bench.features import BACKBONES
    from ccl_bench.suites import build_suite, load_suite, parse_perturbation

    save_checkpoint(wdir, monkeypatch)
    for p in S.PRESETS:
        monkeypatch.setitem(BACKBONES, f"synchformer-{p}", lambda d, dev, p=p: S.DeSyncFeatures(p, d, dev, cfg=SMALL))
    spec = load_suite("av-sync")
    names = ["desync", "desync@versebench"]  # javisbench's windows on 8 s clips equal av-benchmark's (test above)
    for offset in (0.0, 0.4):
        out = tmp_path / f"offset{offset}"
        build_suite(spec, out, rendering="native", num=1, perturbation=parse_perturbation(f"offset={offset}"),
                    show_progress=False)
        res, pred, _ = evaluate(out, metrics=names, weights_dir=wdir, cache_dir=tmp_path / "cache", bootstrap=0,
                                show_progress=False, details=True)
        for name in names:
            m = res["metrics"][name]
            assert m["n"] == 1 and m["value"] in set(np.abs(S.GRID)) | set(S.GRID), (name, m)
            assert m["protocol"]["decoder"] and m["protocol"]["windows"] in ("first-last", "chunks", "first")
        spans = {k: r[0]["windows"].tolist() for k, r in pred.results.items()}
        assert spans["synchformer-av-benchmark"] == [[0.0, 4.8], [3.2, 8.0]]
        assert spans["synchformer-versebench"] == [[0.0, 4.8]]
