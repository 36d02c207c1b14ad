"""AdaStop: a sequential test that adds seeds in batches until every pair of variants is told apart.

After "AdaStop: adaptive statistical testing for sound comparisons of Deep RL agents" (Mathieu et al. 2023,
arXiv:2306.10882; reference code github.com/TimotheeMathieu/adastop, `MultipleAgentsComparator`):

- at interim k (1..K) every variant still in an undecided comparison gets `batch` new scores;
- the statistic of a comparison (i, j) is |sum over interims of (mean of i's batch - mean of j's batch)|;
- its null distribution comes from permutations of each interim's scores of the two variants compared
  (identity first): one random split of the 2 * batch positions per permutation, applied to every comparison,
  as the reference's enumeration does. A comparison's null then depends on its own two variants only; pooling
  all variants would let a third variant's scores leak into it (identical variants beside a noisier one are
  told apart too often, and a pair beside a distant variant is never told apart);
- the family-wise level alpha is spent linearly, alpha * k / K by interim k; a permutation path that crossed
  an earlier boundary is removed (the conditional distribution of a group-sequential test);
- step-down: reject the comparison with the largest statistic if it exceeds the boundary of the max over
  the comparisons still undecided, recompute the boundary without it, repeat;
- a rejected comparison is "larger" or "smaller" by the sign of the summed differences; comparisons still
  undecided after K interims are "equal" (the test accepts the null, AdaStop's convention).

Simplifications: random permutations only (the reference enumerates all of them when there are fewer than
B), no early acceptance (the reference's beta, 0 by default). The permutation statistic is the two-sided |.|
like the observed one; the reference takes the signed maximum, which rejects at twice alpha
(tests/test_adastop_reference.py).
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05
PERMUTATIONS = 10_000  # the reference's B default
DECIMALS = 9  # sums are rounded so that mathematically equal statistics compare equal


class AdaStop:
    """The state of one AdaStop comparison of `names`, fed one interim at a time with `update`.

    >>> test = AdaStop(["a", "b"], batch=5, interims=4, seed=0)
    >>> _ = test.update({"a": [0.9, 0.8, 0.85, 0.95, 0.9], "b": [0.1, 0.2, 0.15, 0.05, 0.1]})
    >>> test.decisions, test.finished
    ({('a', 'b'): 'larger'}, True)
    """

    def __init__(
        self,
        names: list[str],
        batch: int,
        interims: int,
        alpha: float = ALPHA,
        permutations: int = PERMUTATIONS,
        seed: int = 0,
    ):
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"AdaStop compares two or more distinct variants, got {names}")
        if batch < 1 or interims < 1 or permutations < 2 or not 0.0 < alpha < 1.0:
            raise ValueError(
                f"need batch >= 1, interims >= 1, permutations >= 2 and 0 < alpha < 1; got "
                f"{batch}, {interims}, {permutations}, {alpha}"
            )
        self.names, self.batch, self.interims = list(names), batch, interims
        self.alpha, self.permutations = alpha, permutations
        self.rng = np.random.default_rng(seed)
        self.pairs = [(a, b) for i, a in enumerate(self.names) for b in self.names[i + 1 :]]
        self.decisions: dict[tuple[str, str], str | None] = {p: None for p in self.pairs}
        self.decided_at: dict[tuple[str, str], int] = {}
        self.observed = np.zeros(len(self.pairs))  # signed sums of mean differences
        self.permuted = np.zeros((permutations, len(self.pairs)))
        self.alive = np.ones(permutations, dtype=bool)  # permutation paths below every earlier boundary
        self.level_spent = 0.0
        self.boundaries: list[float] = []
        self.k = 0
        self.seeds = dict.fromkeys(self.names, 0)

    @property
    def undecided(self) -> list[int]:
        return [c for c, p in enumerate(self.pairs) if self.decisions[p] is None]

    @property
    def active(self) -> list[str]:
        """Variants that need the next batch: those in a comparison not yet decided."""
        if self.finished:
            return []
        return [n for n in self.names if any(n in self.pairs[c] for c in self.undecided)]

    @property
    def finished(self) -> bool:
        return self.k >= self.interims or not self.undecided

    def update(self, batch: dict[str, list[float]]) -> dict:
        """One interim: `batch` holds `self.batch` new scores for each active variant (and no other)."""
        active = self.active
        if not active:
            raise ValueError("the test is finished: no interim left")
        if sorted(batch) != sorted(active):
            raise ValueError(f"interim {self.k + 1} needs scores for {active}, got {sorted(batch)}")
        block = np.concatenate([np.asarray(batch[n], dtype=float) for n in active])
        if block.shape != (len(active) * self.batch,) or not np.isfinite(block).all():
            raise ValueError(f"each variant needs {self.batch} finite scores per interim")
        perms = self.rng.permuted(np.tile(np.arange(2 * self.batch), (self.permutations, 1)), axis=1)
        perms[0] = np.arange(2 * self.batch)  # the observed split is one of the permutations
        for c in self.undecided:
            a, b = self.pairs[c]
            split = np.concatenate([batch[a], batch[b]]).astype(float)[perms]  # (permutations, 2 * batch)
            self.permuted[:, c] += split[:, : self.batch].mean(axis=1) - split[:, self.batch :].mean(axis=1)
            self.observed[c] = self.permuted[0, c]
        for n in active:
            self.seeds[n] += self.batch
        self.k += 1
        self._test()
        return self.result()

    def _boundary(self, stats: np.ndarray, level: float) -> tuple[float, float]:
        """Smallest value t of the alive paths' statistics with spent + P(stat > t) <= level, and that P."""
        values = np.sort(stats)
        if values.size == 0:
            return float("inf"), 0.0
        above = (values.size - np.searchsorted(values, values, side="right")) / self.permutations
        first = int(np.argmax(self.level_spent + above <= level))  # the largest value always qualifies
        return float(values[first]), float(above[first])

    def _test(self) -> None:
        level = self.alpha * self.k / self.interims
        todo = self.undecided
        bound, spent = float("inf"), 0.0
        while todo:
            paths = np.round(np.abs(self.permuted[self.alive][:, todo]), DECIMALS)
            bound, spent = self._boundary(paths.max(axis=1), level)
            stat = np.round(np.abs(self.observed[todo]), DECIMALS)
            top = int(np.argmax(stat))
            if stat[top] <= bound:
                break
            c = todo.pop(top)
            self.decisions[self.pairs[c]] = "larger" if self.observed[c] > 0 else "smaller"
            self.decided_at[self.pairs[c]] = self.k
        if todo:
            self.alive &= np.round(np.abs(self.permuted[:, todo]), DECIMALS).max(axis=1) <= bound
        self.level_spent += spent
        self.boundaries.append(bound)
        if self.k >= self.interims:
            for c in todo:
                self.decisions[self.pairs[c]] = "equal"
                self.decided_at[self.pairs[c]] = self.k

    def result(self) -> dict:
        """Plain data for compare.json: per pair the decision, the interim and the seeds it used."""
        pairs = []
        for c, (a, b) in enumerate(self.pairs):
            pairs.append({
                "x": a, "y": b, "decision": self.decisions[(a, b)] or "continue",
                "interim": self.decided_at.get((a, b)),
                "statistic": round(abs(float(self.observed[c])), DECIMALS),
            })  # fmt: skip
        return {
            "alpha": self.alpha, "batch": self.batch, "interims": self.interims,
            "permutations": self.permutations, "interims_run": self.k, "finished": self.finished,
            "level_spent": round(self.level_spent, 6), "boundaries": self.boundaries,
            "seeds_used": dict(self.seeds), "pairs": pairs,
        }  # fmt: skip


