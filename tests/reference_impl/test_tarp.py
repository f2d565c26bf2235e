"""TARP: equal times give equal rotary phase; the partitioned attention equals the dense masked one."""

import pytest
import torch

import reference_impl as R
from reference_impl.interactions.tarp import (
    PartitionPlan,
    aligned_rope_angles,
    audio_query_intervals,
    dense_partitioned_attention,
    interval_mask,
    partition_intervals,
    partitioned_attention,
    query_groups,
    tarp_attention,
    video_query_intervals,
    video_query_intervals_by_time,
)
from reference_impl.timing import audio_token_times, video_frame_times, video_token_duration, video_token_spans, video_token_times


def test_token_times_follow_the_stated_conventions():
    wan = R.resolve_config("ccl", "wan-1.3b")
    t = video_frame_times(wan, 4)
    torch.testing.assert_close(t, torch.tensor([0.0, 2.5, 6.5, 10.5], dtype=torch.float64) / 16)  # causal
    noncausal = R.resolve_config("ccl", "wan-1.3b", video_causal_first_frame=False)
    torch.testing.assert_close(video_frame_times(noncausal, 2), torch.tensor([1.5, 5.5], dtype=torch.float64) / 16)
    torch.testing.assert_close(audio_token_times(wan, 3), torch.tensor([0, 1, 2], dtype=torch.float64) / 31.25)
    small = R.resolve_config("ccl", "small", video_fps=16.0, video_temporal_compression=1)  # patch 2 in time
    torch.testing.assert_close(video_token_times(small, 3), torch.tensor([0.5, 2.5, 4.5], dtype=torch.float64) / 16)
    torch.testing.assert_close(video_token_times(wan, 4), video_frame_times(wan, 4))  # Wan: one latent frame a token
    tiny = R.resolve_config("ccl", "tiny", audio_patch=2)  # mel at 64 Hz, patch 2: token j covers frames 2j, 2j + 1
    torch.testing.assert_close(audio_token_times(tiny, 2), torch.tensor([0.5, 2.5], dtype=torch.float64) / 64)


