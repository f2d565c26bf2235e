"""PANNs Cnn14-16k (FD-PANN): the checkpoint layout, loading through the weights manager, the front end
against an independent numpy rendition, and the short-clip rule."""

import dataclasses

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import panns as P
from ccl_bench.io import AVClip
from tests.features.norms import randomise_norm_statistics

SMALL = (4, 4, 8, 8, 8, 16)  # the same code at narrow widths, so a forward pass takes milliseconds


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layout_is_the_published_checkpoints():
    with torch.device("meta"):
        sd = P.Cnn14().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    # Cnn14_16k_mAP=0.438.pth: 16 kHz front end stored as weights, 6 conv blocks to 2048, 527 AudioSet classes.
    assert shapes["spectrogram_extractor.stft.conv_real.weight"] == (257, 1, 512)
    assert shapes["spectrogram_extractor.stft.conv_imag.weight"] == (257, 1, 512)
    assert shapes["logmel_extractor.melW"] == (257, 64)
    assert shapes["bn0.running_mean"] == (64,)
    assert shapes["conv_block1.conv1.weight"] == (64, 1, 3, 3)
    assert shapes["conv_block6.conv2.weight"] == (2048, 2048, 3, 3)
    assert shapes["fc1.weight"] == (2048, 2048) and shapes["fc_audioset.weight"] == (527, 2048)
    assert not any(k.endswith(("conv1.bias", "conv2.bias")) for k in shapes)  # the convolutions carry no bias
    assert len(shapes) == 3 + 5 + 6 * (2 + 2 * 5) + 4


def save_checkpoint(folder, seed=0):
    torch.manual_seed(seed)
    model = P.Cnn14(SMALL).init_front_end()
    randomise_norm_statistics(model, mean_std=1.0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Cnn14_16k_mAP=0.438.pth"
    torch.save({"model": model.state_dict(), "iteration": 0}, path)  # as the Zenodo checkpoint wraps it
    return model.eval(), path


def trust(monkeypatch, path):
    """Make the registry expect this random file's md5 (the real entry holds Zenodo's)."""
    monkeypatch.setitem(W.REGISTRY, "panns-cnn14-16k",
                        dataclasses.replace(W.REGISTRY["panns-cnn14-16k"], md5=W.md5_of(path)))


def test_random_checkpoint_loads_through_the_manager_and_embeds(wdir, monkeypatch):
    model, path = save_checkpoint(wdir)
    trust(monkeypatch, path)
    feats = P.PANNsFeatures(wdir, widths=SMALL)
    audio = np.random.default_rng(0).normal(0, 0.1, (2, 22050)).astype(np.float32)  # 1 s stereo at 22.05 kHz
    got, conv = feats.compute(AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, audio, 22050))
    from ccl_bench.io import resample_audio, to_channels

    mono16 = resample_audio(to_channels(audio, 1), 22050, 16000)[0]
    with torch.no_grad():
        want = model(torch.from_numpy(mono16)[None])["embedding"].double().numpy()
    assert got["features"].shape == (1, 16)
    np.testing.assert_allclose(got["features"], want, rtol=1e-5, atol=1e-6)
    assert "resampled audio 22050 -> 16000 Hz" in conv and feats.protocol["weights_sha256"] == W.sha256_of(path)


def test_a_tampered_checkpoint_is_refused(wdir, monkeypatch):
    _, path = save_checkpoint(wdir)
    trust(monkeypatch, path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match="differs from the published"):
        P.PANNsFeatures(wdir, widths=SMALL).load()


def test_the_published_md5_is_enforced(wdir):
    save_checkpoint(wdir)  # a random file cannot carry Zenodo's md5
    with pytest.raises(W.WeightsError, match="md5 .* differs from the published 362fc5ff"):
        P.PANNsFeatures(wdir).load()


def test_missing_checkpoint_names_file_and_place(wdir):
    with pytest.raises(W.WeightsError) as e:
        P.PANNsFeatures(wdir).load()
    assert "Cnn14_16k_mAP=0.438.pth" in str(e.value) and str(wdir) in str(e.value) and "zenodo.org" in str(e.value)


def np_log_mel(wave):
    """torchlibrosa's Spectrogram + LogmelFilterBank as PANNs configures them, written with numpy:
    reflect-pad 256, 512-sample periodic Hann frames every 160, |rfft|^2, Slaney mel 50-8000 Hz, 10 log10."""
    import librosa

    x = np.pad(wave, 256, mode="reflect")
    n = 1 + (len(x) - 512) // 160
    frames = np.stack([x[i * 160 : i * 160 + 512] for i in range(n)])
    power = np.abs(np.fft.rfft(frames * np.hanning(513)[:512], 512)) ** 2  # hanning(N+1)[:N] = periodic Hann
    mel = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=50, fmax=8000)
    return 10 * np.log10(np.maximum(power @ mel.T, 1e-10))


def test_front_end_matches_numpy():
    wave = np.random.default_rng(1).normal(0, 0.3, 16000).astype(np.float32)
    got = P.Cnn14(SMALL).init_front_end().log_mel(torch.from_numpy(wave)[None])[0, 0].detach().double().numpy()
    want = np_log_mel(wave.astype(np.float64))
    assert got.shape == want.shape == (101, 64)
    np.testing.assert_allclose(got, want, atol=2e-3)  # float32 DFT as a convolution


def test_a_clip_too_short_for_five_poolings_has_no_embedding(wdir, monkeypatch):
    _, path = save_checkpoint(wdir)
    trust(monkeypatch, path)
    feats = P.PANNsFeatures(wdir, widths=SMALL)
    short = AVClip(np.zeros((2, 8, 8, 3), np.uint8), 10, np.zeros((1, 4959), np.float32), 16000)
    got, conv = feats.compute(short)
    assert got["features"].shape == (0, 16) or got["features"].shape == (0, P.EMBEDDING)
    assert any("no PANNs embedding" in c for c in conv)
    ok, _ = feats.compute(AVClip(short.video, 10, np.zeros((1, 4960), np.float32), 16000))
    assert ok["features"].shape == (1, 16)
