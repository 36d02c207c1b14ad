"""Control rewards for experiments: a reward that carries no information about the task."""

from __future__ import annotations

import random


class RandomReward:
    """Seeded coin flips: 1.0 with probability `p`, else 0.0, whatever the completion. A run trained on it
    shows what the optimiser does without signal (the control for any claim that a reward taught something).

    >>> RandomReward(seed=0)(["a", "b", "c", "d"])
    [0.0, 0.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, seed: int = 0):
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p, self.__name__ = p, "random_reward"
        self._rng = random.Random(seed)

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(self._rng.random() < self.p) for _ in completions]
