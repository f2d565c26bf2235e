"""Prompt accuracy and the Frechet distance of the suite-native features, on hand-made per-clip results."""

import numpy as np

from ccl_bench.features.avsync_labels import CLASSES, clip_labels
from ccl_bench.metrics import METRICS, Context
from ccl_bench.metrics.score import metric_entry


def result(family: str, colour: str = "red", pitch: str = "low", features=(0.0, 0.0)) -> dict:
    return {"features": np.array([features], float), "pred_family": np.array([CLASSES["family"].index(family)]),
            "pred_colour": np.array([CLASSES["colour"].index(colour)]), "pred_pitch": np.array([CLASSES["pitch"].index(pitch)]),
            "pred_count": np.array([1])}


LABELS = [clip_labels("bouncing-ball", "a red ball bounces on the floor with a thud at each impact"),
          clip_labels("flash-beep", "a blue light flashes with a high beep"),
          clip_labels("multi-object", "3 bars, red, green, blue, each rings with its own pitch when struck"),
          None]  # a clip without prompt labels is not scored


def value(name, pred, labels):
    return METRICS[name].value(pred, None, Context(prompt_labels=labels))


def test_video_checks_family_and_the_captions_colour_audio_family_and_pitch():
    pred = [result("bouncing-ball", "red"), result("flash-beep", "red", "high"), result("multi-object", "white"),
            result("flash-beep")]
    assert value("prompt-accuracy-video", pred, LABELS) == 2 / 3  # wrong colour; multi-object states no single colour
    assert value("prompt-accuracy-audio", pred, LABELS) == 1.0  # pitch only where the caption states one
    pred[1] = result("flash-beep", "blue", "low")
    assert value("prompt-accuracy-video", pred, LABELS) == 1.0
    assert value("prompt-accuracy-audio", pred, LABELS) == 2 / 3
    pred[0] = result("flash-beep", "red")
    assert value("prompt-accuracy-video", pred, LABELS) == 2 / 3  # wrong family
    assert value("prompt-accuracy-video", pred, None) is None  # no captions: no value


def test_entry_has_an_interval_and_a_reason_when_no_clip_has_labels():
    pred = [result("bouncing-ball", "red"), result("flash-beep", "blue", "low"), result("multi-object")] * 4
    e = metric_entry(METRICS["prompt-accuracy-audio"], pred, None, Context(prompt_labels=LABELS[:3] * 4), bootstrap=50)
    assert e["value"] == 2 / 3 and e["ci95"][0] <= 2 / 3 <= e["ci95"][1] and e["ci95"][0] < e["ci95"][1]
    e = metric_entry(METRICS["prompt-accuracy-audio"], pred, None, Context(), bootstrap=50)
    assert e["status"] == "unavailable" and "prompt labels" in e["reason"]


def test_frechet_uses_its_own_divisor_whatever_the_fvd_preset():
    rng = np.random.default_rng(0)
    p = [result("flash-beep", features=rng.normal(size=2)) for _ in range(20)]
    r = [result("flash-beep", features=rng.normal(1.0, 1.0, size=2)) for _ in range(20)]
    m = METRICS["avsync-fvd"]
    assert m.value(p, r, Context(covariance_ddof=0)) == m.value(p, r, Context(covariance_ddof=1)) > 1.0
    assert m.value(p, p, Context()) < 1e-9 and m.value(p[:1], r, Context()) is None
    assert "(N - 1)" in m.protocol("avsync-video", {}, Context(covariance_ddof=0))["statistics"]
