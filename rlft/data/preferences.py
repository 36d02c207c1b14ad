"""Preference data from verifiable tasks: pairs (prompt, chosen, rejected) for DPO and reward models, and
unpaired rows (prompt, completion, label) for KTO.

The chosen answer is the correct one; the rejected one is a plausible mistake of the kind a small model
makes (off by one, a dropped or spurious carry, swapped digits, a broken format), so that a preference
model has to learn arithmetic rather than spot noise. `label_noise` flips that fraction of pairs (or labels)
to study robustness.
"""

from __future__ import annotations

import random

# Mistakes and how often each is drawn: a dropped or spurious carry and an off-by-one are what a small model
# really gets wrong on addition, so most rejected answers are those; swaps and broken formats are rarer.
CORRUPTIONS = {"carry": 0.5, "off_by_one": 0.3, "swap_digits": 0.1, "format": 0.1}


def corrupt_number(answer: str, rng: random.Random, kinds: dict[str, float] = CORRUPTIONS) -> str:
    """A wrong but plausible version of a numeric answer; never equal to it.

    >>> rng = random.Random(0)
    >>> sorted({corrupt_number("46", rng) for _ in range(200)})
    ['146', '36', '4 6', '45', '47', '56', '64']
    """
    value = int(answer)
    for _ in range(20):
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        if kind == "off_by_one":
            wrong = str(value + rng.choice((-1, 1)))
        elif kind == "carry":  # a carry dropped or added in the tens or hundreds
            wrong = str(value + rng.choice((-10, 10, -100, 100)))
        elif kind == "swap_digits":
            digits = list(str(abs(value)))
            if len(digits) < 2 or len(set(digits)) < 2:
                continue
            i = rng.randrange(len(digits) - 1)
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
            wrong = ("-" if value < 0 else "") + "".join(digits).lstrip("0") or "0"
        else:  # right digits, broken format: trailing text or a space inside
            text = str(value)
            wrong = text + " " if len(text) < 2 else text[:1] + " " + text[1:]
        if wrong != answer and not (value >= 0 and wrong.startswith("-")):
            return wrong
    return str(value + 1)


def preference_rows(problems: list[tuple[str, str]], seed: int, label_noise: float = 0.0) -> dict[str, list]:
    """Conversational pairs: chosen = the correct answer, rejected = a corrupted one (swapped with
    probability `label_noise`).

    >>> rows = preference_rows([("1+2=", "3")], seed=0)
    >>> rows["chosen"], rows["rejected"][0][0]["content"] != "3"
    ([[{'role': 'assistant', 'content': '3'}]], True)
    """
    rng = random.Random(seed)
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "answer": []}
    for prompt, answer in problems:
        good, bad = answer, corrupt_number(answer, rng)
        if rng.random() < label_noise:
            good, bad = bad, good
        rows["prompt"].append([{"role": "user", "content": prompt}])
        rows["chosen"].append([{"role": "assistant", "content": good}])
        rows["rejected"].append([{"role": "assistant", "content": bad}])
        rows["answer"].append(answer)
    return rows


def unpaired_rows(problems: list[tuple[str, str]], seed: int, label_noise: float = 0.0) -> dict[str, list]:
    """KTO rows: each problem once, with the correct answer (label True) or a corrupted one (False), half
    each; `label_noise` flips that fraction of labels.

    >>> rows = unpaired_rows([("1+2=", "3"), ("2+2=", "4")], seed=1)
    >>> [(c[0]["content"] == a) == l for c, a, l in zip(rows["completion"], rows["answer"], rows["label"])]
    [True, True]
    """
    rng = random.Random(seed)
    rows: dict[str, list] = {"prompt": [], "completion": [], "label": [], "answer": []}
    for prompt, answer in problems:
        good = rng.random() < 0.5
        text = answer if good else corrupt_number(answer, rng)
        label = good if rng.random() >= label_noise else not good
        rows["prompt"].append([{"role": "user", "content": prompt}])
        rows["completion"].append([{"role": "assistant", "content": text}])
        rows["label"].append(label)
        rows["answer"].append(answer)
    return rows
