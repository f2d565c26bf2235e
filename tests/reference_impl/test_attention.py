"""Attention costs what it should: a key mask is never blown up to `[heads, Nq, Nk]`, and CCL runs
each cross-modal attention once per forward whatever the guidance scheme."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import reference_impl as R
import reference_impl.interactions.tarp as tarp
from reference_impl.diffusion.guidance import SCHEMES, GuidanceScales, guided_prediction
from reference_impl.streams.layers import attention, attention_weights
from tests.reference_impl.conftest import inputs, trained_like


class Allocations(TorchDispatchMode):
    """Bytes of every new storage an op returns (views of existing storage are free): an alloc counter."""

    def __init__(self):
        super().__init__()
        self.sizes, self._seen = [], set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self._seen:
                self._seen.add(t.untyped_storage().data_ptr())
                self.sizes.append(t.untyped_storage().nbytes())
        return out


def largest_allocation(nq, nk, b=2, h=2, d=8):
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(b, nq, h, d, generator=g), torch.randn(b, nk, h, d, generator=g), torch.randn(b, nk, h, d, generator=g)
    mask = torch.rand(b, 1, 1, nk, generator=g) > 0.3
    mask[1] = False  # an example with nothing to read: exact zeros, still no big mask
    with Allocations() as rec:
        out = attention(q, k, v, mask)
    assert not out[1].any()
    return max(rec.sizes)


def test_a_key_mask_costs_memory_in_nk_not_nq_times_nk():
    small, wide = largest_allocation(2048, 64), largest_allocation(2048, 2048)
    out_bytes = 2 * 2048 * 2 * 8 * 4  # the output itself, [B, Nq, H, d] float32
    assert small <= out_bytes and wide <= out_bytes  # the biggest buffer is the output, whatever Nk
    assert wide < 2 * 2 * 2048 * 2048  # far below one [B, H, Nq, Nk] bool mask (16 MB)


def test_masked_attention_matches_the_softmax_weights():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, n, 2, 8, generator=g) for n in (5, 7, 7))
    mask = torch.rand(2, 1, 1, 7, generator=g) > 0.4
    mask[:, ..., 0] = True
    want = torch.einsum("bhqk,bkhd->bqhd", attention_weights(q, k, mask), v)
    torch.testing.assert_close(attention(q, k, v, mask), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("scheme", ["cfg", "ucg", "ucg-joint", "ltx2"])
def test_ccl_runs_each_cross_modal_attention_once_per_layer_per_pass(scheme, monkeypatch):
    model = trained_like(R.build_model("ccl", "tiny", layers=3)).eval()
    x = inputs(model.cfg, batch=2)
    calls = {"tarp": 0, "sdpa": 0}
    real_tarp, real_attention = tarp.tarp_attention, tarp.attention

    def counted_tarp(*a, **k):
        calls["tarp"] += 1
        return real_tarp(*a, **k)

    def counted_attention(*a, **k):
        calls["sdpa"] += 1
        return real_attention(*a, **k)

    monkeypatch.setattr("reference_impl.interactions.ccl.tarp_attention", counted_tarp)
    monkeypatch.setattr(tarp, "attention", counted_attention)
    null, null_mask = torch.zeros_like(x["text"]), torch.zeros(2, x["text"].shape[1], dtype=torch.bool)
    mask = torch.ones(2, x["text"].shape[1], dtype=torch.bool)
    with torch.no_grad():
        guided_prediction(model, scheme, GuidanceScales(), x["video"], x["audio"], x["t_video"], x["t_audio"],
                          [R.Task.T2AV] * 2, x["text"], mask, null, null_mask)
    # all passes of the scheme run batched in one forward: two directions x three layers, each one attention
    assert len(SCHEMES[scheme]) >= 2
    assert calls == {"tarp": 2 * 3, "sdpa": 2 * 3}
