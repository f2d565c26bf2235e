"""Frechet, kernel and bootstrap statistics against direct references."""

import numpy as np
import pytest
import scipy.linalg

from ccl_bench.metrics import stats


def scipy_fd(x, y, ddof=1):
    """The classic float64 reference (pytorch-fid / TF-GAN style): scipy sqrtm of the product."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False, ddof=ddof), np.cov(y, rowvar=False, ddof=ddof)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("n,d", [(500, 16), (200, 64), (40, 64)])  # the last has fewer samples than dimensions
def test_frechet_matches_scipy(n, d):
    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    y = rng.normal(0.2, 1.1, size=(n + 7, d))
    for ddof in (0, 1):
        ours = stats.frechet_distance(stats.gaussian(x, ddof), stats.gaussian(y, ddof))
        assert ours == pytest.approx(scipy_fd(x, y, ddof), rel=1e-6)


def test_frechet_is_zero_for_identical_sets_and_never_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 64))  # rank-deficient covariance
    g = stats.gaussian(x)
    fd = stats.frechet_distance(g, g)
    assert np.isfinite(fd) and 0 <= fd < 1e-6
    low_rank = np.repeat(rng.normal(size=(30, 2)), 32, axis=1)  # rank 2 in 64 dimensions
    fd2 = stats.frechet_distance(stats.gaussian(low_rank), stats.gaussian(low_rank + 1e-9))
    assert np.isfinite(fd2) and fd2 >= 0


def test_gaussian_needs_enough_rows():
    with pytest.raises(ValueError, match="at least 2"):
        stats.gaussian(np.zeros((1, 3)), ddof=1)


def direct_mmd2(x, y):
    """O(n^2) loops over the unbiased estimator with the kernel (x.y / d + 1)^3."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kernel_distance_equals_the_direct_estimator():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(25, 8)), rng.normal(0.3, 1.0, size=(25, 8))
    assert stats.mmd2_unbiased(x, y) == pytest.approx(direct_mmd2(x, y), rel=1e-10)
    # One subset holding every row is the estimator itself, whatever the row order.
    mean, std = stats.kernel_distance(x, y, subsets=1, subset_size=25)
    assert mean == pytest.approx(direct_mmd2(x, y), rel=1e-10) and std == 0
    z = rng.normal(size=(25, 8))  # an independent draw of x's distribution
    mean_same, _ = stats.kernel_distance(x, z, subsets=1)
    assert abs(mean_same) < mean


def test_fd_inf_extrapolates_the_bias_away():
    rng = np.random.default_rng(2)
    ref = stats.gaussian(rng.normal(size=(20000, 4)))
    pred = rng.normal(size=(2000, 4))
    fd_small = stats.frechet_distance(stats.gaussian(pred[:500]), ref)
    fd_inf = stats.frechet_distance_inf(pred, ref, rng=np.random.default_rng(0))
    assert abs(fd_inf) < fd_small  # same distribution: the finite-sample bias shrinks towards 0
    assert fd_inf == stats.frechet_distance_inf(pred, ref, rng=np.random.default_rng(0))  # deterministic
    with pytest.raises(ValueError, match="500"):
        stats.frechet_distance_inf(pred[:100], ref)


def test_bootstrap_interval_covers_the_mean_and_is_seeded():
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 1.0, size=400)
    stat = lambda idx: float(x[idx[0]].mean())  # noqa: E731
    iv = stats.bootstrap_ci(stat, [len(x)], samples=300, seed=1)
    assert iv.lo < x.mean() < iv.hi and iv.hi - iv.lo < 0.4 and iv.used == 300
    assert iv == stats.bootstrap_ci(stat, [len(x)], samples=300, seed=1)
