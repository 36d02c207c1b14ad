"""The environment contract, as TRL's `environment_factory` takes it: `reset(**row)` starts an episode from a
dataset row and returns the first observation (text, or None for none), every public method is a tool the model
may call (type hints and an `Args:` docstring make its JSON schema), and `get_reward()` scores the episode.

`Environment` adds the bookkeeping every built-in shares: a turn budget, a count of invalid actions and an
episode that ends (once solved or out of turns) and then refuses further actions, all without raising, since an
exception in a tool reaches the model only as TRL's generic error and leaves the episode half-updated.
Helpers are private (`_name`): TRL exposes every public method as a tool.
"""

from __future__ import annotations

from rlft.core.config import DEFAULT_MAX_TURNS  # turns an episode may take when the stage does not say


class Environment:
    """Base of rlft's environments: counts turns and invalid actions, ends the episode, holds its reward.

    Subclasses implement `reset(**row)` (calling `self._begin()` first) and tools that wrap their work in
    `self._turn(...)`; class methods `rows(n, seed, **kwargs)`, `optimal_policy(row)` and `optimal_return(row)`
    give `rlft check-env` its data and its yardstick.
    """

    def __init__(self, max_turns: int = DEFAULT_MAX_TURNS):
        if not (isinstance(max_turns, int) and max_turns >= 1):
            raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
        self.max_turns = max_turns
        self._begin()

    def _begin(self) -> None:
        self.turns = 0
        self.invalid = 0
        self.done = False
        self.score = 0.0

    def _turn(self, act, *args) -> str:
        """Spend one turn on `act(*args)` (which returns the observation), unless the episode is over."""
        if self.done:
            return "error: the episode is over; no more actions are taken"
        self.turns += 1
        observation = act(*args)
        if not self.done and self.turns >= self.max_turns:
            self.done = True
            observation += f" The episode is over: {self.max_turns} turns used."
        return observation

    def _invalid(self, message: str) -> str:
        self.invalid += 1
        return f"error: {message}"

    def _finish(self, score: float) -> None:
        self.done = True
        self.score = min(1.0, max(0.0, float(score)))

    def get_reward(self) -> float:
        """The episode's reward in [0, 1]: 0 until it is solved."""
        return self.score


def as_int(value) -> int | None:
    """An integer argument as a model may write it (7, "7", 7.0), else None.

    >>> as_int(7), as_int(" -7 "), as_int(7.0), as_int(7.5), as_int("seven"), as_int(True)
    (7, -7, 7, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
