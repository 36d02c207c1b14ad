"""rlft.stats against rliable 1.2.0 (`rliable.metrics`, `rliable.library`) on the same data.

Point estimates (IQM, mean, median, probability of improvement, performance profile) must agree to 1e-12.

Intervals are compared exactly too, on the same bootstrap resamples. rlft draws its resample indices from a
seeded `numpy.random.Generator`; rliable's `StratifiedBootstrap.update_indices` draws them with
`np.random.choice` from numpy's global legacy generator, one (runs, tasks) array per replicate (its
`random_state` argument does not reach that draw). The tests record the indices rlft draws and hand them to
rliable's `np.random.choice` in the same order, so both reduce identical replicates with the same statistic,
number of resamples and confidence: any difference left is a difference of method (stratification, which
array is resampled, percentile convention), and none is allowed beyond rounding.

rliable.library imports arch.bootstrap; see `rliable_library` for what that needs on pandas 3.
"""

import inspect
import itertools

import numpy as np
import pytest
from rliable import metrics

from rlft.analysis import stats

EXACT = 1e-12
GENERATOR = np.random.default_rng  # the real one, while tests record rlft's draws through a stand-in


def rliable_library():
    """`rliable.library`, imported through arch 7.2.0 on pandas 3.

    rliable 1.2.0 requires arch<8 (arch 8 refuses the `random_state=None` that rliable passes on), and arch
    7.2.0, the last below 8, fails to import on pandas 3: `arch/univariate/base.py` decorates a method with
    pandas' private `deprecate_kwarg(old, new)`, which pandas 3 turned into `deprecate_kwarg(klass, old, new)`
    (TypeError: missing 'new_arg_name'). While arch imports, that one decorator is given its old signature
    with FutureWarning as the class; arch's bootstrap code, which rliable uses, runs unchanged.
    """
    from pandas.util import _decorators

    original = _decorators.deprecate_kwarg
    if next(iter(inspect.signature(original).parameters)) == "klass":

        def old_signature(old_arg_name, new_arg_name, *args, **kwargs):
            return original(FutureWarning, old_arg_name, new_arg_name, *args, **kwargs)

        _decorators.deprecate_kwarg = old_signature
    try:
        import arch.bootstrap  # noqa: F401
    finally:
        _decorators.deprecate_kwarg = original
    from rliable import library

    return library


rly = rliable_library()


def datasets():
    """(runs, tasks) score arrays of different shapes: ties, fewer runs than the IQM trims, several tasks."""
    rng = np.random.default_rng(2024)
    return {
        "10 runs": rng.normal(0.5, 0.2, (10, 1)),
        "6 runs with ties": np.round(rng.uniform(0, 1, (6, 1)), 1),
        "3 runs, nothing trimmed": rng.uniform(0, 1, (3, 1)),
        "8 runs x 3 tasks": rng.normal(0, 1, (8, 3)),
        "5 runs x 4 tasks with ties": np.round(rng.uniform(0, 1, (5, 4)), 1),
        "all runs equal": np.repeat(rng.uniform(0, 1, (1, 2)), 4, axis=0),
        # the x of rliable's tests/rliable/metrics_test.py
        "rliable metrics_test": np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float),
    }


DATA = datasets()


def pairs():
    """(x, y) pairs for P(X > Y): ties, different run counts, identical arrays, several tasks, no overlap."""
    rng = np.random.default_rng(7)
    x_ties = np.round(rng.uniform(0, 1, (6, 1)), 1)
    separated = rng.uniform(0, 1, (4, 2))
    return {
        "ties, 6 vs 5 runs": (x_ties, np.round(rng.uniform(0, 1, (5, 1)), 1)),
        "identical arrays": (x_ties, x_ties.copy()),
        "8 vs 6 runs x 3 tasks": (rng.normal(0.2, 1, (8, 3)), rng.normal(0, 1, (6, 3))),
        "no overlap": (separated + 1, separated),
        # x and y of rliable's tests/rliable/metrics_test.py
        "rliable metrics_test": (DATA["rliable metrics_test"], np.array([[1, 1], [2, 2], [3, 3]], dtype=float)),
    }


PAIRS = pairs()


@pytest.mark.parametrize("name", list(DATA))
def test_point_estimates_equal_rliable(name):
    x = DATA[name]
    assert float(stats.iqm(x)) == pytest.approx(metrics.aggregate_iqm(x), abs=EXACT)
    assert float(stats.mean(x)) == pytest.approx(metrics.aggregate_mean(x), abs=EXACT)
    if x.shape[1] > 1:
        assert float(stats.median(x)) == pytest.approx(metrics.aggregate_median(x), abs=EXACT)
    else:
        # rliable's median is over tasks of per-task means: with one task it repeats the mean, so rlft takes the
        # median over runs there (docs/compare.md, implementation detail 3)
        assert metrics.aggregate_median(x) == pytest.approx(metrics.aggregate_mean(x), abs=EXACT)
        assert float(stats.median(x)) == pytest.approx(np.median(x), abs=EXACT)


