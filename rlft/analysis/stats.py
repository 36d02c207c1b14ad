"""Aggregate statistics over runs for honest multi-seed comparisons, after rliable.

The definitions follow "Deep Reinforcement Learning at the Edge of the Statistical Precipice" (Agarwal et al.
2021) and its library `rliable` (`rliable/metrics.py`, `rliable/library.py`), re-implemented on numpy alone
(rlft does not depend on scipy or arch):

- scores are a (runs,) array (one task) or a (runs, tasks) array; every statistic reduces the last two axes,
  so a stack of bootstrap resamples (reps, runs, tasks) is reduced in one call;
- IQM is `scipy.stats.trim_mean(scores, 0.25, axis=None)` (`metrics.aggregate_iqm`): sort all runs of all
  tasks, drop int(0.25 * N) from each end, average the rest;
- the stratified bootstrap resamples runs with replacement within each task (`StratifiedBootstrap`) and
  takes percentile intervals (`get_interval_estimates(method="percentile")`, i.e. arch's `np.percentile`
  of the replicates at (1 - c) / 2 and (1 + c) / 2);
- probability of improvement is the Mann-Whitney U statistic over n * m (`metrics.probability_of_improvement`),
  averaged over tasks, with x and y resampled independently for its interval
  (`StratifiedIndependentBootstrap`);
- the performance profile is the fraction of runs (of all tasks) with a score above tau
  (`library.run_score_deviation`).

Every random draw comes from a `numpy.random.Generator` built from an explicit seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

REPS = 50_000  # rliable's get_interval_estimates default
CONFIDENCE = 0.95
CHUNK = 2_000  # bootstrap replicates drawn per step (memory bound); fixed, so results do not depend on it


def runs_tasks(scores) -> np.ndarray:
    """Scores as a float array of shape (..., runs, tasks): a 1-D array is one task.

    >>> runs_tasks([1, 2, 3]).shape
    (3, 1)
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim == 0 or x.shape[-1] == 0 or (x.ndim > 1 and x.shape[-2] == 0):
        raise ValueError(f"need at least one score, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("scores must be finite numbers (no NaN or inf)")
    return x[:, None] if x.ndim == 1 else x


def trim_mean(values, proportion: float) -> np.ndarray:
    """Mean of the last axis after dropping int(proportion * n) values from each end (scipy's trim_mean).

    >>> float(trim_mean([1, 2, 3, 4, 5, 6, 7, 8], 0.25))   # drops 1, 2 and 7, 8
    4.5
    >>> float(trim_mean([1, 2, 3, 4, 100], 0.25))          # int(1.25) = 1 from each end: mean of 2, 3, 4
    3.0
    """
    x = np.sort(np.asarray(values, dtype=float), axis=-1)
    n = x.shape[-1]
    cut = int(proportion * n)
    if cut >= n - cut:
        raise ValueError(f"proportion {proportion} leaves nothing of {n} values")
    return x[..., cut : n - cut].mean(axis=-1)


def iqm(scores) -> np.ndarray:
    """Interquartile mean over all runs and tasks: the mean of the middle 50% (rliable `aggregate_iqm`).

    >>> float(iqm([[1, 10], [2, 20], [3, 30], [4, 40]]))   # 8 scores: mean of 3, 4, 10, 20
    9.25
    >>> float(iqm([0.5, 0.1, 0.9]))                        # fewer than 4 runs: nothing is trimmed
    0.5
    """
    x = runs_tasks(scores)
    return trim_mean(x.reshape(*x.shape[:-2], -1), 0.25)


def mean(scores) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable `aggregate_mean`).

    >>> float(mean([[0, 10], [1, 30]]))
    10.25
    """
    return runs_tasks(scores).mean(axis=-2).mean(axis=-1)


def median(scores) -> np.ndarray:
    """With one task, the median over runs; with several, the median over tasks of per-task means
    (rliable `aggregate_median`, which with one task would only repeat the mean).

    >>> float(median([0.1, 0.2, 0.9]))
    0.2
    >>> float(median([[0, 10, 4], [2, 30, 4]]))            # task means 1, 20, 4
    4.0
    """
    x = runs_tasks(scores)
    if x.shape[-1] == 1:
        return np.median(x[..., 0], axis=-1)
    return np.median(x.mean(axis=-2), axis=-1)


STATISTICS: dict[str, Callable] = {"mean": mean, "median": median, "iqm": iqm}


def resample(scores, rng: np.random.Generator, reps: int) -> np.ndarray:
    """`reps` stratified bootstrap resamples, shape (reps, runs, tasks): for every task its runs are drawn
    with replacement from that task's runs (rliable `StratifiedBootstrap`, bootstrapping runs, not tasks)."""
    x = runs_tasks(scores)
    runs, tasks = x.shape
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return x[idx, np.arange(tasks)]


