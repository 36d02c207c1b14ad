"""AdaStop's decisions on synthetic scores: nothing is trained."""

import numpy as np
import pytest

from rlft.analysis.adastop import AdaStop, run


def quiet(line):
    pass


def normal(means, sd=0.05, seed=0):
    """sample(name, interim) drawing 5 scores from N(means[name], sd)."""
    rng = np.random.default_rng(seed)
    return lambda name, k: rng.normal(means[name], sd, 5)


def test_clearly_different_variants_are_decided_at_the_first_interim():
    test = run(["good", "bad"], normal({"good": 0.8, "bad": 0.2}), batch=5, interims=4, echo=quiet)
    assert test.decisions == {("good", "bad"): "larger"}
    assert test.decided_at == {("good", "bad"): 1} and test.seeds == {"good": 5, "bad": 5}
    result = test.result()
    assert result["finished"] and result["interims_run"] == 1 and result["pairs"][0]["decision"] == "larger"
    flipped = run(["bad", "good"], normal({"good": 0.8, "bad": 0.2}), batch=5, interims=4, echo=quiet)
    assert flipped.decisions == {("bad", "good"): "smaller"}


def test_identical_distributions_are_declared_equal_at_the_budget():
    test = run(["a", "b", "c"], normal({"a": 0.5, "b": 0.5, "c": 0.5}, sd=0.1, seed=4), batch=5, interims=3,
               echo=quiet)
    assert set(test.decisions.values()) == {"equal"}
    assert test.seeds == {"a": 15, "b": 15, "c": 15} and test.k == 3


def test_decided_variants_stop_getting_seeds():
    # c is far below a and b, which are alike: c's comparisons end early, a vs b runs to the budget
    test = run(["a", "b", "c"], normal({"a": 0.7, "b": 0.7, "c": 0.1}, sd=0.05, seed=1), batch=5, interims=3,
               echo=quiet)
    assert test.decisions == {("a", "b"): "equal", ("a", "c"): "larger", ("b", "c"): "larger"}
    assert test.decided_at[("a", "c")] == 1 and test.decided_at[("a", "b")] == 3
    assert test.seeds == {"a": 15, "b": 15, "c": 5}


def test_family_wise_error_stays_near_alpha():
    rng = np.random.default_rng(123)
    wrong = 0
    for i in range(100):
        test = run(["a", "b", "c"], lambda n, k: rng.normal(0.0, 1.0, 5), batch=5, interims=4, alpha=0.05,
                   permutations=2000, seed=i, echo=quiet)
        wrong += any(d != "equal" for d in test.decisions.values())
    assert wrong <= 12   # alpha = 0.05 on 100 tests; 12 is 3 standard deviations above 5


def test_ties_and_single_seed_batches_never_reject():
    for batch in (1, 5):
        test = run(["a", "b"], lambda n, k, b=batch: [0.5] * b, batch=batch, interims=3, echo=quiet)
        assert test.decisions == {("a", "b"): "equal"} and test.level_spent == 0.0
    # one seed per batch: the two splits of a pair give the same |difference|, so nothing can be rejected
    test = run(["a", "b"], lambda n, k: [1.0 if n == "a" else 0.0], batch=1, interims=4, echo=quiet)
    assert test.decisions == {("a", "b"): "equal"}


def test_the_test_is_seeded():
    def boundaries(seed):
        test = run(["a", "b"], normal({"a": 0.5, "b": 0.52}, sd=0.1), batch=5, interims=3, permutations=500,
                   seed=seed, echo=quiet)
        return test.boundaries

    assert boundaries(0) == boundaries(0)
    assert boundaries(0) != boundaries(1)


def test_update_checks_its_input():
    test = AdaStop(["a", "b"], batch=2, interims=2)
    with pytest.raises(ValueError, match="needs scores for"):
        test.update({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="2 finite scores"):
        test.update({"a": [1.0], "b": [2.0, 3.0]})
    with pytest.raises(ValueError, match="two or more"):
        AdaStop(["a"], batch=2, interims=2)
