"""rlft's AdaStop against the reference package (`adastop` 0.1.3, `MultipleAgentsComparator`) on the same scores.

Both run with the same K (interims), n (batch), B = 10000 permutations and alpha = 0.05, and are fed the same
per-seed scores in the same order; a variant gets new scores only while one of its comparisons is undecided
(the loop of the reference's docstring). Decisions, the interim of each decision and the seeds used must be
equal. The permutations cannot be the same draws (the reference enumerates all splits of a batch when there
are fewer than B, and samples with a legacy RandomState otherwise; rlft samples with a Generator), so the
scenarios keep every decision away from its boundary.

One difference is by design and is tested as such: the reference takes its boundary from the signed maximum
of the permuted differences while its statistic is |difference|, so its two-sided test rejects at twice
alpha. `TwoSided` below is the reference with that maximum taken over |differences|; rlft agrees with it and,
in the scenarios away from that edge, with the package as published.
"""

import itertools

import numpy as np
import pytest
from adastop import MultipleAgentsComparator

from rlft.analysis.adastop import PERMUTATIONS, AdaStop, run

ALPHA = 0.05
BATCH = 5


class TwoSided(MultipleAgentsComparator):
    """The reference, its permutation maximum over |permuted differences| like its observed statistic.

    `partial_compare` takes the maximum over comparisons of what `compute_mean_diffs` returns; the signed sums
    it keeps for later interims (`self.mean_diffs`) are left as they are.
    """

    def compute_mean_diffs(self, k, Z):
        return {c: np.abs(v) for c, v in super().compute_mean_diffs(k, Z).items()}


def reference(scores, interims, comparator=MultipleAgentsComparator, seed=0):
    """Run the reference to its end; returns (decisions, interim of each decision, seeds used) keyed like rlft."""
    names = list(scores)
    test = comparator(n=BATCH, K=interims, B=PERMUTATIONS, alpha=ALPHA, seed=seed)
    used, decided_at = dict.fromkeys(names, 0), {}
    while not test.is_finished:
        active = names if test.k == 0 else {names[i] for pair in test.current_comparisons for i in pair}
        for name in active:
            used[name] += BATCH
        test.partial_compare({name: np.asarray(scores[name][: used[name]]) for name in names}, verbose=False)
        for i, j in test.comparisons:
            if test.decisions[str(np.array([i, j]))] != "continue":
                decided_at.setdefault((names[i], names[j]), test.k)
    decisions = {(names[i], names[j]): test.decisions[str(np.array([i, j]))] for i, j in test.comparisons}
    return decisions, decided_at, used


def ours(scores, interims, seed=0):
    """rlft's test on the same scores: interim k gives each active variant its k-th batch."""
    test = run(
        list(scores),
        lambda name, k: scores[name][k * BATCH : (k + 1) * BATCH],
        batch=BATCH,
        interims=interims,
        alpha=ALPHA,
        permutations=PERMUTATIONS,
        seed=seed,
        echo=lambda line: None,
    )
    return test.decisions, test.decided_at, test.seeds


def normal(spec, interims, seed):
    """Scores of each variant drawn from N(mean, sd), `spec` = {name: (mean, sd)}."""
    rng = np.random.default_rng(seed)
    return {name: rng.normal(mean, sd, BATCH * interims) for name, (mean, sd) in spec.items()}


def late_difference(interims):
    """a and b have equal means on the first batch and lie far apart after; c lies far below both throughout.

    The pair (a, b) can only be decided from interim 2 on, after c has left (its comparisons are decided at
    interim 1): a permutation null that pooled c's scores into (a, b) would never tell a from b.
    """
    rng = np.random.default_rng(0)
    first = rng.normal(0.5, 0.05, (2, BATCH))
    first += first.mean() - first.mean(axis=1, keepdims=True)
    later = BATCH * (interims - 1)
    return {
        "a": np.concatenate([first[0], rng.normal(1.0, 0.05, later)]),
        "b": np.concatenate([first[1], rng.normal(0.0, 0.05, later)]),
        "c": rng.normal(-3.0, 0.05, BATCH * interims),
    }


