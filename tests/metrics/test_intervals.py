"""Intervals of the distribution distances: half-sampling without replacement covers E[distance at these
N] in simulation, and every interval holds its point estimate (the with-replacement bootstrap did
neither: duplicated rows lower a covariance's rank and raise FD)."""

import numpy as np
import pytest

from ccl_bench.metrics import stats

N, D = 40, 2  # low dimension keeps the simulation to seconds


def fd(x, y):
    return stats.frechet_distance_rows(x, y, 1)


def kvd(x, y):
    return stats.mmd2_unbiased(x, y)


def coverage(stat, shift, var, reps=80, replicates=60, seed=0):
    """Share of `reps` simulated data sets whose interval holds E[stat at N] (estimated from 2,000 more)."""
    rng = np.random.default_rng(seed)

    def draw():
        return rng.normal(shift, np.sqrt(var), (N, D)), rng.normal(0, 1, (N, D))

    truth = np.mean([stat(*draw()) for _ in range(2000)])
    hits = 0
    for r in range(reps):
        x, y = draw()
        point = stat(x, y)
        iv = stats.half_sample_ci(lambda idx, x=x, y=y: stat(x[idx[0]], y[idx[1]]), [N, N], point, replicates, seed=r)
        assert iv.lo <= point <= iv.hi and iv.used == replicates
        hits += iv.lo <= truth <= iv.hi
    return hits / reps


@pytest.mark.parametrize("stat", [fd, kvd], ids=["fd", "kvd"])
def test_half_sampling_covers_the_expected_distance_at_this_n(stat):
    cases = [(0.2, 1.0), (1.0, 1.0), (0.5, 1.5), (0.0, 1.0)]  # near, far, different spread, identical
    cov = [coverage(stat, s, v, seed=k) for k, (s, v) in enumerate(cases)]
    assert np.mean(cov) >= 0.9 and min(cov) >= 0.85, cov


def test_fast_frechet_from_rows_equals_the_covariance_route():
    rng = np.random.default_rng(0)
    for m, n, d in ((10, 12, 30), (50, 40, 6), (8, 8, 8)):
        x, y = rng.normal(0, 1, (m, d)), rng.normal(0.3, 2, (n, d))
        for ddof in (0, 1):
            want = stats.frechet_distance(stats.gaussian(x, ddof), stats.gaussian(y, ddof))
            assert stats.frechet_distance_rows(x, y, ddof) == pytest.approx(want, rel=1e-6)  # eigh of a singular S: ~1e-8


def test_interval_holds_the_point_where_duplicates_would_not():
    # High dimension, few clips (I3D's 400-d logits of 32 clips, scaled down): the with-replacement
    # bootstrap's replicates all lie above the point estimate; half-sampling's interval holds it.
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (16, 40)), rng.normal(0.1, 1, (16, 40))
    point = fd(x, y)
    boot = stats.bootstrap_ci(lambda idx: fd(x[idx[0]], y[idx[1]]), [16, 16], 100, seed=0)
    assert boot.lo > point  # the fault: a resample with repeated rows has a larger FD
    iv = stats.half_sample_ci(lambda idx: fd(x[idx[0]], y[idx[1]]), [16, 16], point, 100, seed=0)
    assert iv.lo <= point <= iv.hi and "without replacement" in iv.method
