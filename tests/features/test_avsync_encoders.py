"""Suite-native encoders (ccl-avsync-features-v1): labels from captions, shipped weights pinned by
checksum (a tampered copy refused), preprocessing of any clip, deterministic training, the held-out
accuracy record."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import AVSyncEncoderFeatures
from ccl_bench.features import avsync_encoders as E
from ccl_bench.io import AVClip
from ccl_bench.runner import avsync_training as T
from ccl_bench.suites import Rendering, generate_scene, load_suite, render_scene
from ccl_bench.suites.av_sync import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "results" / "features" / "avsync-encoders.json"


@pytest.fixture(scope="module")
def spec():
    return load_suite("av-sync")


def test_labels_read_from_captions_agree_with_the_scene_parameters(spec):
    for index in range(40):
        scene = generate_scene(spec, "train", index, 0, 2.0)
        lab = E.clip_labels(scene.label, scene.caption, [e.to_json() for e in scene.events])
        assert E.CLASSES["family"][lab["family"]] == scene.family
        colour = scene.params.get("color")
        assert (lab["colour"] is None) == (colour is None), scene.caption  # multi-object names several: masked
        if colour is not None:
            assert E.CLASSES["colour"][lab["colour"]] == colour
        if scene.family == "flash-beep":
            assert E.CLASSES["pitch"][lab["pitch"]] == ("high" if scene.params["beep_hz"] > 1200 else "low")
        else:
            assert lab["pitch"] is None
        assert lab["count"] == min(len(scene.events), 4)


@pytest.mark.parametrize("modality", ["video", "audio"])
def test_shipped_encoders_load_through_the_weights_manager_with_their_pinned_checksum(modality, monkeypatch, tmp_path):
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path))  # an empty weights folder: the shipped file is used
    name = E.WEIGHTS[modality]
    path, digest, how = W.verify(name)
    assert path == W.SHIPPED_DIR / W.lookup(name).filename and "pinned" in how
    assert digest == W.lookup(name).sha256 == W.sha256_of(path)
    a = AVSyncEncoderFeatures(modality)
    assert a.cache_id.startswith(f"avsync-{modality}-") and a.protocol["weights_sha256"] == digest
    assert path.stat().st_size < 4_000_000 and E.count_params(a._model) < 2_000_000


def test_a_tampered_copy_of_the_weights_is_refused(tmp_path):
    name = E.WEIGHTS["video"]
    copy = tmp_path / W.lookup(name).filename
    shutil.copy(W.SHIPPED_DIR / copy.name, copy)
    assert E.load_encoder("video", tmp_path)[1] == W.lookup(name).sha256  # an exact copy is fine, and preferred
    data = bytearray(copy.read_bytes())
    data[-3] ^= 0x01  # one bit of one weight
    copy.write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match="differs from the pinned"):
        E.load_encoder("video", tmp_path)
    with pytest.raises(W.WeightsError, match="differs from the pinned"):
        _ = AVSyncEncoderFeatures("video", weights_dir=tmp_path).cache_id


def test_the_record_holds_test_split_accuracy_of_the_shipped_weights():
    rec = json.loads(RECORD.read_text())
    assert rec["protocol"] == E.PROTOCOL and rec["provenance"]["commit"] and rec["command"]
    for modality in ("video", "audio"):
        enc = rec["encoders"][modality]
        assert enc["sha256"] == W.lookup(E.WEIGHTS[modality]).sha256  # the record is of the shipped file
        assert enc["test"]["clean"]["family"]["accuracy"] >= 0.95 and enc["test"]["clean"]["family"]["clips"] >= 100
    assert rec["encoders"]["video"]["test"]["clean"]["colour"]["accuracy"] >= 0.9
    assert rec["encoders"]["audio"]["test"]["clean"]["pitch"]["accuracy"] >= 0.9


def test_the_tiny_rendering_passes_unchanged_and_other_renderings_are_resampled(spec):
    scene = generate_scene(spec, "test", 1, 0, 2.0)
    tiny = render_scene(spec, scene, spec.rendering("tiny"))
    x, conv = E.video_input(tiny.video, tiny.fps)
    assert conv == [] and x.shape == (1, 3, 32, 32, 32)
    torch.testing.assert_close(x, E.video_batch(torch.from_numpy(tiny.video)[None]))
    big = render_scene(spec, scene, Rendering("t", 96, 64, 25.0, 22050, 1, 4.5))
    x, conv = E.video_input(big.video, big.fps)
    assert x.shape == (2, 3, 32, 32, 32) and any("25 -> 16 fps" in c for c in conv) and any("96x64" in c for c in conv)
    wave, conv = E.audio_input(np.zeros(RATE_SHORT := 8000, np.float32))
    assert wave.shape == (1, E.SAMPLES) and "zero-padded" in conv[0] and RATE_SHORT < E.SAMPLES


def test_each_family_is_recognised_at_another_rendering(spec):
    """96 x 96 at 25 fps and 22.05 kHz, 4 s (two windows): what the encoders never saw in training."""
    rend = Rendering("other", 96, 96, 25.0, 22050, 1, 4.0)
    v, a = AVSyncEncoderFeatures("video"), AVSyncEncoderFeatures("audio")
    right_v = right_a = 0
    for index in range(len(FAMILIES)):
        clip = render_scene(spec, generate_scene(spec, "test", index, 0, rend.duration), rend)
        want = E.CLASSES["family"].index(clip.metadata["label"])
        got_v, _ = v.compute(clip)
        got_a, conv = a.compute(clip)
        assert got_v["features"].shape == (1, E.EMBED) and any("22050 -> 16000" in c for c in conv)
        right_v += int(got_v["pred_family"][0] == want)
        right_a += int(got_a["pred_family"][0] == want)
    assert right_v >= 4 and right_a >= 4


def test_training_is_deterministic_by_seed(spec):
    from ccl_bench.runner.data import render_split

    _, audio, metas = render_split(spec, "train", "tiny", 16, 0, show_progress=False)
    labels = T.label_tensor(metas, E.HEADS["audio"])
    inputs = {"audio": audio, "codec": audio}

    def weights(seed):
        model, log = T.train_encoder("audio", inputs, labels, epochs=1, batch=8, seed=seed, log=lambda s: None)
        assert log.steps == 2 and np.isfinite(log.last_loss)
        return model.state_dict()

    a, b, c = weights(0), weights(0), weights(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_augmentations_keep_shapes_and_ranges_and_change_the_input():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32, 32) * 2 - 1
    y = T.augment_video(x, g)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1 and not torch.equal(x, y)
    w = torch.rand(6, E.SAMPLES) - 0.5
    z = T.augment_audio(w, w, g)
    assert z.shape == w.shape and z.abs().max() <= 1 and not torch.equal(w, z)


def test_analysis_reads_any_clip_length():
    a = AVSyncEncoderFeatures("audio")
    out, conv = a.compute(AVClip(np.zeros((3, 8, 8, 3), np.uint8), 16.0, np.zeros((1, 4000), np.float32), 16000))
    assert out["features"].shape == (1, E.EMBED) and out["pred_pitch"].shape == (1,) and "zero-padded" in conv[0]
