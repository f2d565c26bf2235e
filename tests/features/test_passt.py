"""PaSST-S (FD-PaSST of av-benchmark): the checkpoint's layout on the meta device, random weights loaded
through the weights manager, a tampered file refused, and the mel front end and clip preparation against
independent renditions (torchaudio's Kaldi mel banks, a numpy STFT)."""

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import passt as P
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context

ONE_BLOCK = P.PaSSTConfig(depth=1)  # PaSST-S's widths and positions with 1 of its 12 blocks (fast on a CPU)


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layout_is_the_audioset_checkpoint():
    with torch.device("meta"):
        sd = P.PaSST().state_dict()
    s = {k: tuple(v.shape) for k, v in sd.items()}
    # passt-s-f128-p16-s10-ap.476-swa.pt: 16 x 16 patches at stride 10 over 128 x 998, ViT-B, distilled heads.
    assert s["patch_embed.proj.weight"] == (768, 1, 16, 16) and s["patch_embed.proj.bias"] == (768,)
    assert s["freq_new_pos_embed"] == (1, 768, 12, 1) and s["time_new_pos_embed"] == (1, 768, 1, 99)
    assert s["new_pos_embed"] == (1, 2, 768) and s["cls_token"] == s["dist_token"] == (1, 1, 768)
    assert s["blocks.11.attn.qkv.weight"] == (2304, 768) and s["blocks.11.attn.qkv.bias"] == (2304,)
    assert s["blocks.0.mlp.fc1.weight"] == (3072, 768) and s["blocks.0.mlp.fc2.weight"] == (768, 3072)
    assert s["head.0.weight"] == (768,) and s["head.1.weight"] == (527, 768) and s["head_dist.weight"] == (527, 768)
    assert len(s) == 2 + 5 + 12 * 12 + 2 + 4 + 2


def test_mel_banks_match_torchaudios_kaldi_banks():
    from torchaudio.compliance.kaldi import get_mel_banks

    want, _ = get_mel_banks(128, 1024, 32000.0, 0.0, 15000.0, 100.0, -500.0, 1.0)
    got = P.mel_banks()
    assert got.shape == (128, 513) and not got[:, -1].any()
    np.testing.assert_allclose(got[:, :512], want.numpy(), atol=3e-5)  # torchaudio builds them in float32


def np_log_mel(wave):
    """hear21passt's AugmentMelSTFT in eval mode, in numpy: pre-emphasis, a symmetric 800-sample Hann window
    centred in 1024-sample frames every 320 (reflect-padded by 512), |rfft|^2, mel, log(+1e-5), (x + 4.5) / 5."""
    x = wave[1:] - 0.97 * wave[:-1]
    x = np.pad(x, 512, mode="reflect")
    window = np.pad(np.hanning(800), 112)
    n = 1 + (len(x) - 1024) // 320
    frames = np.stack([x[i * 320 : i * 320 + 1024] for i in range(n)])
    power = np.abs(np.fft.rfft(frames * window, 1024)) ** 2
    return (np.log(P.mel_banks().astype(np.float64) @ power.T + 1e-5) + 4.5) / 5


def test_log_mel_matches_numpy():
    wave = np.random.default_rng(0).normal(0, 0.2, 32000).astype(np.float32)
    got = P.log_mel(torch.from_numpy(wave)[None])[0].double().numpy()
    want = np_log_mel(wave.astype(np.float64))
    assert got.shape == want.shape == (128, 100)
    np.testing.assert_allclose(got, want, atol=2e-4)
    assert P.log_mel(torch.zeros(1, 320000)).shape == (1, 128, 1000)  # 10 s -> 1000 frames -> 12 x 99 patches


def test_clip_preparation():
    rng = np.random.default_rng(1)
    nine = rng.normal(0.3, 0.1, 9 * 32000).astype(np.float32)
    x = P.preprocess(nine)
    assert x.shape == (320000,)
    np.testing.assert_allclose(x[: 8 * 32000], nine[: 8 * 32000] - nine.mean(), atol=1e-6)  # DC removed, then cut
    assert not x[8 * 32000 :].any()
    long = rng.normal(0, 0.1, 12 * 32000).astype(np.float32)
    np.testing.assert_allclose(P.preprocess(long, None), long[:320000] - long.mean(), atol=1e-6)


def naive_passt(m, mel):
    """PaSST from its definition, patch by patch: each 16 x 16 patch at stride 10 (frequency-major order)
    plus its frequency and its time position; cls and dist tokens with their own positions in front;
    pre-norm blocks one head at a time; the mean of the normed cls and dist tokens."""
    w = m.patch_embed.proj.weight[:, 0]
    nf, nt = (mel.shape[0] - 16) // 10 + 1, (mel.shape[1] - 16) // 10 + 1
    patches = [(w * mel[f * 10 : f * 10 + 16, t * 10 : t * 10 + 16]).sum((1, 2)) + m.patch_embed.proj.bias
               + m.freq_new_pos_embed[0, :, f, 0] + m.time_new_pos_embed[0, :, 0, t] for f in range(nf) for t in range(nt)]
    x = torch.stack([m.cls_token[0, 0] + m.new_pos_embed[0, 0], m.dist_token[0, 0] + m.new_pos_embed[0, 1], *patches])
    for blk in m.blocks:
        h = blk.norm1(x)
        q, k, v = blk.attn.qkv(h).chunk(3, -1)
        d = x.shape[1] // blk.attn.heads
        heads = [torch.softmax(q[:, i * d : (i + 1) * d] @ k[:, i * d : (i + 1) * d].T / d**0.5, -1) @ v[:, i * d : (i + 1) * d]
                 for i in range(blk.attn.heads)]
        x = x + blk.attn.proj(torch.cat(heads, -1))
        x = x + blk.mlp.fc2(torch.nn.functional.gelu(blk.mlp.fc1(blk.norm2(x))))
    x = m.norm(x)
    return (x[0] + x[1]) / 2


