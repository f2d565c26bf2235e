"""Metric backbones: random weights in the published file layouts load through the weights manager,
and each preset's preprocessing equals an independent numpy rendition of its documented constants."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import I3DFeatures, VGGishFeatures
from ccl_bench.features import i3d as I3D
from ccl_bench.features import vggish as V
from ccl_bench.io import AVClip
from tests.features.norms import randomise_norm_statistics


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def save_i3d_file(folder, seed=0):
    """A random InceptionI3d state dict as VideoGPT's file holds it (no BatchNorm num_batches_tracked)."""
    torch.manual_seed(seed)
    model = I3D.InceptionI3d()
    randomise_norm_statistics(model)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "i3d_pretrained_400.pt")
    return model.eval()


def pin_to(monkeypatch, name, path):
    """Let the registry publish this (random) file's checksum, as it publishes the real file's."""
    monkeypatch.setitem(W.REGISTRY, name, dataclasses.replace(W.REGISTRY[name], sha256=W.sha256_of(path)))


def test_i3d_file_is_pinned_to_the_published_checksum(wdir, monkeypatch):
    assert W.REGISTRY["i3d-kinetics400"].sha256 == "55095f049e706479d48e221adcdb145b2b9dc930ba28b081ed72367ffaa32343"
    model = save_i3d_file(wdir)
    with pytest.raises(W.WeightsError, match="differs from the published 55095f04"):
        I3DFeatures("videogpt", weights_dir=wdir).load()  # any other file is refused, even on first use
    pin_to(monkeypatch, "i3d-kinetics400", wdir / "i3d_pretrained_400.pt")
    feats = I3DFeatures("videogpt", weights_dir=wdir)
    video = np.random.default_rng(0).integers(0, 256, (20, 120, 160, 3), dtype=np.uint8)
    got, conv = feats.compute(AVClip(video, 25, np.zeros((1, 1600), np.float32), 16000))
    x = I3D.preprocess(video, I3D.PRESETS["videogpt"])[None]
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got["features"], want, rtol=1e-5, atol=1e-5)
    assert got["features"].shape == (1, 400) and conv == []
    assert feats.protocol["weights_check"].startswith("verified (published sha256")
    assert W.verify("i3d-kinetics400", wdir)[2] == "published sha256"


def test_a_changed_file_is_refused_after_its_checksum_was_recorded(wdir):
    # The TorchScript I3D publishes no checksum: recorded on first use, a swapped file refused after.
    torch.manual_seed(0)
    wdir.mkdir(parents=True)
    torch.jit.save(torch.jit.script(I3D.TorchScriptI3D().eval()), str(wdir / "i3d_torchscript.pt"))
    W.verify("i3d-torchscript", wdir)  # records
    record = json.loads((wdir / W.RECORD).read_text())
    assert record["i3d_torchscript.pt"] == W.sha256_of(wdir / "i3d_torchscript.pt")
    torch.manual_seed(1)
    torch.jit.save(torch.jit.script(I3D.TorchScriptI3D().eval()), str(wdir / "i3d_torchscript.pt"))
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        I3DFeatures("stylegan-v", weights_dir=wdir).load()


def test_torchscript_i3d_loads_and_is_called_like_stylegan_v(wdir):
    torch.manual_seed(0)
    scripted = torch.jit.script(I3D.TorchScriptI3D().eval())
    wdir.mkdir(parents=True)
    torch.jit.save(scripted, str(wdir / "i3d_torchscript.pt"))
    video = np.random.default_rng(1).integers(0, 256, (16, 64, 80, 3), dtype=np.uint8)
    got, _ = I3DFeatures("stylegan-v", weights_dir=wdir).compute(AVClip(video, 25, np.zeros((1, 160), np.float32), 16000))
    x = torch.from_numpy(video).permute(3, 0, 1, 2)[None]
    want = scripted(x, rescale=True, resize=True, return_features=True).detach().numpy()
    np.testing.assert_allclose(got["features"], want, rtol=1e-5, atol=1e-5)
    feats = I3DFeatures("stylegan-v", weights_dir=wdir)
    feats.load()
    assert feats.protocol["weights_check"].startswith("unverified")  # until its checksum is published


def test_a_state_dict_in_another_layout_is_a_clear_error(wdir, monkeypatch):
    wdir.mkdir(parents=True)
    torch.save({"conv.weight": torch.zeros(3)}, wdir / "i3d_pretrained_400.pt")
    pin_to(monkeypatch, "i3d-kinetics400", wdir / "i3d_pretrained_400.pt")
    with pytest.raises(W.WeightsError, match="not the InceptionI3d layout"):
        I3DFeatures("videogpt", weights_dir=wdir).load()


def test_missing_weights_say_what_to_place_where(wdir):
    with pytest.raises(W.WeightsError) as e:
        VGGishFeatures(weights_dir=wdir).load()
    msg = str(e.value)
    assert "vggish-10086976.pth" in msg and str(wdir) in msg and "github.com/harritaylor/torchvggish" in msg


