"""Prompt accuracy and the Frechet distance of the suite-native features, on hand-made per-clip results."""

import numpy as np

from ccl_bench.features.avsync_labels import CLASSES, clip_labels
from ccl_bench.metrics import METRICS, Context, Subset
from ccl_bench.metrics.avsync_features import frechet, prompt_hits


def result(family: str, colour: str = "red", pitch: str = "low") -> dict:
    return {"features": np.zeros((1, 4)), "pred_family": np.array([CLASSES["family"].index(family)]),
            "pred_colour": np.array([CLASSES["colour"].index(colour)]), "pred_pitch": np.array([CLASSES["pitch"].index(pitch)]),
            "pred_count": np.array([1])}


LABELS = [clip_labels("bouncing-ball", "a red ball bounces on the floor with a thud at each impact"),
          clip_labels("flash-beep", "a blue light flashes with a high beep"),
          clip_labels("multi-object", "3 bars, red, green, blue, each rings with its own pitch when struck"),
          None]  # a clip without caption labels is not scored


def test_video_checks_family_and_the_captions_colour_audio_family_and_pitch():
    pred = [result("bouncing-ball", "red"), result("flash-beep", "red", "high"), result("multi-object", "white"),
            result("flash-beep")]
    np.testing.assert_array_equal(prompt_hits(pred, LABELS, "video"), [1, 0, 1])  # wrong colour; no single colour
    np.testing.assert_array_equal(prompt_hits(pred, LABELS, "audio"), [1, 1, 1])  # pitch only where stated
    pred[1] = result("flash-beep", "blue", "low")
    np.testing.assert_array_equal(prompt_hits(pred, LABELS, "video"), [1, 1, 1])
    np.testing.assert_array_equal(prompt_hits(pred, LABELS, "audio"), [1, 0, 1])
    ctx = Context(prompt_labels=LABELS)
    assert METRICS["prompt-accuracy-audio"].value(pred, None, ctx) == 2 / 3
    assert METRICS["prompt-accuracy-video"].value(pred, None, Context()) is None  # no captions: unavailable
    # A bootstrap replicate reads the labels of the clips it drew.
    assert METRICS["prompt-accuracy-audio"].value(Subset([pred[1], pred[1]], [1, 1]), None, ctx) == 0.0


def test_frechet_uses_its_own_divisor_whatever_the_fvd_preset():
    rng = np.random.default_rng(0)
    p = [{"features": rng.normal(size=(1, 3))} for _ in range(20)]
    r = [{"features": rng.normal(1.0, 1.0, size=(1, 3))} for _ in range(20)]
    assert frechet(p, r, Context(covariance_ddof=0)) == frechet(p, r, Context(covariance_ddof=1)) > 1.0
    assert frechet(p, p, Context()) < 1e-9 and frechet(p[:1], r, Context()) is None
