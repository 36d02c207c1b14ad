"""N-gram repetition penalty ("Demystifying Long CoT", arXiv 2502.03373, App. C.2): penalise degenerate,
looping text, a common way to hack length- or format-shaped rewards."""

from __future__ import annotations

import re

from rlft.rewards.text import completion_text

UNITS = ("words", "tokens")
LANGUAGES = ("en", "zh")
# zh: every non-space character is a unit, except that runs of ASCII letters and digits stay whole words
CHARACTERS = re.compile(r"[a-z0-9]+|\S")


def segment(text: str, language: str = "en") -> list[str]:
    """The lower-cased units n-grams are made of: whitespace words ("en"), or characters for languages
    written without spaces ("zh"; ASCII words and numbers inside stay whole).

    >>> segment("The cat  sat"), segment("我们去 Paris 2024！", "zh")
    (['the', 'cat', 'sat'], ['我', '们', '去', 'paris', '2024', '！'])
    """
    return text.lower().split() if language == "en" else CHARACTERS.findall(text.lower())


class RepetitionPenalty:
    """(1 - distinct n-grams / total n-grams) * max_penalty: 0 for no repeated n-gram, near max_penalty for a
    loop.

    `unit="words"`: lower-cased whitespace words (open-r1's `get_repetition_penalty_reward`), or characters
    with `language="zh"` (open-r1's `language: zh`, for text without spaces); `unit="tokens"`: TRL's
    `completion_ids` (TRL's version; None when the ids are not given). Fewer than `ngram_size` units (or an
    empty completion) gives 0.0, as in both.

    >>> by_words = RepetitionPenalty(ngram_size=2, max_penalty=-1.0)
    >>> by_words(["the cat sat on the mat", "go go go go go", "hi", ""])
    [0.0, -0.75, 0.0, 0.0]
    >>> RepetitionPenalty(ngram_size=2, unit="tokens")(["x", "y"], completion_ids=[[1, 2, 3, 4], [5, 5, 5, 5, 5]])
    [0.0, -0.75]
    >>> RepetitionPenalty(ngram_size=2, language="zh")(["我们去公园", "好好好好好"])
    [0.0, -0.75]
    """

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0, unit: str = "words", language: str = "en"):
        if max_penalty > 0:
            raise ValueError(f"max_penalty {max_penalty} should not be positive")
        if not isinstance(ngram_size, int) or ngram_size < 1:
            raise ValueError(f"ngram_size must be a positive integer, got {ngram_size!r}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        if unit == "tokens" and language != "en":
            raise ValueError(f"language={language!r} splits text into words; it has no effect with unit='tokens'")
        self.ngram_size, self.max_penalty, self.unit, self.language = ngram_size, max_penalty, unit, language
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
        return [self.penalty(segment(completion_text(c), self.language)) for c in completions]
