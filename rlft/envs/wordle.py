"""`wordle`: find a hidden five-letter word from per-letter feedback (LMRL-Gym's Wordle, on a small list).

Feedback per letter: G (right letter, right place), Y (in the word elsewhere), . (not in the word), with
repeated letters counted as in Wordle. Reward: `discount ** (guesses - 1)` when found within the turn budget,
else 0. The scripted oracle guesses, each turn, the first word of the list consistent with all feedback so
far; `optimal_return` is its return (a strong reference, not a proven optimum: that needs a game-tree search).
"""

from __future__ import annotations

import random

from rlft.envs.base import Environment

WORDS = ("apple", "baker", "cabin", "dance", "eagle", "fable", "giant", "habit", "ideal", "jelly", "knife", "lemon",
         "magic", "nerve", "ocean", "paint", "queen", "raven", "salad", "table", "uncle", "vivid", "wagon", "young",
         "zebra", "bread", "crane", "flame", "grape", "house", "light", "money", "night", "plant", "river", "stone")


def feedback(guess: str, target: str) -> str:
    """Wordle's answer to `guess`: G right place, Y elsewhere in the word, . absent (repeats counted).

    >>> feedback("crane", "crane"), feedback("eagle", "apple"), feedback("lemon", "jelly")
    ('GGGGG', '.Y.GG', 'YG...')
    """
    marks, left = ["."] * len(guess), list(target)
    for i, (g, t) in enumerate(zip(guess, target)):
        if g == t:
            marks[i] = "G"
            left.remove(g)
    for i, g in enumerate(guess):
        if marks[i] == "." and g in left:
            marks[i] = "Y"
            left.remove(g)
    return "".join(marks)


def oracle_guesses(target: str, words: tuple[str, ...] = WORDS) -> list[str]:
    """The oracle's guesses: each the first word consistent with every earlier feedback.

    >>> oracle_guesses("apple")
    ['apple']
    >>> oracle_guesses("stone")[-1]
    'stone'
    """
    candidates, guesses = list(words), []
    while True:
        guess = candidates[0]
        guesses.append(guess)
        if guess == target:
            return guesses
        seen = feedback(guess, target)
        candidates = [w for w in candidates if feedback(guess, w) == seen]


class Wordle(Environment):
    """Find the hidden five-letter word; guesses must come from the word list shown."""

    def reset(self, target: str, discount: float = 0.9, **row) -> str:
        """Start an episode for the row's hidden `target` word."""
        self._begin()
        self.target, self.discount = target, float(discount)
        return (f"Find the hidden word with the guess tool in {self.max_turns} guesses. Feedback per letter: G right "
                f"place, Y elsewhere in the word, . absent. Words: {' '.join(WORDS)}")

    def guess(self, word: str) -> str:
        """Guess the hidden word.

        Args:
            word: A five-letter word from the list.

        Returns:
            The feedback, one of G Y . per letter.
        """
        return self._turn(self._guess, word)

    def _guess(self, word) -> str:
        word = word.strip().lower() if isinstance(word, str) else word
        if word not in WORDS:
            return self._invalid(f"the guess must be one of the listed words, got {word!r}")
        marks = feedback(word, self.target)
        if word == self.target:
            self._finish(self.discount ** (self.turns - 1))
        return marks

    @classmethod
    def rows(cls, n: int, seed: int, discount: float = 0.9) -> list[dict]:
        """n episodes, each with a hidden word drawn uniformly from the list."""
        if not 0 < discount <= 1:
            raise ValueError(f"need 0 < discount <= 1, got {discount}")
        rng = random.Random(seed)
        return [{"target": rng.choice(WORDS), "discount": discount} for _ in range(n)]

    @classmethod
    def optimal_policy(cls, row: dict) -> list[tuple[str, dict]]:
        """The oracle's guesses."""
        return [("guess", {"word": w}) for w in oracle_guesses(row["target"])]

    @classmethod
    def optimal_return(cls, row: dict) -> float:
        """The oracle's return: `discount ** (its guesses - 1)`."""
        return row.get("discount", 0.9) ** (len(oracle_guesses(row["target"])) - 1)
