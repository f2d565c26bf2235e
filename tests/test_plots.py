"""The pictures hold the data they claim to: bar heights and error bars, smoothed loss points, the clip
frames and event lines; a saved comparison plot carries its provenance."""

import json

import numpy as np
import pytest
from PIL import Image

from ccl_bench.io import read_clip
from ccl_bench.io.clipset import load_clipset
from ccl_bench.plots import contact_sheet_figure, loss_curves_figure, metric_bars, metric_bars_figure
from ccl_bench.suites import build_suite, load_suite

RESULTS = {
    "ccl": {"metrics": {"event-sync": {"value": 40.0, "ci95": [30.0, 55.0], "unit": "ms", "better": "lower"},
                        "fvd": {"status": "unavailable", "reason": "no weights"},
                        "event-hit": {"value": 0.5, "ci95": None, "better": "higher"}}},
    "none": {"metrics": {"event-sync": {"value": 120.0, "ci95": [100.0, 150.0], "unit": "ms", "better": "lower"},
                         "fvd": {"status": "unavailable", "reason": "no weights"},
                         "event-hit": {"value": 0.1, "ci95": [0.05, 0.2], "better": "higher"}}},
}


def test_metric_bars_draw_each_value_with_its_interval():
    fig = metric_bars_figure(RESULTS)
    panels = {ax.get_title().split(" ")[0].rstrip(","): ax for ax in fig.axes}
    assert set(panels) == {"event-sync", "event-hit"}  # fvd has no value anywhere: no panel
    ax = panels["event-sync"]
    assert [p.get_height() for p in ax.patches] == [40.0, 120.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ccl", "none"]
    assert "(ms), lower is better" in ax.get_title()
    # The error bar of each bar spans its interval: [30, 55] and [100, 150].
    segments = ax.collections[0].get_segments()
    assert [tuple(s[:, 1]) for s in segments] == [(30.0, 55.0), (100.0, 150.0)]
    # No interval (no bootstrap): a bar without error.
    seg = panels["event-hit"].collections[0].get_segments()
    assert tuple(seg[0][:, 1]) == (0.5, 0.5) and tuple(seg[1][:, 1]) == (0.05, 0.2)


def test_a_saved_comparison_plot_carries_its_provenance(tmp_path):
    prov = {"commit": "abc123", "date_utc": "2026-11-25T00:00:00Z", "seed": 3, "command": "ccl-bench compare ccl none"}
    png = metric_bars(RESULTS, tmp_path / "cmp.png", provenance=prov)
    img = Image.open(png)
    assert json.loads(img.text["provenance"]) == prov
    assert img.size[0] > 0 and not list(tmp_path.glob(".*partial*"))  # written whole, no temporary left


def test_loss_curves_plot_the_moving_average_of_each_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    losses = [1.0 / i for i in range(1, 30)]
    rows = [{"step": 10 * i, "loss": losses[i - 1], "loss_t2v": 0.5 / i, "loss_t2a": 2.0 / i} for i in range(1, 30)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fig = loss_curves_figure({"demo": run}, smooth=4)
    total = fig.axes[0].lines[0]
    assert total.get_label() == "demo"
    np.testing.assert_allclose(total.get_ydata(), np.convolve(losses, np.ones(4) / 4, mode="valid"))
    np.testing.assert_array_equal(total.get_xdata(), 10 * np.arange(4, 30))
    # The audio panel averages t2a and v2a where logged: v2a is absent here, so it is t2a's curve.
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(),
                               np.convolve([2.0 / i for i in range(1, 30)], np.ones(4) / 4, mode="valid"))
    assert fig.axes[2].get_legend() is not None
    # A video-only run (stage 1) draws no audio curve: the legend moves to the video panel.
    (run / "metrics.jsonl").write_text("".join(json.dumps({k: r[k] for k in ("step", "loss", "loss_t2v")}) + "\n" for r in rows))
    fig = loss_curves_figure({"demo": run}, smooth=4)
    assert not fig.axes[2].lines and fig.axes[1].get_legend() is not None
    # A T2AV-only run (a baseline's own recipe) logs no per-task loss: the legend goes where it has a line too.
    t2av = tmp_path / "t2av-only"
    t2av.mkdir()
    (t2av / "metrics.jsonl").write_text("".join(json.dumps({k: r[k] for k in ("step", "loss")}) + "\n" for r in rows))
    fig = loss_curves_figure({"demo": run, "t2av-only": t2av}, smooth=4)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["demo", "t2av-only"]
    # ... and a run after it keeps its colour on the panels the T2AV-only run draws nothing on
    (tmp_path / "third").mkdir()
    (tmp_path / "third" / "metrics.jsonl").write_text((run / "metrics.jsonl").read_text())
    fig = loss_curves_figure({"demo": run, "t2av-only": t2av, "third": tmp_path / "third"}, smooth=4)
    colour = {ln.get_label(): ln.get_color() for ln in fig.axes[0].lines}
    assert len(set(colour.values())) == 3 and {ln.get_label(): ln.get_color() for ln in fig.axes[1].lines} == \
        {k: colour[k] for k in ("demo", "third")}
    # eleven runs (every shipped model): no two share colour and line style
    many = {f"m{i}": tmp_path / "third" for i in range(11)}
    lines = loss_curves_figure(many, smooth=4).axes[0].lines
    assert len({(ln.get_color(), ln.get_linestyle()) for ln in lines}) == 11


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    d = tmp_path_factory.mktemp("sheet")
    build_suite(load_suite("av-sync"), d, split="test", rendering="tiny", num=3, seed=0, show_progress=False)
    return d


def test_contact_sheet_shows_the_clips_frames_and_their_events(suite):
    fig = contact_sheet_figure(suite, num_clips=2, frames=4)
    items = load_clipset(suite).items[:2]
    for row, item in enumerate(items):
        clip = read_clip(item.video)
        axes = fig.axes[row * 5 : row * 5 + 5]
        first, last = axes[0].images[0].get_array(), axes[3].images[0].get_array()
        np.testing.assert_array_equal(first, clip.video[0])
        np.testing.assert_array_equal(last, clip.video[clip.num_frames - 1])
        lines = [ln.get_xdata()[0] for ln in axes[4].lines]
        assert lines == pytest.approx(item.events) and len(lines) > 0
