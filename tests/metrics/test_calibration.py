"""The weight-free alignment metrics on the av-sync native suite, against injected faults."""

import json

import numpy as np
import pytest

from ccl_bench.evaluate import evaluate
from ccl_bench.suites import build_suite, load_suite

OFFSETS_MS = [0, 40, 80, 160, 320, 640]
NUM = 10  # two clips of each family


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    spec = load_suite("av-sync")
    root = tmp_path_factory.mktemp("calibration")
    out = {}
    builds = {f"offset={ms}": {"kind": "offset", "seconds": ms / 1000} for ms in OFFSETS_MS[1:]}
    builds.update({"aligned": None, "swap": {"kind": "swap"}})
    for name, perturbation in builds.items():
        d = root / name
        build_suite(spec, d, split="test", rendering="native", num=NUM, seed=0, perturbation=perturbation,
                    show_progress=False)
        out[name] = evaluate(d, metrics=["event-sync", "event-hit", "sync-offset", "av-align"], cache_dir=root / "cache",
                             bootstrap=50, show_progress=False)["metrics"]
    out["offset=0"] = out["aligned"]
    return out


def test_event_sync_grows_with_the_offset(results):
    values = [results[f"offset={ms}"]["event-sync"]["value"] for ms in OFFSETS_MS]
    assert values[0] < 20  # aligned clips: events within a frame
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values
    assert results["swap"]["event-sync"]["value"] > values[0]


def test_cross_correlation_recovers_each_offset(results):
    for ms in OFFSETS_MS:
        found = results[f"offset={ms}"]["sync-offset"]["value"]
        assert abs(found - ms) <= 20, (ms, found)


def test_hits_and_av_align_fall_when_sound_and_picture_part(results):
    hit = {ms: results[f"offset={ms}"]["event-hit"]["value"] for ms in OFFSETS_MS}
    assert hit[0] > 0.9 and hit[160] < 0.2 and hit[640] < 0.2
    align = {ms: results[f"offset={ms}"]["av-align"]["value"] for ms in OFFSETS_MS}
    assert align[0] > align[80] and align[0] > align[320] and align[0] > align[640], align
    assert results["swap"]["av-align"]["value"] < align[0]
    assert results["swap"]["event-hit"]["value"] < hit[0]


def test_every_value_has_an_interval_and_a_protocol(results):
    for m in results["aligned"].values():
        lo, hi = m["ci95"]
        assert np.isfinite([lo, hi]).all()
        assert lo - 1e-9 <= m["value"] <= hi + 1e-9, (m["protocol"]["metric"], lo, m["value"], hi)
        assert m["interval"]["used"] >= 0.9 * m["interval"]["replicates"]  # the interval rests on the replicates drawn
        assert m["protocol"]["name"] in ("ccl-event-sync-v1", "av-align-tempotokens")
        json.dumps(m)
