"""The speed options change no number: compiled regions, selective activation checkpointing."""

import torch

import reference_impl as R
from tests.reference_impl.conftest import inputs, trained_like


def test_compiled_regions_give_the_eager_outputs():
    torch.manual_seed(0)
    model = trained_like(R.build_model("ccl", "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    with torch.no_grad():
        want = model(**x, tasks=["t2av", "t2v"])
        model.compile_blocks(backend="eager", fullgraph=True)  # traced by dynamo in one graph per region
        got = model(**x, tasks=["t2av", "t2v"])
    assert hasattr(model.video_stream.blocks[0].feed_forward, "_torchdynamo_orig_callable")
    assert hasattr(model.interactions["0"].exchanged, "_torchdynamo_orig_callable")
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_selective_checkpointing_recomputes_part_of_the_layers_with_the_same_gradients(monkeypatch):
    import reference_impl.dual_stream as ds

    torch.manual_seed(0)
    model = trained_like(R.build_model("ccl", "tiny", layers=4))
    x = inputs(model.cfg, batch=2)
    calls = []
    real = ds.checkpoint
    monkeypatch.setattr(ds, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))

    def grads(on, fraction):
        model.zero_grad()
        model.gradient_checkpointing, model.checkpoint_fraction = on, fraction
        v, a = model(**x)
        (v.square().mean() + a.square().mean()).backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = grads(False, 1.0)
    assert calls == []
    half = grads(True, 0.5)
    assert len(calls) == 2  # two of the four layers recomputed
    for g0, g1 in zip(plain, half, strict=True):
        torch.testing.assert_close(g0, g1)


def test_joint_batch_runs_and_the_flex_path_trace_in_one_graph():
    """No graph break (which would leave the attention outside the compiled region, unfused): joint
    attention split by the route's host values, and TARP's FlexAttention call with its score_mod."""
    from reference_impl.interactions.tarp import PartitionPlan, partition_intervals, tarp_attention

    torch.manual_seed(0)
    model = trained_like(R.build_model("joint", "tiny")).eval()
    x = inputs(model.cfg, batch=3)
    with torch.no_grad():
        want = model(**x, tasks=["t2av", "t2v", "t2av"])
        model.compile_blocks(backend="eager", fullgraph=True)
        got = model(**x, tasks=["t2av", "t2v", "t2av"])
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    (lo, hi), _ = partition_intervals(R.resolve_config("ccl", "wan-1.3b"), (21, 1, 4), 157)
    plan = PartitionPlan.make(lo, hi, 157, 4, path="flex")
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, n, 2, 16, generator=g) for n in (84, 157, 157))
    ck, cv = torch.randn(4, 2, 16, generator=g), torch.randn(4, 2, 16, generator=g)
    allowed, ctx = torch.tensor([True, False]), torch.tensor([False, True])
    fn = lambda q, k, v, a, c: tarp_attention(q, k, v, plan, a, ck, cv, c)  # noqa: E731
    torch.testing.assert_close(torch.compile(fn, backend="eager", fullgraph=True)(q, k, v, allowed, ctx),
                               fn(q, k, v, allowed, ctx), rtol=0, atol=0)


def test_a_forward_compiled_whole_reads_its_rope_tables_instead_of_recomputing_them():
    """After one eager forward (the Trainer's warm-up), the traced forward holds no sin or cos but the two
    time embeddings' (one per stream): the RoPE tables of both streams and of TARP come in as inputs, so
    no kernel recomputes them per element."""
    import torch._dynamo as dynamo

    graphs = []

    def keep(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch.manual_seed(0)
    model = trained_like(R.build_model("ccl", "tiny")).eval()
    x = inputs(model.cfg, batch=2)
    with torch.no_grad():
        want = model(**x)
        dynamo.reset()
        got = torch.compile(model, backend=keep)(**x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    ops = [str(n.target) for g in graphs for n in g.graph.nodes if n.op == "call_function"]
    assert len(ops) > 100
    assert sum("method sin " in o for o in ops) == 2 and sum("method cos " in o for o in ops) == 2


def test_rope_tables_are_made_once_per_configuration_and_shape():

    torch.manual_seed(0)
    a, b = R.build_model("ccl", "tiny"), R.build_model("ccl", "tiny", video_fps=12.0)
    assert a.video_stream.rope_angles((2, 4, 4), "cpu") is a.video_stream.rope_angles((2, 4, 4), "cpu")
    assert a.video_stream.rope_angles((2, 4, 4), "cpu") is not a.video_stream.rope_angles((3, 4, 4), "cpu")
    states = []
    for m in (a, b):
        m.interactions["0"].prepare = lambda sv, sa, real=m.interactions["0"].prepare: (real(sv, sa), states.append(sv))
    for m in (a, b, a):
        m(**inputs(m.cfg))
    ta, tb, ta2 = (s.cache["tarp_rope"] for s in states)
    assert ta is ta2 and ta is not tb  # another frame rate: other token times, another table
    assert not torch.equal(ta[0], tb[0])
