"""SyncNet (Sync-C / Sync-D): the published `S` layout, random weights saved as a plain state dict load
through the weights manager (checksum recorded on first use, a changed file refused), the MFCC, the face
tracks and the crops equal independent renditions of syncnet_python's constants, the offset search equals
a window-by-window rendition, and clips without a long enough face track are unavailable with the reason."""

import json
import math

import cv2
import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import syncnet as S
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context
from tests.features.norms import randomise_norm_statistics

NARROW = {"lip": (4, 8, 16), "aud": (4, 8, 8, 8, 8, 16), "embed": 32}  # fast tests of the same code


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layout_is_syncnet_v2():
    with torch.device("meta"):
        sd = S.SyncNet().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    # 6 conv + BN stages per stream (conv: weight, bias; BN: 5 entries), 2 linear + 1 BN per head
    assert len(shapes) == 2 * 6 * (2 + 5) + 2 * (2 + 5 + 2)
    assert shapes["netcnnlip.0.weight"] == (96, 3, 5, 7, 7) and shapes["netcnnlip.18.weight"] == (512, 256, 1, 6, 6)
    assert shapes["netcnnaud.0.weight"] == (64, 1, 3, 3) and shapes["netcnnaud.18.weight"] == (512, 256, 5, 4)
    assert shapes["netcnnaud.11.weight"] == (256, 384, 3, 3) and shapes["netcnnlip.14.weight"] == (256, 256, 1, 3, 3)
    assert shapes["netfcaud.3.weight"] == (1024, 512) and shapes["netfclip.1.running_var"] == (512,)
    m = S.SyncNet().eval()
    assert m.forward_aud(torch.zeros(2, 1, 13, 20)).shape == (2, 1024)


# ---- MFCC ------------------------------------------------------------------------------------------

def mfcc_rendition(x):
    """python_speech_features.mfcc(x, 16000) defaults written out: 400-sample rectangular frames every 160
    (last one zero-padded), pre-emphasis 0.97, |FFT_512|^2 / 512, 26 triangles, log, DCT-II (ortho) by
    scipy, 13 coefficients, lifter 22, c0 <- log energy."""
    x = np.asarray(x, float)
    y = np.concatenate([[x[0]], x[1:] - 0.97 * x[:-1]])
    n = 1 if len(y) <= 400 else 1 + int(math.ceil((len(y) - 400) / 160))
    y = np.concatenate([y, np.zeros((n - 1) * 160 + 400 - len(y))])
    frames = np.lib.stride_tricks.sliding_window_view(y, 400)[::160][:n]
    pspec = np.abs(np.fft.rfft(frames, 512)) ** 2 / 512
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    pts = np.floor(513 * imel(np.linspace(mel(0), mel(8000), 28)) / 16000).astype(int)
    fb = np.zeros((26, 257))
    for j in range(26):
        for i in range(257):
            if pts[j] <= i < pts[j + 1]:
                fb[j, i] = (i - pts[j]) / (pts[j + 1] - pts[j])
            elif pts[j + 1] <= i < pts[j + 2]:
                fb[j, i] = (pts[j + 2] - i) / (pts[j + 2] - pts[j + 1])
    from scipy.fft import dct

    feat = np.log(np.maximum(pspec @ fb.T, np.finfo(float).eps))
    cep = dct(feat, type=2, axis=1, norm="ortho")[:, :13] * (1 + 11 * np.sin(np.pi * np.arange(13) / 22))
    cep[:, 0] = np.log(np.maximum(pspec.sum(1), np.finfo(float).eps))
    return cep.T


