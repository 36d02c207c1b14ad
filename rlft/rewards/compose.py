"""Compose rewards into one: a weighted sum, a gate (CGPO's mixture of judges), clipping, and per-row
routing to a verifier named by a dataset column. Each takes rewards as functions or as specs (a name, or
`{name, kwargs}`), so the same composition is written in Python or in YAML:

    rewards:
      - name: gate
        kwargs: {objective: numeric_match, judge: {name: format_strict}, threshold: 1.0, penalty: -1.0}

Each returns a picklable callable with a `__name__` (TRL logs it as `rewards/<name>/mean`; pass `name` to
tell two compositions apart)."""

from __future__ import annotations

import math

from rlft.rewards.registry import from_spec
from rlft.rewards.text import select_rows


class WeightedSum:
    """sum_i weights[i] * rewards[i] over the rewards that apply to a sample (None terms are left out, as
    TRL's `reward_weights` do); None when none applies. One logged reward instead of several.

    >>> total = WeightedSum(["numeric_match", {"name": "exact_match"}], weights=[1.0, 0.5])
    >>> total(["4", "4.0", "5"], answer=["4", "4", "4"]), total(["4"], answer=["four"])
    ([1.5, 1.0, 0.0], [0.0])
    """

    def __init__(self, rewards: list, weights: list[float] | None = None, name: str = "weighted_sum"):
        if not rewards:
            raise ValueError("weighted_sum needs at least one reward")
        weights = [1.0] * len(rewards) if weights is None else list(weights)
        if len(weights) != len(rewards):
            raise ValueError(f"weighted_sum got {len(weights)} weights for {len(rewards)} rewards")
        self.rewards, self.weights, self.__name__ = [from_spec(r) for r in rewards], weights, name

    def __call__(self, completions, **kwargs) -> list[float | None]:
        columns = [r(completions, **kwargs) for r in self.rewards]
        totals: list[float | None] = []
        for scores in zip(*columns, strict=True):
            terms = [w * s for w, s in zip(self.weights, scores) if s is not None]
            totals.append(math.fsum(terms) if terms else None)
        return totals


class Gate:
    """The objective reward where the judge passes (judge >= threshold, or the judge does not apply), else
    `penalty`, whatever the objective says: CGPO's mixture of judges (arXiv 2409.20370).

    Gating accuracy on
    format stops "format up, accuracy down" hacking: a well-formatted wrong answer cannot outscore a
    malformed one by format alone, and a malformed right answer is not paid.

    >>> gated = Gate(objective="numeric_match", judge="format_strict", threshold=1.0, penalty=-1.0)
    >>> good, bad = "<think>\\n2+2\\n</think>\\n<answer>\\n4\\n</answer>", "4"
    >>> gated([good, good.replace("4", "5"), bad], answer=["4"] * 3)
    [1.0, 0.0, -1.0]
    """

    def __init__(self, objective, judge, threshold: float = 1.0, penalty: float = -1.0, name: str | None = None):
        self.objective, self.judge = from_spec(objective), from_spec(judge)
        self.threshold, self.penalty = threshold, penalty
        self.__name__ = name or f"gate_{self.objective.__name__}"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        objective = self.objective(completions, **kwargs)
        judge = self.judge(completions, **kwargs)
        return [self.penalty if j is not None and j < self.threshold else o
                for o, j in zip(objective, judge, strict=True)]


class Clip:
    """The reward clipped to [low, high] (either bound may be left out); None stays None. Caps a reward
    that could otherwise dominate a sum, e.g. an unbounded length bonus.

    >>> Clip("numeric_match", low=0.25, high=0.75)(["4", "5", "4"], answer=["4", "4", "four"])
    [0.75, 0.25, None]
    """

    def __init__(self, reward, low: float | None = None, high: float | None = None, name: str | None = None):
        if low is None and high is None:
            raise ValueError("clip needs low, high or both")
        if low is not None and high is not None and low > high:
            raise ValueError(f"clip needs low <= high, got low={low}, high={high}")
        self.reward, self.low, self.high = from_spec(reward), low, high
        self.__name__ = name or f"clip_{self.reward.__name__}"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        scores = self.reward(completions, **kwargs)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return [None if s is None else min(max(s, low), high) for s in scores]


class Route:
    """Per-row verifier: the dataset column `column` names, for each row, which of `routes` scores it
    (e.g. math rows by `accuracy`, code rows by `code_tests`), so one run can mix tasks.

    Each routed reward
    sees only its rows (columns cut to match). A row whose column is None gets None; a name not in routes
    goes to `default` when given, else raises ValueError.

    >>> route = Route({"math": "numeric_match", "text": "exact_match"}, column="verifier")
    >>> route(["4.0", "Paris", "x"], answer=["4", "paris", "y"], verifier=["math", "text", None])
    [1.0, 1.0, None]
    """

    def __init__(self, routes: dict, column: str = "verifier", default=None, name: str | None = None):
        if not routes and default is None:
            raise ValueError("route needs routes (a mapping of column value to reward) or a default")
        self.routes = {str(k): from_spec(v) for k, v in routes.items()}
        self.default = None if default is None else from_spec(default)
        self.column, self.__name__ = column, name or f"route_{column}"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        n = len(completions)
        keys = kwargs.get(self.column)
        if keys is None:
            if self.default is None:
                return [None] * n
            keys = ["\0default"] * n
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None:
                groups.setdefault(str(key), []).append(i)
        scores: list[float | None] = [None] * n
        for key, rows in groups.items():
            reward = self.routes.get(key, self.default)
            if reward is None:
                raise ValueError(f"row {rows[0]}: {self.column}={key!r} names no route; routes: "
                                 f"{', '.join(sorted(self.routes))} (or give a default)")
            part = reward([completions[i] for i in rows], **select_rows(kwargs, rows, n))
            if len(part) != len(rows):
                raise ValueError(f"reward '{reward.__name__}' returned {len(part)} scores for {len(rows)} rows")
            for i, s in zip(rows, part):
                scores[i] = s
        return scores