def test_vggish_file_needs_the_published_checksum_prefix(wdir, monkeypatch):
    torch.manual_seed(0)
    model = V.VGGish().eval()
    wdir.mkdir(parents=True)
    torch.save(model.state_dict(), wdir / "vggish-10086976.pth")
    with pytest.raises(W.WeightsError, match="does not start with the published 10086976"):
        VGGishFeatures(weights_dir=wdir).load()
    # The same path with the registry expecting this (random) file's checksum: it loads and embeds.
    digest = W.sha256_of(wdir / "vggish-10086976.pth")
    monkeypatch.setitem(W.REGISTRY, "vggish", dataclasses.replace(W.REGISTRY["vggish"], sha256_prefix=digest[:8]))
    audio = np.random.default_rng(2).normal(0, 0.1, (2, 44100 * 2)).astype(np.float32)
    got, conv = VGGishFeatures(weights_dir=wdir).compute(AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, audio, 44100))
    assert got["features"].shape == (2, 128)
    assert "down-mixed 2 channels to mono" in conv and "resampled audio 44100 -> 16000 Hz" in conv


# ---- preprocessing against numpy renditions of the documented constants ------------------------

def np_bilinear(img, out_h, out_w):
    """Half-pixel bilinear resize (align_corners=False), edges clamped, `[H, W, C]` float."""
    h, w = img.shape[:2]

    def coords(n_out, n_in):
        x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        x = np.clip(x, 0, n_in - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, x - lo

    y0, y1, fy = coords(out_h, h)
    x0, x1, fx = coords(out_w, w)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def np_preset(video, preset):
    t = len(video)
    idx = (np.minimum(np.arange(16), t - 1) if preset in ("videogpt", "cd-fvd")
           else np.round(np.linspace(0, t - 1, 16)).astype(int))
    out = []
    for f in video[idx].astype(np.float64) / 255:
        h, w = f.shape[:2]
        if preset == "videogpt":  # short side 224 (long side rounded up), centre crop
            s = 224 / min(h, w)
            th, tw = (224, int(np.ceil(w * s))) if h < w else (int(np.ceil(h * s)), 224)
            r = np_bilinear(f, th, tw)
            top, left = (th - 224) // 2, (tw - 224) // 2
            r = r[top : top + 224, left : left + 224] * 2 - 1
        elif preset == "cd-fvd":
            r = np_bilinear(f, 224, 224) * 2 - 1
        else:  # javisbench: long side 224, black bars
            s = 224 / max(h, w)
            th, tw = round(h * s), round(w * s)
            r = np.full((224, 224, 3), -1.0)
            top, left = (224 - th) // 2, (224 - tw) // 2
            r[top : top + th, left : left + tw] = np_bilinear(f, th, tw) * 2 - 1
        out.append(r)
    return np.stack(out).transpose(3, 0, 1, 2)  # [3, 16, 224, 224]


@pytest.mark.parametrize("preset", ["videogpt", "javisbench", "cd-fvd"])
@pytest.mark.parametrize("shape", [(40, 90, 160), (12, 200, 150)])  # the second is short: its last frame repeats
def test_i3d_preprocessing_matches_numpy(preset, shape):
    video = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    got = I3D.preprocess(video, I3D.PRESETS[preset]).numpy()
    np.testing.assert_allclose(got, np_preset(video, preset), atol=1e-4)  # float32 interpolation weights


def np_vggish_examples(wave):
    """The AudioSet VGGish front end with its constants written out: 400-sample periodic Hann,
    hop 160, FFT 512, HTK mel 125-7500 Hz in 64 bands (DC weight 0), log(x + 0.01), 96-frame examples."""
    n = 1 + (len(wave) - 400) // 160
    frames = np.stack([wave[i * 160 : i * 160 + 400] for i in range(n)])
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    spec = np.abs(np.fft.rfft(frames * hann, 512))
    mel = lambda f: 1127.0 * np.log(1 + f / 700.0)  # noqa: E731
    bins = mel(np.arange(257) * 8000 / 256)
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    weights = np.zeros((257, 64))
    for b in range(64):
        lo, c, hi = edges[b : b + 3]
        for k in range(1, 257):
            weights[k, b] = max(0.0, min((bins[k] - lo) / (c - lo), (hi - bins[k]) / (hi - c)))
    logmel = np.log(spec @ weights + 0.01)
    e = len(logmel) // 96
    return logmel[: e * 96].reshape(e, 96, 64)


def test_vggish_examples_match_numpy():
    wave = np.random.default_rng(4).normal(0, 0.2, 16000 * 3)
    got = V.log_mel_examples(wave).numpy()[:, 0]
    want = np_vggish_examples(wave)
    assert got.shape == want.shape == (3, 96, 64)
    np.testing.assert_allclose(got, want, atol=1e-4)