def test_same_second_same_phase():
    cfg = R.resolve_config("ccl", "tiny", audio_patch=1, audio_latent_rate=32.0)  # audio j at j/32 s, video f at f/16 s
    tv, ta = video_frame_times(cfg, 8), audio_token_times(cfg, 16)
    av = aligned_rope_angles(tv, 32, cfg.audio_token_rate)
    aa = aligned_rope_angles(ta, 32, cfg.audio_token_rate)
    for f in range(8):
        torch.testing.assert_close(av[f], aa[2 * f], rtol=0, atol=1e-12)  # same second: same phase
        assert not torch.allclose(av[f], aa[2 * f + 1])
    # q.k after rotation depends only on the time difference
    model = R.build_model("ccl", "tiny", audio_patch=1, audio_latent_rate=32.0)
    cca = model.interactions["0"].video_from_audio
    x = torch.randn(1, 1, 64)
    y = torch.randn(1, 1, model.cfg.audio_dim)
    scores = []
    for shift in (0.0, 0.5, 1.25):
        tq, tk = (torch.tensor([t + shift], dtype=torch.float64) for t in (0.3, 0.1))
        q, k, *_ = cca.qkv(x, y, tq, tk)
        scores.append((q * k).sum())
    torch.testing.assert_close(scores[0], scores[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scores[0], scores[2], atol=1e-5, rtol=1e-5)


def test_intervals_match_the_partition_rule():
    lo, hi = video_query_intervals(frames=5, tokens_per_frame=2, audio_tokens=20, window=3)  # c = 4, s = 12
    # frame i: centre 2 + 4 i, window [centre - 6, centre + 6) clipped
    assert lo[::2].tolist() == [0, 0, 4, 8, 12] and hi[::2].tolist() == [8, 12, 16, 20, 20]
    lo, hi = audio_query_intervals(audio_tokens=10, frames=4, tokens_per_frame=3, window_frames=1)
    frames = [j * 4 // 10 for j in range(10)]
    assert lo.tolist() == [3 * f for f in frames] and hi.tolist() == [3 * f + 3 for f in frames]


CASES = [  # frames, tokens per frame, audio tokens, window, video frames per audio token, LCT
    (5, 6, 17, 3, 1, 4),  # ragged: 17 audio tokens over 5 frames
    (4, 4, 32, 3, 3, 0),
    (7, 2, 9, 5, 1, 2),  # window wider than the clip at both ends
    (3, 8, 3, 1, 1, 3),  # one audio token per frame
]


@pytest.mark.parametrize("frames,per_frame,na,window,vf,k_lct", CASES)
def test_partitioned_equals_dense_masked(frames, per_frame, na, window, vf, k_lct):
    g = torch.Generator().manual_seed(frames * 100 + na)
    b, h, d = 3, 2, 8
    nv = frames * per_frame
    allowed = torch.tensor([True, False, True])
    ck = torch.randn(k_lct, h, d, generator=g) if k_lct else None
    cv = torch.randn(k_lct, h, d, generator=g) if k_lct else None
    for nq, nk, (lo, hi) in [
        (nv, na, video_query_intervals(frames, per_frame, na, window)),
        (na, nv, audio_query_intervals(na, frames, per_frame, vf)),
    ]:
        q, k, v = (torch.randn(b, n, h, d, generator=g) for n in (nq, nk, nk))
        fast = partitioned_attention(q, k, v, lo, hi, allowed, ck, cv)
        ref = dense_partitioned_attention(q, k, v, lo, hi, allowed, ck, cv)
        torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)


def test_partitioned_cost_grows_with_window_not_partner_length():
    """Scores computed = sum over query groups of group size x (padded) window: N_video x window."""
    def cost(frames, per_frame, na, window):
        lo, hi = video_query_intervals(frames, per_frame, na, window)
        start, length, glo, ghi = query_groups(lo, hi)
        return len(start) * int(length.max()) * int((ghi - glo).max())

    short, long = cost(21, 880, 157, 3), cost(84, 880, 628, 3)  # 5 s and 20 s at Wan-1.3B size
    assert short <= 21 * 880 * 3 * (157 // 21)
    assert long / short == pytest.approx(4.0, rel=0.01)  # 4x the clip: 4x the work (dense: 16x)
    assert interval_mask(*video_query_intervals(21, 880, 157, 3), 157).sum() <= 21 * 880 * 21


# Real timelines: (config, video token frames, audio tokens). Wan 5 s: 81 pixel frames -> 21 latent frames
# (causal first), ceil(5 x 31.25) = 157 audio tokens; Wan 10 s: 161 -> 41, 313; the av-sync native
# rendering (8 s, 25 fps, mel at 64 Hz) at the small scale's patch 2 in time: 100 token frames, 512 tokens.
NATIVE = dict(video_in_dim=12, video_fps=25.0, video_temporal_compression=1, video_causal_first_frame=False,
              audio_in_dim=64, audio_latent_rate=64.0)
TIMELINES = {"wan-5s": ("wan-1.3b", {}, 21, 157), "wan-10s": ("wan-1.3b", {}, 41, 313),
             "av-sync-native": ("small", NATIVE, 100, 512)}


def timeline(name, **overrides):
    scale, fields, frames, na = TIMELINES[name]
    return R.resolve_config("ccl", scale, **{**fields, **overrides}), frames, na


@pytest.mark.parametrize("name", list(TIMELINES))
def test_time_rule_windows_are_centred_on_each_frame_and_read_every_audio_token(name):
    cfg, frames, na = timeline(name)
    (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, (frames, 1, 1), na)
    tv, ta = video_token_times(cfg, frames), audio_token_times(cfg, na)
    step, half = 1 / cfg.audio_token_rate, cfg.tarp_window * video_token_duration(cfg) / 2
    # The same rule over the audio token lattice extended past both ends of the clip: no window is
    # clipped there, so each must be centred on its frame's time within half an audio token ...
    pad = int(half / step) + 2
    ext = (torch.arange(-pad, na + pad, dtype=torch.float64) + (cfg.audio_patch - 1) / 2) * step
    lo_x, hi_x = video_query_intervals_by_time(tv, video_token_duration(cfg), ext, cfg.tarp_window, 1)
    centre = (ext[lo_x] + ext[hi_x - 1]) / 2
    assert (centre - tv).abs().max() <= step / 2 + 1e-9
    # ... and the clip's windows are exactly those, cut to the clip.
    assert torch.equal(lo_v, (lo_x - pad).clamp(0, na)) and torch.equal(hi_v, (hi_x - pad).clamp(0, na))
    for i in range(frames):  # every token read lies within W / 2 of the frame, every one left out beyond
        assert hi_v[i] > lo_v[i]
        assert ((ta[lo_v[i]:hi_v[i]] - tv[i]).abs() <= half + 1e-9).all()
        assert lo_v[i] == 0 or ta[lo_v[i] - 1] < tv[i] - half + 1e-9
        assert hi_v[i] == na or ta[hi_v[i]] >= tv[i] + half - 1e-9
    read = torch.zeros(na, dtype=torch.bool)
    for lo, hi in zip(lo_v.tolist(), hi_v.tolist(), strict=True):
        read[lo:hi] = True
    assert read.all(), f"{int((~read).sum())} audio tokens read by no frame"
    # audio token j reads the frame whose span holds its time
    start, end = video_token_spans(cfg, frames)
    inside = ta < end[-1]
    frame_of = lo_a  # one token per frame here
    assert ((start[frame_of] <= ta) & (ta < end[frame_of]))[inside].all()
    assert (hi_a - lo_a == 1).all()


def test_index_rule_stays_as_an_option_and_drifts_where_the_ratio_is_not_whole():
    cfg, frames, na = timeline("wan-5s", tarp_partition_rule="index")
    (lo_v, hi_v), _ = partition_intervals(cfg, (frames, 1, 1), na)
    tv, ta = video_token_times(cfg, frames), audio_token_times(cfg, na)
    assert not (ta[lo_v[20]] <= tv[20] <= ta[hi_v[20] - 1])  # the last frame lies outside its own window
    read = torch.zeros(na, dtype=torch.bool)
    for lo, hi in zip(lo_v.tolist(), hi_v.tolist(), strict=True):
        read[lo:hi] = True
    assert int((~read).sum()) == 3  # and three audio tokens are read by no frame
    with pytest.raises(ValueError, match="tarp_partition_rule"):
        partition_intervals(R.resolve_config("ccl", "tiny", tarp_partition_rule="nearest"), (2, 1, 1), 4)


@pytest.mark.parametrize("name", list(TIMELINES))
def test_every_attention_path_equals_the_dense_masked_reference_on_real_timelines(name):
    """Both directions, every path (flex: torch's unfused FlexAttention reference on the CPU, with this
    module's block mask and per-example score_mod; the fused GPU kernel computes the same function)."""
    cfg, frames, na = timeline(name)
    per_frame, b, h, d, k_lct = 2, 4, 2, 8, 4
    g = torch.Generator().manual_seed(na)
    (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, (frames, 1, per_frame), na)
    nv = frames * per_frame
    # partner / LCT per example: both, LCT only, partner only, nothing to read (an exact zero)
    allowed, ctx_on = torch.tensor([True, False, True, False]), torch.tensor([True, True, False, False])
    ck, cv = torch.randn(k_lct, h, d, generator=g), torch.randn(k_lct, h, d, generator=g)
    for nq, nk, lo, hi in ((nv, na, lo_v, hi_v), (na, nv, lo_a, hi_a)):
        q, k, v = (torch.randn(b, n, h, d, generator=g) for n in (nq, nk, nk))
        ref = dense_partitioned_attention(q, k, v, lo, hi, allowed, ck, cv, ctx_on)
        assert (ref[3] == 0).all() and ref[:3].abs().sum(-1).gt(0).all()
        kinds = {"partitioned": ("gather",), "dense": ("dense",), "flex": ("flex",), "math": ("math",),
                 "varlen": ("varlen",), "auto": ("gather", "dense", "math")}
        for path, kind in kinds.items():  # (auto on a CPU: never flex, which has no CPU backward)
            plan = PartitionPlan.make(lo, hi, nk, k_lct, path=path)
            assert plan.kind in kind
            out = tarp_attention(q, k, v, plan, allowed, ck, cv, ctx_on)
            assert torch.isfinite(out).all()
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        # every example reads its partner, LCT on (training, T2AV sampling): the masks dropped, same result
        every = torch.ones(b, dtype=torch.bool)
        ref = dense_partitioned_attention(q, k, v, lo, hi, every, ck, cv)
        for path in ("flex", "math", "partitioned", "dense", "varlen"):
            plan = PartitionPlan.make(lo, hi, nk, k_lct, path=path)
            out = tarp_attention(q, k, v, plan, every, ck, cv, partner_always=True)
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(TIMELINES))
def test_flex_block_count_and_the_cost_rule(name):
    """The chooser's block count equals FlexAttention's own block mask; on a GPU the video queries (many
    query blocks) take the flex path, the audio queries (a few blocks) the gather path; never flex on a CPU."""
    from torch.nn.attention.flex_attention import create_block_mask

    from reference_impl.interactions.tarp import FLEX_BLOCK, choose_path, flex_block_scores

    cfg, frames, na = timeline(name)
    per_frame = 880 if name.startswith("wan") else 32  # Wan 352 x 640: 22 x 40 tokens a frame
    (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, (frames, 1, per_frame), na)
    nv = frames * per_frame
    for lo, hi, nk in ((lo_v, hi_v, na), (lo_a, hi_a, nv)):
        def in_window(b, h, q, n, lo=lo, hi=hi):
            return (n < 16) | ((n >= lo[q] + 16) & (n < hi[q] + 16))

        bm = create_block_mask(in_window, None, None, len(lo), 16 + nk, device="cpu", BLOCK_SIZE=FLEX_BLOCK)
        blocks = int(bm.kv_num_blocks.sum()) + int(bm.full_kv_num_blocks.sum())
        assert flex_block_scores(lo, hi, nk, 16) == blocks * FLEX_BLOCK**2
        assert flex_block_scores(lo, hi, nk, 16) <= len(lo) * (16 + nk) + FLEX_BLOCK * (16 + nk + FLEX_BLOCK)
        assert choose_path(lo, hi, nk, 16, on_gpu=False) != "flex"
    assert choose_path(lo_v, hi_v, na, 16, on_gpu=True, varlen=False) == "flex"
    assert choose_path(lo_a, hi_a, nv, 16, on_gpu=True, varlen=False) == "gather"  # one frame per audio token: a view
    # with torch's variable-length flash kernel: the video queries' frames as its sequences (few packed keys);
    # the audio queries would copy every frame's keys, so they keep their path
    assert choose_path(lo_v, hi_v, na, 16, on_gpu=True, varlen=True) == ("varlen" if per_frame == 880 else "flex")
    assert choose_path(lo_a, hi_a, nv, 16, on_gpu=True, varlen=True) == "gather"
    if name == "wan-5s":  # three frames per audio token: the gather would copy every key thrice
        wide = R.resolve_config("ccl", "wan-1.3b", tarp_video_frames=3)
        _, (lo3, hi3) = partition_intervals(wide, (frames, 1, per_frame), na)
        assert choose_path(lo3, hi3, nv, 16, on_gpu=True, head_dim=128) == "math"
        assert choose_path(lo3, hi3, nv, 16, on_gpu=True, head_dim=16) == "gather"  # narrow heads: copies are cheap
    # at 1,000 audio tokens the flex path skips most blocks of the dense computation
    wide = R.resolve_config("ccl", "wan-1.3b", audio_latent_rate=200.0)
    (lo, hi), _ = partition_intervals(wide, (21, 1, 880), 1000)
    assert flex_block_scores(lo, hi, 1000, 16) < 0.4 * 21 * 880 * 1016


def test_automatic_path_takes_the_partition_where_it_saves_work():
    cfg, frames, na = timeline("wan-5s")
    (lo_v, hi_v), (lo_a, hi_a) = partition_intervals(cfg, (frames, 22, 40), 1000)  # 1,000 audio tokens
    auto = PartitionPlan.make(lo_v, hi_v, 1000, 16)
    dense = PartitionPlan.make(lo_v, hi_v, 1000, 16, path="dense")
    assert not auto.dense and auto.scores < dense.scores / 5
    assert auto.q_idx is None and auto.q_out is None  # video queries: a view per frame, not a gather
    wide = R.resolve_config("ccl", "wan-1.3b", tarp_window=41)  # a window as long as the clip: dense
    (lo_w, hi_w), _ = partition_intervals(wide, (frames, 22, 40), 157)
    assert PartitionPlan.make(lo_w, hi_w, 157, 16).dense


def test_flex_plan_under_the_flop_counter_runs_the_dense_path_with_the_same_result():
    """torch's FLOP counter (a dispatch mode) has no rule for FlexAttention in every torch version: the
    flex plan then computes the same function on the dense masked path, and is counted as such."""
    from ccl_bench.profiling import count_flops

    (lo, hi), _ = partition_intervals(R.resolve_config("ccl", "wan-1.3b"), (21, 1, 4), 157)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, n, 2, 16, generator=g) for n in (84, 157, 157))
    ck, cv = torch.randn(4, 2, 16, generator=g), torch.randn(4, 2, 16, generator=g)
    allowed, ctx = torch.tensor([True, False]), torch.tensor([False, True])
    plan = PartitionPlan.make(lo, hi, 157, 4, path="flex")
    out = {}
    flops = count_flops(lambda: out.setdefault("o", tarp_attention(q, k, v, plan, allowed, ck, cv, ctx)))
    assert flops == 4 * 2 * 2 * 16 * 84 * (4 + 157)  # q.k and p.v over every key: the dense path's count
    torch.testing.assert_close(out["o"], dense_partitioned_attention(q, k, v, lo, hi, allowed, ck, cv, ctx),
                               atol=1e-5, rtol=1e-5)