SCENARIOS = {
    "clear winner": (normal({"good": (0.8, 0.05), "bad": (0.2, 0.05)}, 4, seed=0), 4),
    "clear winner, named second": (normal({"bad": (0.2, 0.05), "good": (0.8, 0.05)}, 4, seed=0), 4),
    "three equal variants": (normal({"a": (0.5, 0.1), "b": (0.5, 0.1), "c": (0.5, 0.1)}, 3, seed=4), 3),
    "two alike, one far below": (normal({"a": (0.7, 0.05), "b": (0.7, 0.05), "c": (0.1, 0.05)}, 3, seed=1), 3),
    "four variants far apart": (normal({v: (m, 0.05) for v, m in zip("abcd", [0.9, 0.6, 0.3, 0.0])}, 3, seed=2), 3),
    "a late difference beside a far variant": (late_difference(3), 3),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_decisions_interims_and_seeds_as_the_reference(name):
    scores, interims = SCENARIOS[name]
    expected = reference(scores, interims)
    assert ours(scores, interims) == expected
    assert reference(scores, interims, TwoSided) == expected
    assert ours(scores, interims, seed=1) == expected  # no decision hangs on the permutation draws


def test_scenarios_cover_each_outcome():
    # the scenarios above are only worth their agreement if they span the outcomes: larger, smaller and equal,
    # decided at the first interim, at a later one, and at the budget, with variants leaving early
    outcomes, interims, early_leavers = set(), set(), 0
    for scores, budget in SCENARIOS.values():
        decisions, decided_at, seeds = ours(scores, budget)
        outcomes |= set(decisions.values())
        interims |= {"first" if k == 1 else "budget" if k == budget else "later" for k in decided_at.values()}
        early_leavers += sum(n < BATCH * budget for n in seeds.values())
    assert outcomes == {"larger", "smaller", "equal"} and interims == {"first", "later", "budget"}
    assert early_leavers > 0


def exact_two_sided_p(a, b):
    """Exact permutation p-value of |mean(a) - mean(b)|: the share of all splits of a + b at least as far apart."""
    z, n = np.concatenate([a, b]), len(a)
    splits = np.array(list(itertools.combinations(range(z.size), n)))
    mask = np.zeros((len(splits), z.size), dtype=bool)
    np.put_along_axis(mask, splits, True, axis=1)
    diffs = np.abs((mask * z).sum(axis=1) / n - (~mask * z).sum(axis=1) / len(b))
    return float(np.mean(diffs >= abs(a.mean() - b.mean()) - 1e-12))


def test_the_reference_rejects_at_twice_alpha_and_rlft_does_not():
    # one interim of two variants whose exact two-sided p-value lies between alpha and 2 alpha, kept 4 Monte
    # Carlo standard errors of rlft's B permutations away from both ends
    margin = 4 * np.sqrt(ALPHA * (1 - ALPHA) / PERMUTATIONS)
    for seed in itertools.count():
        scores = normal({"a": (1.0, 1.0), "b": (0.0, 1.0)}, 1, seed)
        p = exact_two_sided_p(scores["a"], scores["b"])
        if ALPHA + margin < p < 2 * ALPHA - margin:
            break
    published, _, _ = reference(scores, 1)
    two_sided, _, _ = reference(scores, 1, TwoSided)
    rlft, _, _ = ours(scores, 1)
    assert published == {("a", "b"): "larger"}  # p > alpha, yet rejected
    assert two_sided == rlft == {("a", "b"): "equal"}


def test_each_comparison_keeps_its_level_beside_steadier_variants():
    # a and c are identical; two steady variants beside them have almost no spread. The null of (a, c) must come
    # from a's and c's scores alone: pooling all four variants into one permutation told a from c in about 10%
    # of tests at alpha 0.05. Allowed: alpha plus 3 standard errors of this many tests
    rng, tests, wrong = np.random.default_rng(3), 600, 0
    names = ["a", "c", "steady1", "steady2"]
    for seed in range(tests):
        test = AdaStop(names, batch=BATCH, interims=1, alpha=ALPHA, permutations=500, seed=seed)
        test.update({n: rng.normal(0, 1 if n in ("a", "c") else 0.01, BATCH) for n in names})
        wrong += test.decisions[("a", "c")] != "equal"
    assert wrong / tests <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / tests)
