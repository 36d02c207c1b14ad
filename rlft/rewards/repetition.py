"""N-gram repetition penalty ("Demystifying Long CoT", arXiv 2502.03373, App. C.2): penalise degenerate,
looping text, a common way to hack length- or format-shaped rewards."""

from __future__ import annotations

from rlft.rewards.text import completion_text

UNITS = ("words", "tokens")


class RepetitionPenalty:
    """(1 - distinct n-grams / total n-grams) * max_penalty: 0 for no repeated n-gram, near max_penalty for a
    loop.

    `unit="words"`: lower-cased whitespace words (open-r1's `get_repetition_penalty_reward`, English);
    `unit="tokens"`: TRL's `completion_ids` (TRL's version; None when the ids are not given). Fewer than
    `ngram_size` units (or an empty completion) gives 0.0, as in both.

    >>> words = RepetitionPenalty(ngram_size=2, max_penalty=-1.0)
    >>> words(["the cat sat on the mat", "go go go go go", "hi", ""])
    [0.0, -0.75, 0.0, 0.0]
    >>> RepetitionPenalty(ngram_size=2, unit="tokens")(["x", "y"], completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]])
    [0.0, -0.75]
    """

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0, unit: str = "words"):
        if max_penalty > 0:
            raise ValueError(f"max_penalty {max_penalty} should not be positive")
        if not isinstance(ngram_size, int) or ngram_size < 1:
            raise ValueError(f"ngram_size must be a positive integer, got {ngram_size!r}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        self.ngram_size, self.max_penalty, self.unit = ngram_size, max_penalty, unit
        self.__name__ = "repetition_penalty"

    def penalty(self, units: list) -> float:
        """The penalty of one sequence of words or token ids."""
        if len(units) < self.ngram_size:
            return 0.0
        ngrams = list(zip(*[units[i:] for i in range(self.ngram_size)]))
        scaling = 1 - len(set(ngrams)) / len(ngrams)
        return scaling * self.max_penalty if scaling else 0.0

    def __call__(self, completions, completion_ids=None, **kwargs) -> list[float | None]:
        if self.unit == "tokens":
            if completion_ids is None:
                return [None] * len(completions)
            return [self.penalty(list(ids)) for ids in completion_ids]
        return [self.penalty(completion_text(c).lower().split()) for c in completions]