def test_a_training_step_takes_the_grad_plan_of_a_flex_plan_with_few_key_blocks():
    """Video queries over 157 (or 1,000) audio tokens: 2 (8) key blocks, too few programs for FlexAttention's
    backward, so gradients run the gather path; with many key blocks flex serves both."""
    import dataclasses

    from reference_impl.interactions.tarp import grad_path

    cfg = R.resolve_config("ccl", "wan-1.3b")
    (lo, hi), _ = partition_intervals(cfg, (21, 1, 880), 157)
    assert grad_path("flex", lo, hi, 157, 16) == "gather" and grad_path("gather", lo, hi, 157, 16) is None
    long = R.resolve_config("ccl", "wan-1.3b", audio_latent_rate=800.0)  # 4,000 tokens: 32 key blocks
    (lo4, hi4), _ = partition_intervals(long, (21, 1, 880), 4000)
    assert grad_path("flex", lo4, hi4, 4000, 16) is None
    # a flex plan with a gather grad_plan: FlexAttention has no CPU backward, so a gradient through it here
    # proves the switch, and the gradient equals the dense reference's
    (lo, hi), _ = partition_intervals(cfg, (21, 1, 4), 157)
    plan = dataclasses.replace(PartitionPlan.make(lo, hi, 157, 4, path="flex"),
                               grad_plan=PartitionPlan.make(lo, hi, 157, 4, path="partitioned"))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, n, 2, 16, generator=g, requires_grad=True) for n in (84, 157, 157))
    ck, cv = torch.randn(4, 2, 16, generator=g), torch.randn(4, 2, 16, generator=g)
    every = torch.ones(2, dtype=torch.bool)
    got = torch.autograd.grad(tarp_attention(q, k, v, plan, every, ck, cv, partner_always=True).square().sum(), (q, k, v))
    ref = torch.autograd.grad(dense_partitioned_attention(q, k, v, lo, hi, every, ck, cv).square().sum(), (q, k, v))
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    q, k, v = q.detach(), k.detach(), v.detach()
    with torch.no_grad():  # no gradient: the flex path itself
        torch.testing.assert_close(tarp_attention(q, k, v, plan, every, ck, cv, partner_always=True),
                                   dense_partitioned_attention(q, k, v, lo, hi, every, ck, cv), atol=1e-5, rtol=1e-5)