def test_mfcc_equals_an_independent_rendition():
    rng = np.random.default_rng(0)
    audio = S.pcm16(np.sin(2 * np.pi * 220 * np.arange(16000) / 16000) * 0.3 + rng.normal(0, 0.05, 16000))
    assert np.all(audio == np.round(audio)) and audio.max() <= 32767
    got = S.mfcc(audio)
    assert got.shape == (13, 1 + math.ceil((16000 - 400) / 160))  # 100 per second: 4 per 25 fps frame
    np.testing.assert_allclose(got, mfcc_rendition(audio), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(S.mfcc(audio[:300]), mfcc_rendition(audio[:300]), rtol=1e-9, atol=1e-8)


# ---- faces -----------------------------------------------------------------------------------------

def box(x, y, side):
    return np.array([[x, y, x + side, y + side]], float)


def test_tracks_join_interpolate_and_apply_min_track_and_face_size():
    none = np.zeros((0, 4))
    dets = [box(20 + 0.2 * f, 10, 110) if not 40 <= f < 50 else none for f in range(130)]  # 120 detections, a gap
    dets = [np.concatenate([d, box(150, 150, 30)]) if f < 120 else d for f, d in enumerate(dets)]  # a small face too
    tracks = S.face_tracks(dets)
    assert len(tracks) == 1  # the 120-detection small face fails min_face_size
    t = tracks[0]
    np.testing.assert_array_equal(t.frames, np.arange(130))
    np.testing.assert_allclose(t.boxes[45], [20 + 0.2 * 45, 10, 130 + 0.2 * 45, 120])  # interpolated in the gap
    # a detection more than 25 frames after the last one starts a new track (and 100 detections are too few)
    far = [box(20, 10, 110) if f < 60 or f >= 90 else none for f in range(190)]
    kept = S.face_tracks(far)
    assert [(int(k.frames[0]), int(k.frames[-1])) for k in kept] == [(90, 189)] or kept == []
    assert S.face_tracks(far, min_track=50)[0].frames[-1] == 59
    assert S.face_tracks([box(0, 0, 110)] * 100) == [] and len(S.face_tracks([box(0, 0, 110)] * 101)) == 1
    # a box that moves away (IoU <= 0.5) is not joined
    jump = [box(0, 0, 110) if f < 60 else box(300, 0, 110) for f in range(200)]
    assert [len(k.frames) for k in S.face_tracks(jump, min_track=50)] == [60, 140]


def crop_rendition(frame_rgb, s, cy, cx):
    """The crop by coordinates of the unpadded frame: rows cy - s .. cy + 1.8 s, columns cx -+ 1.4 s, value
    110 outside the frame, then OpenCV's bilinear resize to 224 (BGR)."""
    pad = int(s * 1.8)
    r0, r1 = int(cy + pad - s) - pad, int(cy + pad + 1.8 * s) - pad
    c0, c1 = int(cx + pad - 1.4 * s) - pad, int(cx + pad + 1.4 * s) - pad
    h, w = frame_rgb.shape[:2]
    out = np.full((r1 - r0, c1 - c0, 3), 110, np.uint8)
    rr, cc = np.arange(r0, r1), np.arange(c0, c1)
    inside = ((rr >= 0) & (rr < h))[:, None] & ((cc >= 0) & (cc < w))[None]
    ri, ci = np.nonzero(inside)
    out[ri, ci] = frame_rgb[rr[ri], cc[ci]][:, ::-1]
    return cv2.resize(out, (224, 224))


def test_crops_equal_an_independent_rendition():
    rng = np.random.default_rng(1)
    video = rng.integers(0, 256, (30, 160, 200, 3), dtype=np.uint8)
    boxes = np.stack([[40 + f, 30, 150 + f, 140 + (f % 3)] for f in range(30)]).astype(float)
    crops = S.crop_track(video, S.FaceTrack(np.arange(30), boxes))
    assert crops.shape == (30, 224, 224, 3) and crops.dtype == np.uint8
    from scipy.signal import medfilt

    side = medfilt(np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2, 13)
    cy, cx = medfilt((boxes[:, 1] + boxes[:, 3]) / 2, 13), medfilt((boxes[:, 0] + boxes[:, 2]) / 2, 13)
    for f in (0, 3, 15, 29):  # the ends see the zero-padded median filter
        np.testing.assert_array_equal(crops[f], crop_rendition(video[f], side[f], cy[f], cx[f]))


# ---- end to end ------------------------------------------------------------------------------------

def save_syncnet(folder, seed=0):
    torch.manual_seed(seed)
    model = S.SyncNet(**NARROW)
    randomise_norm_statistics(model)
    folder.mkdir(parents=True, exist_ok=True)
    # the official file predates PyTorch's zip format: save in the legacy one, which weights_only loading reads too
    torch.save(model.state_dict(), folder / "syncnet_v2.model", _use_new_zipfile_serialization=False)
    return model.eval()


def talking_clip(frames=110, seed=0):
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 256, (frames, 150, 150, 3), dtype=np.uint8)
    audio = rng.normal(0, 0.1, (1, frames * 640)).astype(np.float32)
    return AVClip(video, 25, audio, 16000)


def fixed_face(frame):
    return box(20, 15, 105)