def describe(x: str, decision: str | None, y: str) -> str:
    """A decision in words.

    >>> describe("a", "larger", "b"), describe("a", "equal", "b")
    ('a larger than b', 'a equal to b (no difference found)')
    """
    if decision in ("larger", "smaller"):
        return f"{x} {decision} than {y}"
    return f"{x} equal to {y} (no difference found)" if decision == "equal" else f"{x} vs {y} undecided"


def run(
    names: list[str],
    sample,
    batch: int,
    interims: int,
    alpha: float = ALPHA,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
    echo=print,
) -> AdaStop:
    """Drive a test to the end: `sample(name, interim)` returns that variant's `batch` scores of interim
    (0-based) `interim`; it is called only for variants still in an undecided comparison.

    >>> rng = np.random.default_rng(0)
    >>> t = run(["x", "y"], lambda n, k: rng.normal(0, 1, 5), batch=5, interims=3, echo=lambda s: None)
    >>> t.decisions, t.seeds
    ({('x', 'y'): 'equal'}, {'x': 15, 'y': 15})
    """
    test = AdaStop(names, batch, interims, alpha, permutations, seed)
    while not test.finished:
        k = test.k
        test.update({n: list(sample(n, k)) for n in test.active})
        decided = [describe(a, test.decisions[(a, b)], b) for (a, b), i in test.decided_at.items() if i == test.k]
        echo(f"adastop: interim {test.k}/{interims}: {'; '.join(decided) if decided else 'no decision'}")
    return test