def test_varlen_path_packs_each_frame_with_its_keys_and_its_gradient_equals_the_reference():
    """The varlen path's packing (sequences, offsets, keys an example may not read moved to a last sequence with
    no query) through `varlen_reference`, the function torch's flash kernel computes; with every switch per
    example, and through autograd (training: partner absent on some tasks)."""
    from reference_impl.interactions.tarp import varlen_reference

    cfg = R.resolve_config("ccl", "wan-1.3b")
    (lo, hi), _ = partition_intervals(cfg, (21, 1, 4), 157)
    plan = PartitionPlan.make(lo, hi, 157, 4, path="varlen")
    lay = plan.varlen
    assert plan.kind == "varlen" and len(lay.q_len) == 21 and int(lay.q_len.sum()) == 84
    assert lay.k_index.numel() == 21 * 4 + int((hi - lo)[::4].sum()) and plan.fallback is None
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(4, n, 2, 16, generator=g, requires_grad=True) for n in (84, 157, 157))
    ck, cv = (torch.randn(4, 2, 16, generator=g, requires_grad=True) for _ in range(2))
    allowed, ctx = torch.tensor([True, False, True, False]), torch.tensor([True, True, False, False])
    for args, kw in (((allowed, ck, cv, ctx), {}), ((torch.ones(4, dtype=torch.bool), ck, cv), {"partner_always": True})):
        got = tarp_attention(q, k, v, plan, *args, **kw)
        ref = dense_partitioned_attention(q, k, v, lo, hi, *args)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
        grads = torch.autograd.grad(got.square().sum(), (q, k, v, ck, cv))
        for a, b in zip(grads, torch.autograd.grad(ref.square().sum(), (q, k, v, ck, cv)), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # a sequence with no query computes nothing; one with no key gives zeros
    x = torch.randn(3, 1, 8, generator=g)
    out = varlen_reference(x, x, x, torch.tensor([0, 2, 3, 3]), torch.tensor([0, 3, 3, 3]))
    assert (out[2] == 0).all() and out[:2].abs().sum() > 0
    # auto on a GPU picks varlen for these windows, falling back (CPU, float32) to the rule's choice without it
    auto = PartitionPlan.make(lo, hi, 157, 4, device="cpu", path="auto")
    assert auto.kind != "varlen"