@pytest.mark.parametrize("name", list(PAIRS))
def test_probability_of_improvement_equals_rliable(name):
    x, y = PAIRS[name]
    assert float(stats.probability_of_improvement(x, y)) == pytest.approx(
        metrics.probability_of_improvement(x, y), abs=EXACT
    )
    assert float(stats.probability_of_improvement(y, x)) == pytest.approx(
        metrics.probability_of_improvement(y, x), abs=EXACT
    )


class Recorder:
    """A seeded Generator that keeps every index array drawn through `integers` (rlft.stats draws no other way)."""

    def __init__(self, seed):
        self.rng, self.draws = GENERATOR(seed), []

    def integers(self, *args, **kwargs):
        out = self.rng.integers(*args, **kwargs)
        self.draws.append(out)
        return out


def rlft_draws(monkeypatch, function, *args, **kwargs):
    """Run an rlft.stats function; return its result and the index arrays it drew, in order."""
    recorders = []

    def recording(seed):
        recorders.append(Recorder(seed))
        return recorders[-1]

    with monkeypatch.context() as patch:
        patch.setattr(stats.np.random, "default_rng", recording)
        result = function(*args, **kwargs)
    return result, [draw for recorder in recorders for draw in recorder.draws]


def replay(monkeypatch, indices):
    """Make np.random.choice return `indices` one replicate after another, checking what rliable asks for."""
    queue = list(indices)

    def choice(a, size=None, replace=True, p=None):
        out = queue.pop(0)
        assert replace and p is None and out.shape == tuple(size) and out.max() < a
        return out

    monkeypatch.setattr(np.random, "choice", choice)
    return queue


def aggregates(scores):
    """IQM, mean and median in one array, as rliable's own tests pass them to get_interval_estimates."""
    return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores), metrics.aggregate_median(scores)])


@pytest.mark.parametrize("name, confidence", list(zip(DATA, itertools.cycle([0.95, 0.9, 0.99, 0.8]))))
def test_stratified_bootstrap_intervals_equal_rliable_on_the_same_resamples(monkeypatch, name, confidence):
    x, reps, seed = DATA[name], 600, 11
    compared = [stats.iqm, stats.mean] + ([stats.median] if x.shape[1] > 1 else [])  # one task: see above
    ours = {}
    for statistic in compared:  # the same seed: every statistic is reduced from the same resamples
        ours[statistic], draws = rlft_draws(monkeypatch, stats.interval, x, statistic, reps, confidence, seed)
    queue = replay(monkeypatch, np.concatenate(draws))  # one (runs, tasks) index array per replicate
    _, intervals = rly.get_interval_estimates({name: x}, aggregates, reps=reps, confidence_interval_size=confidence)
    assert queue == []  # rliable drew exactly the replicates rlft did
    low, high = intervals[name]
    for column, statistic in enumerate(compared):
        assert ours[statistic] == pytest.approx((low[column], high[column]), abs=EXACT)


@pytest.mark.parametrize("name, reps", [("ties, 6 vs 5 runs", 300), ("8 vs 6 runs x 3 tasks", 100)])
def test_improvement_interval_equals_rliable_on_the_same_resamples(monkeypatch, name, reps):
    # rliable's StratifiedIndependentBootstrap draws x's indices, then y's, for every replicate; rlft draws a
    # chunk of x's replicates, then the same chunk of y's
    x, y = PAIRS[name]
    ours, draws = rlft_draws(monkeypatch, stats.improvement_interval, x, y, reps, 0.95, 5)
    xs, ys = np.concatenate(draws[0::2]), np.concatenate(draws[1::2])
    queue = replay(monkeypatch, [index for pair in zip(xs, ys) for index in pair])
    _, intervals = rly.get_interval_estimates({name: [x, y]}, metrics.probability_of_improvement, reps=reps)
    assert queue == []
    assert ours == pytest.approx(tuple(intervals[name][:, 0]), abs=EXACT)


@pytest.mark.parametrize("name", ["10 runs", "5 runs x 4 tasks with ties"])
def test_performance_profile_and_band_equal_rliable(monkeypatch, name):
    x, reps = DATA[name], 500
    taus = stats.tau_grid([x], points=21)
    (low, high), draws = rlft_draws(monkeypatch, stats.profile_band, x, taus, reps, 0.95, 3)
    queue = replay(monkeypatch, np.concatenate(draws))
    profiles, bands = rly.create_performance_profile({name: x}, taus, reps=reps)
    assert queue == []
    np.testing.assert_allclose(stats.performance_profile(x, taus), profiles[name], rtol=0, atol=EXACT)
    np.testing.assert_allclose(low, bands[name][0], rtol=0, atol=EXACT)
    np.testing.assert_allclose(high, bands[name][1], rtol=0, atol=EXACT)
