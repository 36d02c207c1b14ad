"""`guess_number`: find a hidden integer in [1, high] from "higher" / "lower" answers.

Reward: `discount ** (guesses - 1)` when the number is found within the turn budget, else 0. The optimum is
binary search: its guesses form a complete binary search tree, which has the most nodes possible at every
depth, so it maximises the expected value of any reward that falls with the number of guesses. Its exact
expected return over a uniform target is `sum(depth_count[d] * discount ** (d - 1)) / high`
(`expected_optimal_return`).
"""

from __future__ import annotations

import random

from rlft.envs.base import Environment, as_int


class GuessNumber(Environment):
    """Guess the hidden number; each answer says whether it is higher or lower."""

    def reset(self, target: int, high: int, discount: float = 0.9, **row) -> str:
        """Start an episode for the row's hidden `target` in [1, high]."""
        self._begin()
        self.target, self.high, self.discount = int(target), int(high), float(discount)
        return (f"I am thinking of an integer between 1 and {self.high}. Find it with the guess tool; "
                f"you have {self.max_turns} guesses.")

    def guess(self, n: int) -> str:
        """Guess the hidden number.

        Args:
            n: The guess, an integer between 1 and the upper bound.

        Returns:
            "higher", "lower" or "correct".
        """
        return self._turn(self._guess, n)

    def _guess(self, n) -> str:
        value = as_int(n)
        if value is None or not 1 <= value <= self.high:
            return self._invalid(f"guess must be an integer between 1 and {self.high}, got {n!r}")
        if value == self.target:
            self._finish(self.discount ** (self.turns - 1))
            return "correct"
        return "higher" if self.target > value else "lower"

    @classmethod
    def rows(cls, n: int, seed: int, high: int = 100, discount: float = 0.9) -> list[dict]:
        """n episodes: a uniform hidden target in [1, high] each."""
        if high < 1 or not 0 < discount <= 1:
            raise ValueError(f"need high >= 1 and 0 < discount <= 1, got high={high}, discount={discount}")
        rng = random.Random(seed)
        return [{"target": rng.randint(1, high), "high": high, "discount": discount} for _ in range(n)]

    @classmethod
    def optimal_policy(cls, row: dict) -> list[tuple[str, dict]]:
        """Binary search's guesses for this row's target."""
        low, high, actions = 1, row["high"], []
        while True:
            mid = (low + high) // 2
            actions.append(("guess", {"n": mid}))
            if mid == row["target"]:
                return actions
            low, high = (mid + 1, high) if row["target"] > mid else (low, mid - 1)

    @classmethod
    def optimal_return(cls, row: dict) -> float:
        """Binary search's return on this row."""
        return row.get("discount", 0.9) ** (len(cls.optimal_policy(row)) - 1)


def expected_optimal_return(high: int, discount: float = 0.9) -> float:
    """The optimal expected return over a uniform target in [1, high]: a complete binary search tree has
    2**(d-1) nodes at each full depth d.

    >>> expected_optimal_return(1), expected_optimal_return(3, 0.5), round(expected_optimal_return(100), 4)
    (1.0, 0.6666666666666666, 0.6093)
    """
    total, depth, left = 0.0, 1, high
    while left > 0:
        nodes = min(2 ** (depth - 1), left)
        total += nodes * discount ** (depth - 1)
        left -= nodes
        depth += 1
    return total / high
