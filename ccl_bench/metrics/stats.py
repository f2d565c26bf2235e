"""Distribution statistics as pure functions on feature arrays (float64): Frechet distance, kernel
(MMD) distance, FD-inf extrapolation and bootstrap confidence intervals. No I/O, no models.

Shapes: features `[N, D]` (N items, D dimensions); statistics mean `[D]`, covariance `[D, D]`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gaussian:
    """Mean `[D]`, covariance `[D, D]` (float64) and the count they came from."""

    mean: np.ndarray
    cov: np.ndarray
    n: int


def gaussian(features: np.ndarray, ddof: int = 1) -> Gaussian:
    """Fit mean and covariance. ddof=1 divides by N - 1 (TF-GAN, MM-Diffusion, JavisBench, fadtk),
    ddof=0 by N (StyleGAN-V). Needs at least `ddof + 1` rows."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {x.shape}")
    if len(x) < ddof + 1:
        raise ValueError(f"need at least {ddof + 1} feature rows for a covariance, got {len(x)}")
    mean = x.mean(0)
    centred = x - mean
    return Gaussian(mean, centred.T @ centred / (len(x) - ddof), len(x))


def _psd_sqrt(mat: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition; eigenvalues
    that rounding made slightly negative count as zero, so rank-deficient inputs never give NaN."""
    w, v = np.linalg.eigh((mat + mat.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S1 S2)^(1/2)) = sum of sqrt(eig(S1^(1/2) S2 S1^(1/2))): that matrix is symmetric PSD, so its
    eigenvalues are real and >= 0 (up to rounding) even when S1 S2 is singular."""
    r = _psd_sqrt(s1)
    w = np.linalg.eigvalsh(r @ s2 @ r)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(a: Gaussian, b: Gaussian) -> float:
    """`|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))` in float64. Never NaN; a value below zero
    can only come from rounding and is returned as 0."""
    diff = a.mean - b.mean
    fd = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt_product(a.cov, b.cov))
    return max(fd, 0.0)


def frechet_distance_rows(x: np.ndarray, y: np.ndarray, ddof: int = 1) -> float:
    """`frechet_distance(gaussian(x, ddof), gaussian(y, ddof))` from the rows `[m, D]`, `[n, D]`, fast when
    the rows are fewer than the dimensions: with centred rows Xc, Yc, S_x = Xc^T Xc / (m - ddof), and the
    eigenvalues of S_x S_y are the squared singular values of `Xc Yc^T / sqrt((m - ddof)(n - ddof))`, so
    Tr((S_x S_y)^(1/2)) is that matrix's nuclear norm (an m x n SVD instead of two D x D eigh)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if min(len(x), len(y)) > x.shape[1]:
        return frechet_distance(gaussian(x, ddof), gaussian(y, ddof))
    xc, yc = x - x.mean(0), y - y.mean(0)
    cx, cy = len(x) - ddof, len(y) - ddof
    diff = x.mean(0) - y.mean(0)
    cross = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / np.sqrt(cx * cy)
    return max(float(diff @ diff + (xc**2).sum() / cx + (yc**2).sum() / cy - 2 * cross), 0.0)


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0):
    """`(gamma x.y + coef0) ** degree`, gamma = 1 / D by default (sklearn's, as KID uses)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, kernel: Callable = polynomial_kernel) -> float:
    """Unbiased MMD^2 between samples `[m, D]` and `[n, D]` (diagonals left out of the within-set terms)."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kernel_distance(x: np.ndarray, y: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                    rng: np.random.Generator | None = None) -> tuple[float, float]:
    """KID / KVD: mean and std of the unbiased polynomial-kernel MMD^2 over `subsets` random subsets of
    `min(subset_size, len(x), len(y))` rows each, drawn without replacement (clean-fid / torch-fidelity)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"kernel distance needs at least 2 items per set, got {len(x)} and {len(y)}")
    if size == len(x) == len(y):  # every subset is the whole of both sets: MMD^2 ignores the order
        return mmd2_unbiased(x, y), 0.0
    rng = rng or np.random.default_rng(0)
    vals = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
            for _ in range(subsets)]
    return float(np.mean(vals)), float(np.std(vals))


def frechet_distance_inf(pred: np.ndarray, ref: Gaussian, min_n: int = 500, steps: int = 25, ddof: int = 1,
                         rng: np.random.Generator | None = None) -> float:
    """FD-inf (fadtk): for `steps` sizes n in `linspace(min_n, N, steps)` draw n of the N predicted
    embeddings with replacement, compute FD to `ref`, fit FD against 1 / n, return the intercept
    (the FD an infinite sample would have)."""
    return frechet_distance_inf_fit(pred, ref, min_n, steps, ddof, rng)[0]