def test_passt_matches_a_patch_by_patch_rendition():
    torch.manual_seed(4)
    m = P.PaSST(P.PaSSTConfig(width=16, depth=2, heads=4)).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        mel = torch.randn(128, 260, dtype=torch.float64)  # 2.6 s: 25 of the 99 time positions
        logits, emb = m(mel[None, None])
        want = naive_passt(m, mel)
        torch.testing.assert_close(emb[0], want, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(logits[0], m.head(want), rtol=1e-9, atol=1e-9)


def random_passt(seed=0):
    torch.manual_seed(seed)
    model = P.PaSST(ONE_BLOCK)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def test_random_checkpoint_loads_through_the_manager_and_embeds(wdir):
    model = random_passt()
    wdir.mkdir(parents=True)
    torch.save(model.state_dict(), wdir / "passt-s-f128-p16-s10-ap.476-swa.pt")
    feats = P.PaSSTFeatures(wdir, cfg=ONE_BLOCK)
    audio = np.random.default_rng(2).normal(0, 0.2, (1, 3 * 16000)).astype(np.float32)
    got, conv = feats.compute(AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, audio, 16000))
    from ccl_bench.io import resample_audio

    x = torch.from_numpy(P.preprocess(resample_audio(audio, 16000, 32000)[0]))[None]
    with torch.no_grad():
        logits, want = model(P.log_mel(x)[:, None])
    assert got["features"].shape == (1, 768) and logits.shape == (1, 527)
    np.testing.assert_allclose(got["features"], want.double().numpy(), rtol=1e-4, atol=1e-5)
    assert conv == ["resampled audio 16000 -> 32000 Hz"]
    assert feats.protocol["weights_sha256"] == W.sha256_of(wdir / "passt-s-f128-p16-s10-ap.476-swa.pt")
    empty, why = feats.compute(AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, np.zeros((1, 0), np.float32), 32000))
    assert empty["features"].shape == (0, 768) and "no PaSST embedding" in why[-1]
    ref = [{"features": np.random.default_rng(3).normal(0, 1, (1, 768))} for _ in range(3)]
    assert METRICS["fd-passt"].analysis == "passt" and METRICS["fd-passt"].needs_ref
    assert METRICS["fd-passt"].value([got, empty], ref, Context()) is None  # one embedding: no covariance


def test_a_tampered_checkpoint_is_refused(wdir):
    wdir.mkdir(parents=True)
    path = wdir / "passt-s-f128-p16-s10-ap.476-swa.pt"
    torch.save(random_passt().state_dict(), path)
    P.PaSSTFeatures(wdir, cfg=ONE_BLOCK).load()  # records its sha256
    data = bytearray(path.read_bytes())
    data[-300] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        P.PaSSTFeatures(wdir, cfg=ONE_BLOCK).load()


def test_missing_checkpoint_names_file_and_place(wdir):
    with pytest.raises(W.WeightsError) as e:
        P.PaSSTFeatures(wdir).load()
    assert str(wdir / "passt-s-f128-p16-s10-ap.476-swa.pt") in str(e.value) and "kkoutini/PaSST/releases" in str(e.value)



class Opaque:  # a pickled object that is not a tensor: torch.load(weights_only=True) refuses it
    pass


def test_a_checkpoint_that_pickles_code_is_refused_in_one_line(wdir):
    wdir.mkdir(parents=True)
    torch.save({"state_dict": {"x": torch.zeros(1)}, "args": Opaque()}, wdir / "passt-s-f128-p16-s10-ap.476-swa.pt")
    with pytest.raises(W.WeightsError, match="not a torch state dict readable without running its code") as e:
        W.load_state_dict("passt-s-ap476", wdir)  # first use: refused before its checksum is recorded
    assert "\n" not in str(e.value) and "Opaque" in str(e.value)
    W._record(wdir, "passt-s-f128-p16-s10-ap.476-swa.pt", W.sha256_of(wdir / "passt-s-f128-p16-s10-ap.476-swa.pt"))
    with pytest.raises(W.WeightsError, match="cannot be read as a state dict without running its code") as e:
        W.load_state_dict("passt-s-ap476", wdir)  # a recorded file is still read without running code
    assert "\n" not in str(e.value)


def test_numpy_scalars_of_numpy_1_and_2_pickles_load_without_running_code(wdir):
    import zipfile

    wdir.mkdir(parents=True)
    new = wdir / "numpy2.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "optimizer": {"lr": np.float64(1e-4), "dtype": np.dtype("f4")}}, new)
    old = wdir / "passt-s-f128-p16-s10-ap.476-swa.pt"  # the same pickle as numpy 1 wrote it (`numpy.core`)
    with zipfile.ZipFile(new) as zin, zipfile.ZipFile(old, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if info.filename.endswith(
                "data.pkl") else data)
    assert b"numpy.core.multiarray" in zipfile.ZipFile(old).read(next(n for n in zipfile.ZipFile(old).namelist()
                                                                      if n.endswith("data.pkl")))
    state, _ = W.load_state_dict("passt-s-ap476", wdir)
    assert torch.equal(state["w"], torch.ones(2))
