"""rlft.analysis.stats against hand-computed values of rliable's definitions, and the seeding of the bootstrap."""

import numpy as np
import pytest

from rlft.analysis import stats


@pytest.mark.parametrize("scores, expected", [
    ([1, 2, 3, 4, 5, 6, 7, 8], 4.5),          # 8 runs: drop 2 at each end, mean of 3, 4, 5, 6
    ([1, 2, 3, 4, 100], 3.0),                 # 5 runs: int(1.25) = 1 dropped at each end
    ([0, 0, 1, 100], 0.5),                    # 4 runs: the middle two
    ([0.2, 0.9, 0.4], 0.5),                   # 3 runs: int(0.75) = 0, nothing trimmed: the mean
    ([7.0], 7.0),
    ([[1, 10], [2, 20], [3, 30], [4, 40]], 9.25),   # runs x tasks, all 8 scores pooled: mean of 3, 4, 10, 20
    (list(range(10)), 4.5),                   # 10 runs: int(2.5) = 2 at each end, mean of 2..7
])  # fmt: skip
def test_iqm_is_scipy_trim_mean_quarter(scores, expected):
    assert float(stats.iqm(scores)) == pytest.approx(expected)


@pytest.mark.parametrize("scores, mean, median", [
    ([0, 0.1, 0.2, 0.3, 0.4, 1.0], 2.0 / 6, 0.25),
    ([[0, 10], [1, 30]], 10.25, 10.25),       # per-task means 0.5 and 20: mean and median over tasks
    ([[0, 10, 4], [2, 30, 4]], 25 / 3, 4.0),  # per-task means 1, 20, 4
])  # fmt: skip
def test_mean_and_median(scores, mean, median):
    assert float(stats.mean(scores)) == pytest.approx(mean)
    assert float(stats.median(scores)) == pytest.approx(median)


@pytest.mark.parametrize("x, y, expected", [
    ([1, 2, 3], [1, 1, 4], 5 / 9),            # ties count half: (0.5 + 0.5 + 0 + 1 + 1 + 0 + 1 + 1 + 0) / 9
    ([3, 4], [1, 2], 1.0),
    ([1, 2], [3, 4], 0.0),
    ([1, 2, 3], [1, 2, 3], 0.5),              # rliable's special case for identical arrays agrees
    ([1, 1], [1], 0.5),
    ([[1, 0], [2, 0]], [[0, 1], [3, 1]], 0.25),   # task 1: 2/4, task 2: 0/4; averaged over tasks
])  # fmt: skip
def test_probability_of_improvement_is_mann_whitney_u_over_nm(x, y, expected):
    assert float(stats.probability_of_improvement(x, y)) == pytest.approx(expected)
    if np.ndim(x) == 1:
        assert float(stats.probability_of_improvement(y, x)) == pytest.approx(1 - expected)


def test_performance_profile_counts_runs_strictly_above_tau():
    assert stats.performance_profile([0.2, 0.5, 0.5, 0.9], [0.0, 0.2, 0.5, 0.9]).tolist() == [1.0, 0.75, 0.25, 0.0]
    assert stats.performance_profile([[0, 1], [2, 3]], [0.5, 2.5]).tolist() == [0.75, 0.25]   # all runs x tasks


# Bootstrap distributions small enough to write down: the resample of n runs has k copies of the 1.
# [0, 1]: mean 0 / 0.5 / 1 with probability 1/4, 1/2, 1/4, so the 2.5% and 97.5% percentiles are 0 and 1.
# [0, 0, 0, 1]: k ~ Binomial(4, 1/4): P(k <= 1) = 0.738, P(k <= 2) = 0.949, P(k <= 3) = 0.996.
#   mean = k / 4: 97.5% percentile at k = 3 -> 0.75; IQM and median (middle two of four sorted) are 0 for
#   k <= 1, 0.5 for k = 2 and 1 for k >= 3 -> 97.5% percentile 1.0.
@pytest.mark.parametrize("scores, statistic, expected", [
    ([0, 1], stats.mean, (0.0, 1.0)),
    ([0, 0, 0, 1], stats.mean, (0.0, 0.75)),
    ([0, 0, 0, 1], stats.iqm, (0.0, 1.0)),
    ([0, 0, 0, 1], stats.median, (0.0, 1.0)),
    ([0.3, 0.3, 0.3], stats.iqm, (0.3, 0.3)),
])  # fmt: skip
def test_bootstrap_intervals_match_hand_computed_percentiles(scores, statistic, expected):
    assert stats.interval(scores, statistic, reps=20_000, seed=0) == pytest.approx(expected)


def test_bootstrap_is_stratified_within_tasks():
    # [[0, 0], [1, 1]]: tasks resampled independently, each task mean is 0, 0.5, 1 w.p. 1/4, 1/2, 1/4;
    # the aggregate mean is 0.5 w.p. 1/2 * 1/2 + 2 * 1/16 = 3/8 (resampling whole rows would give 1/2)
    replicates = stats.bootstrap([[0.0, 0.0], [1.0, 1.0]], stats.mean, reps=20_000, seed=0)
    assert abs(float((replicates == 0.5).mean()) - 3 / 8) < 0.02


def test_bootstrap_is_seeded():
    x = [0.1, 0.4, 0.35, 0.8, 0.5, 0.65]
    a = stats.bootstrap(x, stats.iqm, reps=3000, seed=1)
    assert np.array_equal(a, stats.bootstrap(x, stats.iqm, reps=3000, seed=1))
    assert not np.array_equal(a, stats.bootstrap(x, stats.iqm, reps=3000, seed=2))
    assert np.array_equal(a[:2000], stats.bootstrap(x, stats.iqm, reps=2000, seed=1))   # more reps extend
    assert stats.interval(x, stats.iqm, reps=3000, seed=1) == stats.interval(x, stats.iqm, reps=3000, seed=1)
    low, high = stats.interval(x, stats.iqm, reps=3000, seed=1)
    assert low <= float(stats.iqm(x)) <= high


def test_improvement_interval():
    assert stats.improvement_interval([3, 4, 5], [0, 1, 2], reps=2000) == (1.0, 1.0)
    low, high = stats.improvement_interval([0.1, 0.5, 0.9, 0.4], [0.2, 0.3, 0.6, 0.35], reps=4000, seed=3)
    assert 0.0 <= low < stats.probability_of_improvement([0.1, 0.5, 0.9, 0.4], [0.2, 0.3, 0.6, 0.35]) < high <= 1.0


def test_profile_band_contains_the_profile():
    x, taus = [0.1, 0.4, 0.5, 0.9], stats.tau_grid([[0.1, 0.9]], points=11)
    low, high = stats.profile_band(x, taus, reps=2000)
    profile = stats.performance_profile(x, taus)
    assert profile[0] == 1.0 and profile[-1] == 0.0
    assert (low <= profile).all() and (profile <= high).all()


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [[]]])
def test_bad_scores_are_refused(bad):
    with pytest.raises(ValueError):
        stats.iqm(bad)
