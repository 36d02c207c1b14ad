"""Length rewards: Kimi k1.5's length penalty, the cosine-scaled length reward of "Demystifying Long CoT",
and DAPO's soft overlong punishment (open-r1 `len_reward`, `get_cosine_scaled_reward`,
`get_soft_overlong_punishment`). Lengths are in characters (`unit="chars"`) or in tokens
(`unit="tokens"`, read from TRL's `completion_ids`; without them, e.g. when called outside a trainer, the
reward does not apply and gives None)."""

from __future__ import annotations

import math

from rlft.rewards.registry import from_spec
from rlft.rewards.text import completion_text

UNITS = ("chars", "tokens")


def lengths(completions, unit: str, completion_ids=None) -> list[int] | None:
    """Each completion's length in characters or tokens; None when tokens are asked for and not given.

    >>> lengths(["ab", [{"role": "assistant", "content": "abc"}]], "chars"), lengths(["ab"], "tokens", [[5]])
    ([2, 3], [1])
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if unit == "tokens":
        return None if completion_ids is None else [len(ids) for ids in completion_ids]
    return [len(completion_text(c)) for c in completions]


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")


class KimiLength:
    """Kimi k1.5's length reward (arXiv 2501.12599): within a prompt's group, lam = 0.5 - (len - min_len) /
    (max_len - min_len); a correct completion gets lam, a wrong one min(0, lam); all lengths equal gives 0.
    Shorter correct answers are paid, long wrong ones penalised.

    Correctness comes from the `correctness`
    reward (a spec, default `accuracy`; score >= 1 is correct, None gives None).

    Differences from open-r1's `len_reward`: min/max are taken per prompt (the `prompts` kwarg groups the
    batch, as in the paper; open-r1 takes them over the whole batch, which mixes prompts), and an unparseable
    gold gives None instead of being treated as correct.

    >>> kimi = KimiLength(correctness="numeric_match")
    >>> kimi(["4", "so 4", "it is 4", "5", "5 5 5 5"], answer=["4"] * 5)
    [0.5, 0.0, -0.5, 0.0, -0.5]
    """

    def __init__(self, correctness="accuracy", unit: str = "chars", per_prompt: bool = True):
        _check_unit(unit)
        self.correctness, self.unit, self.per_prompt = from_spec(correctness), unit, per_prompt
        self.__name__ = "kimi_length"

    def __call__(self, completions, prompts=None, completion_ids=None, **kwargs) -> list[float | None]:
        sizes = lengths(completions, self.unit, completion_ids)
        if sizes is None:
            return [None] * len(completions)
        correct = self.correctness(completions, prompts=prompts, completion_ids=completion_ids, **kwargs)
        keys = [repr(p) for p in prompts] if self.per_prompt and prompts is not None else [""] * len(completions)
        groups: dict[str, list[int]] = {}
        for key, size in zip(keys, sizes, strict=True):
            groups.setdefault(key, []).append(size)
        scores: list[float | None] = []
        for key, size, ok in zip(keys, sizes, correct, strict=True):
            low, high = min(groups[key]), max(groups[key])
            if ok is None:
                scores.append(None)
            elif high == low:
                scores.append(0.0)
            else:
                lam = 0.5 - (size - low) / (high - low)
                scores.append(float(lam if ok >= 1 else min(0.0, lam)))
        return scores


class CosineLength:
    """Cosine-scaled length reward (arXiv 2502.03373, App. C.1): r = lo + (hi - lo) * (1 + cos(pi * min(len /
    max_len, 1))) / 2, with (lo, hi) = (min_value_correct, max_value_correct) for a correct completion and
    (max_value_wrong, min_value_wrong) for a wrong one, so short correct answers earn most and short wrong
    ones lose most.

    Correctness as in `KimiLength`.

    Differences from open-r1's `get_cosine_scaled_reward`: the progress is clamped at 1 (as TRL does; cos is
    periodic, so open-r1 pays completions longer than max_len more again), an unparseable gold gives None
    (open-r1: 1.0), and the length can be in tokens.

    >>> cos = CosineLength(max_len=10, correctness="numeric_match")
    >>> cos(["4", "4    ", "4" + " " * 30, "5", "5    ", "5" + " " * 30], answer=["4"] * 6)
    [0.9877641290737884, 0.75, 0.5, -0.9877641290737884, -0.75, -0.5]
    """

    def __init__(self, max_len: int = 1000, min_value_wrong: float = -1.0, max_value_wrong: float = -0.5,
                 min_value_correct: float = 0.5, max_value_correct: float = 1.0, correctness="accuracy",
                 unit: str = "chars"):
        _check_unit(unit)
        if max_len <= 0:
            raise ValueError(f"max_len must be positive, got {max_len}")
        self.max_len, self.unit, self.correctness = max_len, unit, from_spec(correctness)
        self.wrong = (max_value_wrong, min_value_wrong)  # swapped: shorter wrong answers are penalised more
        self.right = (min_value_correct, max_value_correct)
        self.__name__ = "cosine_length"

    def __call__(self, completions, completion_ids=None, **kwargs) -> list[float | None]:
        sizes = lengths(completions, self.unit, completion_ids)
        if sizes is None:
            return [None] * len(completions)
        correct = self.correctness(completions, completion_ids=completion_ids, **kwargs)
        scores: list[float | None] = []
        for size, ok in zip(sizes, correct, strict=True):
            if ok is None:
                scores.append(None)
                continue
            low, high = self.right if ok >= 1 else self.wrong
            cosine = math.cos(math.pi * min(size / self.max_len, 1.0))
            scores.append(float(low + 0.5 * (high - low) * (1.0 + cosine)))
        return scores


class SoftOverlong:
    """DAPO's soft overlong punishment (arXiv 2503.14476, Eq. 13): 0 up to max_completion_len -
    soft_punish_cache, then falling linearly to -1 at max_completion_len, and -1 beyond. It penalises length
    near the cap without paying for brevity.

    Same semantics as open-r1 / TRL `get_soft_overlong_punishment`;
    the length can also be in characters.

    >>> soft = SoftOverlong(max_completion_len=10, soft_punish_cache=4)
    >>> soft(["a"] * 4, completion_ids=[[1] * 6, [1] * 8, [1] * 10, [1] * 11])
    [0.0, -0.5, -1.0, -1.0]
    >>> soft(["a"])  # no token ids (outside a trainer): does not apply
    [None]
    """

    def __init__(self, max_completion_len: int, soft_punish_cache: int, unit: str = "tokens"):
        _check_unit(unit)
        if max_completion_len <= 0 or not 0 <= soft_punish_cache <= max_completion_len:
            raise ValueError("need max_completion_len > 0 and 0 <= soft_punish_cache <= max_completion_len, got "
                             f"{max_completion_len} and {soft_punish_cache}")
        self.max_completion_len, self.soft_punish_cache, self.unit = max_completion_len, soft_punish_cache, unit
        self.__name__ = "soft_overlong"

    def __call__(self, completions, completion_ids=None, **kwargs) -> list[float | None]:
        sizes = lengths(completions, self.unit, completion_ids)
        if sizes is None:
            return [None] * len(completions)
        free = self.max_completion_len - self.soft_punish_cache
        scores: list[float | None] = []
        for size in sizes:
            if size <= free:
                scores.append(0.0)
            elif size <= self.max_completion_len:
                scores.append((free - size) / self.soft_punish_cache)
            else:
                scores.append(-1.0)
        return scores
