"""Mismatched captions (claim 4): every prompt gets another family's caption, deterministically."""

import pytest

from ccl_bench.errors import CCLBenchError
from ccl_bench.runner.data import render_split
from ccl_bench.runner.sample import prompt_caption
from ccl_bench.suites import load_suite


def test_each_prompt_gets_another_familys_caption():
    spec = load_suite("av-sync")
    _, _, metas = render_split(spec, "test", "tiny", 6, 0, show_progress=False)
    assert [prompt_caption(metas, i, "own") for i in range(6)] == [m["caption"] for m in metas]
    swapped = [prompt_caption(metas, i, "mismatched") for i in range(6)]
    family = {m["caption"]: m["label"] for m in metas}
    assert all(family[c] != m["label"] for c, m in zip(swapped, metas, strict=True))
    with pytest.raises(CCLBenchError, match="--captions"):
        prompt_caption(metas, 0, "random")