def bootstrap(scores, statistic: Callable, reps: int = REPS, seed: int = 0) -> np.ndarray:
    """The statistic on `reps` stratified bootstrap resamples of `scores` (one value per replicate).

    >>> reps = bootstrap([0.0, 1.0], mean, reps=4000, seed=0)   # resample means 0, 0.5, 1 w.p. 1/4, 1/2, 1/4
    >>> sorted(set(reps.tolist())), round(float((reps == 0.5).mean()), 1)
    ([0.0, 0.5, 1.0], 0.5)
    """
    rng = np.random.default_rng(seed)
    out = [statistic(resample(scores, rng, min(CHUNK, reps - done))) for done in range(0, reps, CHUNK)]
    return np.concatenate(out)


def percentile_interval(replicates, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """(low, high): the (1 - c) / 2 and (1 + c) / 2 percentiles of the replicates, linear interpolation
    (arch's `conf_int(method="percentile")`, which rliable calls).

    >>> [round(v, 9) for v in percentile_interval(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(np.asarray(replicates, dtype=float), [tail, 100.0 - tail], axis=0)
    return float(low), float(high)


def interval(scores, statistic: Callable, reps: int = REPS, confidence: float = CONFIDENCE,
             seed: int = 0) -> tuple[float, float]:
    """Stratified bootstrap percentile interval of a statistic (rliable `get_interval_estimates`).

    >>> interval([0, 0, 0, 1], mean, reps=20000, seed=0)   # P(resample mean <= 0.5) = 0.949 < 0.975
    (0.0, 0.75)
    """
    return percentile_interval(bootstrap(scores, statistic, reps, seed), confidence)


def probability_of_improvement(x, y) -> np.ndarray:
    """P(X > Y): over all pairs of a run of x and a run of y on the same task, 1 when x's score is higher,
    1/2 on a tie, 0 below (Mann-Whitney U / (n * m)), averaged over tasks (rliable
    `probability_of_improvement`). Takes (..., runs, tasks) stacks like the other statistics.

    >>> float(probability_of_improvement([1, 2, 3], [1, 1, 4]))   # (0.5 + 0.5 + 2 + 2) / 9
    0.5555555555555556
    """
    a, b = runs_tasks(x), runs_tasks(y)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"x has {a.shape[-1]} tasks and y {b.shape[-1]}")
    diff = a[..., :, None, :] - b[..., None, :, :]  # (..., n, m, tasks)
    wins = (diff > 0) + 0.5 * (diff == 0)
    return wins.mean(axis=(-3, -2)).mean(axis=-1)


def improvement_interval(x, y, reps: int = REPS, confidence: float = CONFIDENCE,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile interval of P(X > Y), resampling the runs of x and of y independently, each within its
    tasks (rliable `StratifiedIndependentBootstrap`)."""
    rng = np.random.default_rng(seed)
    out = []
    for done in range(0, reps, CHUNK):
        k = min(CHUNK, reps - done)
        out.append(probability_of_improvement(resample(x, rng, k), resample(y, rng, k)))
    return percentile_interval(np.concatenate(out), confidence)


def performance_profile(scores, taus) -> np.ndarray:
    """Fraction of runs (of all tasks) whose score is above each tau: the score distribution of rliable
    (`run_score_deviation`), a stack of resamples giving one profile per replicate.

    >>> performance_profile([0.2, 0.5, 0.5, 0.9], [0.0, 0.5, 0.9]).tolist()
    [1.0, 0.25, 0.0]
    """
    x = runs_tasks(scores)
    flat = x.reshape(*x.shape[:-2], -1)
    return (flat[..., None, :] > np.asarray(taus, dtype=float)[:, None]).mean(axis=-1)


def profile_band(scores, taus, reps: int = REPS, confidence: float = CONFIDENCE,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile intervals of the performance profile (rliable `create_performance_profile`)."""
    reps_ = bootstrap(scores, lambda s: performance_profile(s, taus), reps, seed)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(reps_, [tail, 100.0 - tail], axis=0)
    return low, high


def tau_grid(all_scores, points: int = 101) -> np.ndarray:
    """Thresholds for a performance profile: from a little below the lowest score seen (so every profile
    starts at 1) to the highest (where every profile is 0).

    >>> tau_grid([[0.2, 1.0], [0.6]], points=5).round(3).tolist()
    [0.16, 0.37, 0.58, 0.79, 1.0]
    """
    values = np.concatenate([np.ravel(np.asarray(s, dtype=float)) for s in all_scores])
    low, high = float(values.min()), float(values.max())
    span = high - low if high > low else 1.0
    return np.linspace(low - 0.05 * span, high, points)