def offsets_rendition(model, crops_bgr, pcm):
    """syncnet_python's evaluate, window by window: calc_pdist, mean over windows, min / median."""
    cc = torch.from_numpy(S.mfcc(pcm)).float()
    x = torch.from_numpy(crops_bgr).float().permute(3, 0, 1, 2)
    last = min(len(crops_bgr), len(pcm) // 640) - 5
    with torch.no_grad():  # one batch of the windows, each sliced on its own
        ve = model.forward_lip(torch.stack([x[:, i : i + 5] for i in range(last)]))
        ae = model.forward_aud(torch.stack([cc[None, :, 4 * i : 4 * i + 20] for i in range(last)]))
    padded = torch.cat([torch.zeros(15, ae.shape[1]), ae, torch.zeros(15, ae.shape[1])])
    dists = [torch.nn.functional.pairwise_distance(ve[[i]].repeat(31, 1), padded[i : i + 31]) for i in range(last)]
    mdist = torch.stack(dists, 1).mean(1)
    lo, arg = torch.min(mdist, 0)
    return float(torch.median(mdist) - lo), float(lo), int(15 - arg)


def test_random_weights_load_record_score_and_a_changed_file_is_refused(wdir):
    model = save_syncnet(wdir)
    feats = S.SyncNetFeatures(wdir, detector=fixed_face, widths=NARROW)
    clip = talking_clip()
    got, conv = feats.compute(clip)
    assert json.loads((wdir / W.RECORD).read_text())["syncnet_v2.model"] == W.sha256_of(wdir / "syncnet_v2.model")
    assert conv == [] and got["frames"].tolist() == [110.0]
    track = S.face_tracks([fixed_face(f) for f in clip.video])[0]
    conf, dist, off = offsets_rendition(model, S.crop_track(clip.video, track), S.pcm16(clip.audio[0]))
    assert got["confidence"][0] == pytest.approx(conf, rel=1e-4, abs=1e-5)
    assert got["distance"][0] == pytest.approx(dist, rel=1e-4) and got["offset"][0] == off
    assert got["confidence"][0] > 0  # median above the minimum on random weights
    ctx = Context()
    empty = {k: np.zeros(0) for k in got}
    assert METRICS["sync-c"].value([got, empty], None, ctx) == pytest.approx(got["confidence"][0])
    assert METRICS["sync-d"].value([got], None, ctx) == pytest.approx(got["distance"][0])
    assert METRICS["sync-c"].value([empty], None, ctx) is None and "100 frames" in METRICS["sync-c"].unavailable
    save_syncnet(wdir, seed=1)  # another file in its place
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        S.SyncNetFeatures(wdir, detector=fixed_face, widths=NARROW).load()


def test_short_and_faceless_clips_are_unavailable_with_the_reason(wdir):
    save_syncnet(wdir)
    feats = S.SyncNetFeatures(wdir, detector=fixed_face, widths=NARROW)
    got, conv = feats.compute(talking_clip(frames=100))
    assert got["confidence"].shape == (0,) and "100 frames at 25 fps: a face track needs more than 100" in conv[-1]
    blind = S.SyncNetFeatures(wdir, detector=lambda frame: np.zeros((0, 4)), widths=NARROW)
    got, conv = blind.compute(talking_clip(frames=102))
    assert got["distance"].shape == (0,) and conv[-1].startswith("no face tracked over more than 100 frames")
    small = S.SyncNetFeatures(wdir, detector=lambda frame: box(20, 20, 90), widths=NARROW)  # a face under 100 px
    assert small.compute(talking_clip(frames=102))[0]["offset"].shape == (0,)


def test_without_a_detector_both_weights_files_are_needed_and_small_frames_have_no_faces(wdir):
    save_syncnet(wdir)
    with pytest.raises(W.WeightsError, match="sfd_face.pth not found"):
        S.SyncNetFeatures(wdir, widths=NARROW).load()
    clip = talking_clip(frames=102)  # 150 x 150 frames
    small = AVClip(clip.video[:, :110], 25, clip.audio, 16000)
    got, conv = S.SyncNetFeatures(wdir, widths=NARROW).compute(small)  # answered before any weights are read
    assert got["confidence"].shape == (0,) and conv[-1].startswith("frames of 150 x 110 px: S3FD at scale 0.25 needs")


def test_eval_reports_a_clip_too_short_for_a_face_track_as_unavailable(wdir, tmp_path, monkeypatch, capsys):
    from ccl_bench.cli import main
    from ccl_bench.evaluate import evaluate
    from ccl_bench.features import BACKBONES

    main(["suite", "build", "av-sync", "--rendering", "tiny", "--num", "1", "--out", str(tmp_path / "s"), "--quiet"])
    capsys.readouterr()
    save_syncnet(wdir)
    monkeypatch.setitem(BACKBONES, "syncnet", lambda wd, dev: S.SyncNetFeatures(wd, dev, detector=fixed_face, widths=NARROW))
    res, pred, _ = evaluate(tmp_path / "s", metrics=["sync-c", "sync-d"], weights_dir=wdir, cache_dir=tmp_path / "c",
                            bootstrap=0, show_progress=False, details=True)
    for name in ("sync-c", "sync-d"):
        assert res["metrics"][name]["status"] == "unavailable" and "more than 100 frames" in res["metrics"][name]["reason"]
    notes = " ".join(pred.conversions["syncnet"])
    assert "50 frames at 25 fps: a face track needs more than 100" in notes  # 2 s at 16 fps -> 25 fps