def frechet_distance_inf_fit(pred: np.ndarray, ref: Gaussian, min_n: int = 500, steps: int = 25, ddof: int = 1,
                             rng: np.random.Generator | None = None) -> tuple[float, float]:
    """`frechet_distance_inf` with the quality of its straight-line fit: -> (intercept, r^2 of FD
    against 1 / n). An r^2 far below 1 means FD did not fall linearly in 1 / n, and the intercept is
    an extrapolation to distrust."""
    pred = np.asarray(pred, np.float64)
    if len(pred) < min_n:
        raise ValueError(f"FD-inf needs at least {min_n} embeddings, got {len(pred)}")
    rng = rng or np.random.default_rng(0)
    ns = np.linspace(min_n, len(pred), steps).astype(int)
    fds = np.array([frechet_distance(gaussian(pred[rng.choice(len(pred), n, replace=True)], ddof), ref) for n in ns])
    slope, intercept = np.polyfit(1.0 / ns, fds, 1)
    resid = fds - (slope / ns + intercept)
    spread = float(((fds - fds.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / spread if spread > 0 else 1.0  # all FDs equal: the line is exact
    return float(intercept), r2


@dataclass(frozen=True)
class Interval:
    """A 95% (or `level`) interval, how it was made and how many replicates gave a value."""

    lo: float
    hi: float
    method: str
    replicates: int
    used: int

    def to_dict(self) -> dict:
        return {"method": self.method, "replicates": self.replicates, "used": self.used}


def _replicates(statistic: Callable, draws, samples: int, tick: Callable | None) -> np.ndarray:
    vals = []
    for _ in range(samples):
        v = statistic(draws())
        if v is not None and np.isfinite(v):
            vals.append(v)
        if tick is not None:
            tick()
    return np.asarray(vals, float)


def bootstrap_ci(statistic: Callable[[Sequence[np.ndarray]], float | None], groups: Sequence[int], samples: int = 200,
                 level: float = 0.95, seed: int = 0, tick: Callable | None = None) -> Interval:
    """Percentile bootstrap interval of `statistic(indices_per_group)`. groups: the item count of each
    independent set; each replicate redraws every set's items with replacement. Replicates where the
    statistic fails (None / NaN) are not used, and `used` says how many were. For statistics of per-clip
    values (means, medians, shares), where a repeated clip is as good as another draw."""
    rng = np.random.default_rng(seed)
    vals = _replicates(statistic, lambda: [rng.integers(0, n, n) for n in groups], samples, tick)
    if not len(vals):
        return Interval(float("nan"), float("nan"), "percentile bootstrap", samples, 0)
    lo, hi = np.percentile(vals, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return Interval(float(lo), float(hi), "percentile bootstrap", samples, len(vals))


def half_sample_ci(statistic: Callable[[Sequence[np.ndarray]], float | None], groups: Sequence[int], point: float,
                   samples: int = 200, level: float = 0.95, seed: int = 0, tick: Callable | None = None) -> Interval:
    """Interval for E[statistic at these set sizes] (e.g. E[FD] of N predicted against N_ref reference
    clips) by half-sampling without replacement: each replicate draws `n // 2` of each set's n items,
    no item twice (a repeated row would lower a covariance's rank and raise FD, or put k(x, x) into an
    unbiased MMD^2). The replicates, centred on their mean (which removes the half-size bias), scaled
    by `sqrt(m (n - 1) / (n (n - m)))` (the spread of a mean of m of n items without replacement, relative
    to a mean of n independent draws: ~1 at m = n / 2), are added to the point estimate. The interval
    always holds the point estimate. Its coverage is checked by simulation in the tests."""
    rng = np.random.default_rng(seed)
    halves = [max(n // 2, 1) for n in groups]
    vals = _replicates(statistic, lambda: [rng.choice(n, m, replace=False) for n, m in zip(groups, halves, strict=True)],
                       samples, tick)
    method = "half-sampling without replacement, centred, covers E[value at these N]"
    if len(vals) < 2:
        return Interval(float("nan"), float("nan"), method, samples, len(vals))
    n, m = groups[0], halves[0]
    scale = np.sqrt(m * (n - 1) / (n * (n - m))) if n > m else 1.0
    q = np.percentile(vals - vals.mean(), [(1 - level) / 2 * 100, (1 + level) / 2 * 100]) * scale
    return Interval(float(min(point + q[0], point)), float(max(point + q[1], point)), method, samples, len(vals))


def paired_bootstrap(statistics: Sequence[Callable[[object], float | None]], draw: Callable[[np.random.Generator], object],
                     samples: int = 1000, seed: int = 0, better: str = "higher") -> list[np.ndarray]:
    """Paired bootstrap of differences to the first entry. statistics[k](draw) is entry k's statistic on
    the drawn units (the same draw for every entry, so the pairing by prompt and seed is kept); draw(rng)
    makes one replicate's draw. `better == "zero"` compares |statistic| (an offset: best at 0).
    -> for each entry after the first, the replicates' differences `[<= samples]` (entry - first);
    replicates where either statistic fails (None / NaN) are left out."""
    rng = np.random.default_rng(seed)
    diffs: list[list[float]] = [[] for _ in statistics[1:]]
    for _ in range(samples):
        d = draw(rng)
        base = statistics[0](d)
        if base is None or not np.isfinite(base):
            continue
        for k, stat in enumerate(statistics[1:]):
            v = stat(d)
            if v is not None and np.isfinite(v):
                diffs[k].append(abs(v) - abs(base) if better == "zero" else v - base)
    return [np.asarray(x, np.float64) for x in diffs]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap replicates."""
    lo, hi = np.percentile(values, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
