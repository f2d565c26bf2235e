"""The pseudo-models that frame a table: `ceiling` (the suite's clips through the codecs) scores what a
perfect model could, `floor` (noise clips) scores chance, and the suite-native FD tells them apart."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from ccl_bench.evaluate import load_clipset
from ccl_bench.features.avsync_labels import PROMPT_LABELS, clip_labels
from ccl_bench.runner.pseudo import generate_pseudo
from ccl_bench.runner.run import run
from ccl_bench.suites import load_suite

NUM = 20


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """`run` of both pseudo-models on the av-sync suite, its metrics narrowed to the suite-native ones
    (a copy of the suite's YAML), so the test stays quick; `test_run.py` runs every metric."""
    import yaml

    out = tmp_path_factory.mktemp("pseudo")
    raw = yaml.safe_load(Path(load_suite("av-sync").path).read_text())
    raw["metrics"] = ["avsync-fvd", "avsync-fad", "prompt-accuracy-video", "prompt-accuracy-audio"]
    suite = out / "av-sync.yaml"
    suite.write_text(yaml.safe_dump(raw))
    res = {m: run(m, str(suite), out=out, num_samples=NUM, bootstrap=10, device="cpu", show_progress=False,
                  cache_dir=out / "cache") for m in ("ceiling", "floor")}
    return out, {m: r["tasks"]["t2av"]["metrics"] for m, r in res.items()}


def chance(folder, modality: str) -> float:
    """Expected prompt accuracy of guessing uniformly: 1/5 per family, times 1/8 per stated colour or 1/2 per pitch."""
    p = []
    for item in load_clipset(folder).items:
        lab = clip_labels(item.label, item.text.get("caption"))
        extra = {"colour": 1 / 8, "pitch": 1 / 2}
        p.append(np.prod([1 / 5] + [extra[h] for h in PROMPT_LABELS[modality][1:] if lab[h] is not None]))
    return float(np.mean(p))


def test_ceiling_scores_the_prompts_and_floor_scores_chance(rows):
    out, m = rows
    for modality in ("video", "audio"):
        name = f"prompt-accuracy-{modality}"
        assert m["ceiling"][name]["value"] >= 0.9, name
        # Per family, each clip is judged by its own prompt (the labels follow the clips into each subset).
        assert all(f["value"] >= 0.75 for f in m["ceiling"][name]["per_family"].values()), name
        # Floor: not above chance (one-sided binomial test at 1%).
        p = chance(out / "av-sync" / "clips" / "floor" / "t2av", modality)
        assert m["floor"][name]["value"] * NUM <= binom.ppf(0.99, NUM, p), (name, m["floor"][name]["value"], p)


def test_suite_native_fd_of_the_ceiling_is_a_small_fraction_of_the_floors(rows):
    _, m = rows
    # The pixel codec is lossless; the log-mel codec's Griffin-Lim phase moves the audio features a little
    # (ceiling / floor about 0.011 for avsync-fad on these 20 clips, against 0 for avsync-fvd; 0.14 when the
    # decoder ran Griffin-Lim at the latent's barely overlapping hop).
    for name, share in (("avsync-fvd", 0.1), ("avsync-fad", 0.05)):
        assert m["ceiling"][name]["value"] < share * m["floor"][name]["value"], name
        assert m["ceiling"][name]["protocol"]["name"] == "ccl-avsync-features-v1"


def test_pseudo_rows_carry_what_they_are(rows):
    out, _ = rows
    res = json.loads((out / "av-sync" / "floor.json").read_text())
    assert "noise" in res["provenance"]["pseudo_model"] and "checkpoint_sha256" not in res["provenance"]
    assert res["tasks"]["t2av"]["generation"]["nfe_per_clip"] == 0


def test_floor_is_deterministic_by_seed_and_keeps_a_conditioning_stream(tmp_path):
    a = generate_pseudo("floor", "av-sync", "v2a", 2, tmp_path / "a", seed=3)
    generate_pseudo("floor", "av-sync", "v2a", 2, tmp_path / "b", seed=3)
    generate_pseudo("floor", "av-sync", "v2a", 2, tmp_path / "c", seed=4)
    generate_pseudo("ceiling", "av-sync", "v2a", 2, tmp_path / "ref", seed=3)
    from ccl_bench.io import read_clip

    def clip(d, i=0):
        return read_clip(tmp_path / d / a["clips"][i]["video"])

    np.testing.assert_array_equal(clip("a").audio, clip("b").audio)
    assert not np.array_equal(clip("a").audio, clip("c").audio)
    np.testing.assert_array_equal(clip("a").video, clip("ref").video)  # V2A keeps the suite's video
    assert a["clips"][0]["condition"] == {"modality": "video", "source": a["clips"][0]["id"]}
