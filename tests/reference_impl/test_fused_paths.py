"""Host facts of a route keep attention on its fused kernels without changing any result: joint
attention splits the batch by them (no key mask), CCL drops its per-example masks where every example
reads its partner."""

import pytest
import torch

import reference_impl as R
import reference_impl.streams.stream as stream_module
from tests.reference_impl.conftest import inputs, trained_like


def test_routes_carry_their_partner_switches_as_host_values():
    r = R.Route.for_tasks(["t2av", "t2v", "v2a"], "task")
    assert r.video_reads_audio_host == tuple(r.video_reads_audio.tolist()) == (True, False, False)
    assert r.audio_reads_video_host == tuple(r.audio_reads_video.tolist()) == (True, False, True)
    assert R.Route.for_tasks(["t2v"], "always").video_reads_audio_host == (True,)
    drawn = R.Route.for_tasks(torch.tensor([0, 2]), "task")  # ids drawn on the device: not known on the host
    assert drawn.video_reads_audio_host is None
    off = R.Route.constant(2, False, True)
    both = R.Route.cat([r, off])
    assert both.video_reads_audio_host == (True, False, False, False, False)
    assert both.audio_reads_video_host == tuple(both.audio_reads_video.tolist())
    assert R.Route.cat([r, drawn]).video_reads_audio_host is None


def without_host(route: R.Route) -> R.Route:
    return R.Route(route.video_reads_audio, route.audio_reads_video, route.lct_on, route.perturbed,
                   lct_may_be_off=route.lct_may_be_off)


@pytest.mark.parametrize("tasks", [["t2av", "t2v", "t2v", "t2av"], ["t2av", "t2av"]])
def test_joint_attention_with_host_values_runs_unmasked_and_equals_the_masked_one(tasks, monkeypatch):
    model = trained_like(R.build_model("joint", "tiny")).eval()
    x = inputs(model.cfg, batch=len(tasks))
    route = R.Route.for_tasks(tasks, "task")
    masks = []
    real = stream_module.attention

    def spy(q, k, v, mask=None):
        masks.append(mask)
        return real(q, k, v, mask)

    monkeypatch.setattr(stream_module, "attention", spy)
    with torch.no_grad():
        fast = model(**x, route=route)
        n_fast, masked_fast = len(masks), sum(m is not None for m in masks)
        masks.clear()
        ref = model(**x, route=without_host(route))
    assert masked_fast == 0  # self-attention (and text attention) passed no mask at all
    assert sum(m is not None for m in masks) > 0  # without the host values, the per-example key mask
    # one unmasked call per run of alike examples (t2av | t2v t2v | t2av: 3 runs), in both streams' self-attention
    runs = 1 + sum(a != b for a, b in zip(tasks, tasks[1:], strict=False))
    assert n_fast - len(masks) == 2 * model.cfg.layers * (runs - 1)
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_ccl_every_example_reading_its_partner_drops_the_masks_with_the_same_result():
    model = trained_like(R.build_model("ccl", "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    route = R.Route.for_tasks(["t2av", "t2av"], "task")
    assert route.lct_may_be_off is False and all(route.video_reads_audio_host)
    with torch.no_grad():
        fast = model(**x, route=route)
        ref = model(**x, route=without_host(route))
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
