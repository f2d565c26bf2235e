"""Per-clip results on disk: a reference set evaluated by several tasks keeps every task's analyses."""

import numpy as np

from ccl_bench.features.store import SetResults, load_results, save_results


def test_a_later_save_keeps_the_analyses_it_does_not_hold(tmp_path):
    p = tmp_path / "per_clip.npz"
    save_results(SetResults(ids=["a", "b"], results={"i3d": [{"features": np.ones((1, 3))}, {"features": np.zeros((1, 3))}]}), p)
    save_results(SetResults(ids=["a", "b"], results={"vggish": [{"features": np.ones((2, 4))}] * 2}), p, keep_other_analyses=True)
    r = load_results(p)
    assert set(r) == {"i3d", "vggish"} and r["i3d"]["a"]["features"].shape == (1, 3)
    save_results(SetResults(ids=["a"], results={"vggish": [{"features": np.zeros((1, 4))}]}), p)  # default: replace
    assert set(load_results(p)) == {"vggish"}
