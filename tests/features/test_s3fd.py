"""S3FD (syncnet_python's face detector): the `sfd_face.pth` layout, random weights loading through the
weights manager, and the anchors, box decoding and suppression equal independent renditions."""

import json

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import s3fd as D


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_layout_is_sfd_face():
    with torch.device("meta"):
        sd = D.S3FD().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33]
    assert sorted({int(k.split(".")[1]) for k in shapes if k.startswith("vgg.")}) == convs
    assert shapes["vgg.31.weight"] == (1024, 512, 3, 3) and shapes["vgg.33.weight"] == (1024, 1024, 1, 1)
    assert shapes["L2Norm3_3.weight"] == (256,) and shapes["L2Norm5_3.weight"] == (512,)
    assert shapes["conf.0.weight"] == (4, 256, 3, 3) and shapes["conf.3.weight"] == (2, 1024, 3, 3)
    assert shapes["loc.5.weight"] == (4, 256, 3, 3) and shapes["extras.3.weight"] == (256, 128, 3, 3)
    assert len(shapes) == 2 * 15 + 3 + 2 * 4 + 2 * 12


def anchors_rendition(h, w, shapes):
    out = []
    for (fh, fw), step, size in zip(shapes, (4, 8, 16, 32, 64, 128), (16, 32, 64, 128, 256, 512), strict=True):
        for i in range(fh):
            for j in range(fw):
                out.append([(j + 0.5) / (w / step), (i + 0.5) / (h / step), size / w, size / h])
    return np.array(out)


def nms_rendition(boxes, scores, thresh):
    """Pairwise IoU matrix, then walk the boxes by falling score, keeping one unless a kept box overlaps it."""
    x1, y1, x2, y2 = boxes.T
    iw = np.clip(np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]), 0, None)
    area = (x2 - x1) * (y2 - y1)
    iou = iw * ih / (area[:, None] + area[None] - iw * ih)
    kept = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou[i, k] <= thresh for k in kept):
            kept.append(i)
    return kept


def test_anchors_decoding_and_suppression_equal_renditions():
    shapes = [(10, 12), (5, 6), (3, 3), (2, 2), (1, 1), (1, 1)]
    np.testing.assert_allclose(D.anchors(40, 48, shapes).numpy(), anchors_rendition(40, 48, shapes), rtol=1e-6)
    rng = np.random.default_rng(0)
    pri = torch.tensor([[0.5, 0.5, 0.2, 0.4]])
    loc = torch.tensor([[1.0, -2.0, 0.5, 0.0]])
    cx, cy = 0.5 + 0.1 * 1.0 * 0.2, 0.5 - 0.1 * 2.0 * 0.4
    bw, bh = 0.2 * np.exp(0.2 * 0.5), 0.4
    np.testing.assert_allclose(D.decode(loc, pri).numpy()[0], [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], rtol=1e-6)
    xy = rng.uniform(0, 50, (60, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (60, 2))], 1)
    scores = rng.uniform(0, 1, 60)
    for t in (0.1, 0.3, 0.5):
        assert D.greedy_nms(boxes, scores, t).tolist() == nms_rendition(boxes, scores, t)


def test_random_weights_load_through_the_manager_and_detect(wdir):
    torch.manual_seed(0)
    model = D.S3FD().eval()
    wdir.mkdir(parents=True)
    torch.save(model.state_dict(), wdir / "sfd_face.pth")
    state, sha = W.load_state_dict("s3fd", wdir)
    assert json.loads((wdir / W.RECORD).read_text())["sfd_face.pth"] == sha  # recorded on first use
    loaded = W.load_into(D.S3FD(), state, "s3fd").eval()
    frame = np.random.default_rng(2).integers(0, 256, (320, 400, 3), dtype=np.uint8)
    x = D.preprocess(frame)
    assert x.shape == (1, 3, 80, 100)
    import cv2

    small = cv2.resize(frame, (100, 80), interpolation=cv2.INTER_LINEAR).astype(np.float32)  # RGB kept, as the pipeline
    np.testing.assert_array_equal(x[0].permute(1, 2, 0).numpy(), small - np.array([123, 117, 104], np.float32))
    with torch.no_grad():
        loc, face = loaded(x)
    assert loc.shape[1] == face.shape[1] == len(D.anchors(80, 100, loaded.feature_shapes))
    th = float(np.quantile(face.numpy(), 0.8))  # random weights: a threshold many boxes pass
    got = D.detect(loaded, frame, conf_th=th)
    boxes = D.decode(loc[0], D.anchors(80, 100, loaded.feature_shapes)).numpy().astype(np.float64)
    sc = face[0].numpy().astype(np.float64)
    cand = np.nonzero(sc > 0.05)[0]
    first = cand[nms_rendition(boxes[cand], sc[cand], 0.3)][:750]
    first = first[sc[first] > th]
    full = boxes[first] * [400, 320, 400, 320]
    want = full[nms_rendition(full, sc[first], 0.1)]
    assert len(want) > 5
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with (wdir / "sfd_face.pth").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        W.verify("s3fd", wdir)
