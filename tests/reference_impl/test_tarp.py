"""TARP: equal times give equal rotary phase; the partitioned attention equals the dense masked one."""

import pytest
import torch

import reference_impl as R
from reference_impl.interactions.tarp import (
    aligned_rope_angles,
    audio_query_intervals,
    dense_partitioned_attention,
    interval_mask,
    partitioned_attention,
    query_groups,
    video_query_intervals,
)
from reference_impl.timing import audio_token_times, video_frame_times, video_token_times


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
