"""Which clips' listed events stand in for detection: only a generated clip's conditioning stream. A
suite clip, perturbed or not, is detected on both streams, so every rung of the calibration ladder
measures the same thing."""

import numpy as np

from ccl_bench.io.clipset import load_clipset
from ccl_bench.runner.pseudo import generate_pseudo
from ccl_bench.scoring import context_for
from ccl_bench.suites import build_suite, load_suite


def test_only_a_conditioning_stream_is_known(tmp_path):
    spec = load_suite("av-sync")
    for name, pert in (("aligned", None), ("offset", {"kind": "offset", "seconds": -0.04}), ("freeze", {"kind": "freeze"}),
                       ("swap", {"kind": "swap"})):
        build_suite(spec, tmp_path / name, split="test", rendering="tiny", num=2, seed=0, perturbation=pert,
                    show_progress=False)
        items = load_clipset(tmp_path / name).items
        ctx = context_for(items, 1)
        assert all(e is not None for e in (i.events for i in items))  # the manifest's events are read
        assert ctx.gt_visual == [None, None] and ctx.gt_audio == [None, None], name
    for task, stream in (("v2a", "video"), ("a2v", "audio")):
        generate_pseudo("ceiling", "av-sync", task, 2, tmp_path / task, reference=tmp_path / "aligned")
        items = load_clipset(tmp_path / task).items
        ctx = context_for(items, 1)
        known, other = (ctx.gt_visual, ctx.gt_audio) if stream == "video" else (ctx.gt_audio, ctx.gt_visual)
        assert other == [None, None], task
        for i, k in zip(items, known, strict=True):
            np.testing.assert_array_equal(k, i.events)
