"""Verifiable match rewards against the `answer` (or `solution`) column: exact string match, numeric match,
GSM8K `#### N` match and multiple-choice letter match."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from rlft.rewards.extract import choice_letter, gsm8k_answer
from rlft.rewards.text import column, completion_text

NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?|[-+]?\.\d+")


def normalize(text: str) -> str:
    """Case-folded, whitespace-collapsed, outer punctuation stripped.

    >>> normalize("  The  Answer. ")
    'the answer'
    """
    return " ".join(str(text).split()).strip(" .!?;:").casefold()


def parse_number(text: str) -> Decimal | None:
    """The last number in a text as a Decimal (thousands separators and a leading + allowed), else None.

    >>> parse_number("so it is 1,234.0"), parse_number("+7"), parse_number("none")
    (Decimal('1234.0'), Decimal('7'), None)
    """
    found = NUMBER.findall(str(text))
    if not found:
        return None
    try:
        return Decimal(found[-1].replace(",", ""))
    except InvalidOperation:
        return None


def match_gold(completions, answer, solution, parse_gold, parse_completion) -> list[float | None]:
    """1.0 where `parse_completion(text)` equals `parse_gold(gold)`, 0.0 where it differs or is None, and None
    where the gold (the `answer` column, else `solution`) is missing or does not parse: the shared loop of
    the match rewards below.

    >>> match_gold(["7", "x"], ["7", "7"], None, parse_number, parse_number)
    [1.0, 0.0]
    """
    gold = column({"answer": answer, "solution": solution}, "answer", "solution")
    if gold is None:
        return [None] * len(completions)
    scores: list[float | None] = []
    for c, g in zip(completions, gold, strict=True):
        target = parse_gold(g) if g is not None else None
        if target is None:
            scores.append(None)
            continue
        got = parse_completion(completion_text(c))
        scores.append(float(got is not None and got == target))
    return scores


def exact_match(completions, answer=None, solution=None, **kwargs) -> list[float | None]:
    """1.0 when the normalised completion equals the normalised answer, else 0.0; None without an answer.

    >>> exact_match(["46", " 46.", "47"], answer=["46", "46", "46"])
    [1.0, 1.0, 0.0]
    """
    gold = column({"answer": answer, "solution": solution}, "answer", "solution")
    if gold is None:
        return [None] * len(completions)
    return [
        None if g is None else float(normalize(completion_text(c)) == normalize(g))
        for c, g in zip(completions, gold, strict=True)
    ]


def numeric_match(completions, answer=None, solution=None, **kwargs) -> list[float | None]:
    """1.0 when the last number of the completion equals the answer's number (42.0 = 42, +7 = 7), else 0.0;
    None when the gold answer holds no number.

    >>> numeric_match(["46", "it is 46.0", "47", "no idea"], answer=["46"] * 4)
    [1.0, 1.0, 0.0, 0.0]
    >>> numeric_match(["3"], answer=["three"])
    [None]
    """
    return match_gold(completions, answer, solution, parse_number, parse_number)


def gsm8k_number(text: str) -> Decimal | None:
    """The GSM8K final answer of a text: the number after `####` when there is one, else the last number.

    >>> gsm8k_number("3 + 4 = 7 apples, 2 pears\\n#### 7"), gsm8k_number("so 7 apples"), gsm8k_number("none")
    (Decimal('7'), Decimal('7'), None)
    """
    marked = gsm8k_answer(str(text))
    return parse_number(marked) if marked is not None else parse_number(text)


def gsm8k_match(completions, answer=None, solution=None, **kwargs) -> list[float | None]:
    """GSM8K accuracy: the number after the completion's last `####` (else its last number) equals the gold
    number (the gold's `####` line, else its last number), numerically (42.0 = 42, 1,234 = 1234); None when
    the gold holds no number.

    Like lm-eval's "flexible-extract", not its "strict-match".

    >>> gold = ["Natalia sold 48/2 = 24 clips in May.\\n#### 72"] * 3
    >>> gsm8k_match(["48 + 24 = 72 clips.\\n#### 72", "It is 72.0", "#### 72 apples, not 24"], answer=gold)
    [1.0, 1.0, 1.0]
    >>> gsm8k_match(["#### 71", "#### 72 wait no #### 24"], answer=["72", "72"])
    [0.0, 0.0]
    """
    return match_gold(completions, answer, solution, lambda g: gsm8k_number(str(g)), gsm8k_number)


def gold_letter(gold, choices: str) -> str | None:
    """The gold choice as a letter: a letter ("B", "(B)", "b", "B) Paris") or a 0-based index (int 1 -> "B").

    >>> gold_letter("(c)", "ABCD"), gold_letter(1, "ABCD"), gold_letter("Z", "ABCD"), gold_letter(7, "ABCD")
    ('C', 'B', None, None)
    """
    if isinstance(gold, bool):
        return None
    if isinstance(gold, int):
        return choices[gold] if 0 <= gold < len(choices) else None
    found = re.match(r"\s*\(?([A-Za-z])(?![A-Za-z])", str(gold))
    letter = found.group(1).upper() if found else None
    return letter if letter is not None and letter in choices else None


class ChoiceMatch:
    """Multiple-choice accuracy: 1.0 when the completion's letter (see `extract.choice_letter`) equals the
    gold letter, 0.0 when it differs or no letter is found; None when the gold is not one of `choices`.

    >>> ChoiceMatch()(["The answer is (B).", "A", "no idea"], answer=["B", 0, "B"])
    [1.0, 1.0, 0.0]
    >>> ChoiceMatch(choices="ABCDE")(["E"], answer=["E"]), ChoiceMatch()(["E"], answer=["E"])
    ([1.0], [None])
    """

    def __init__(self, choices: str = "ABCD"):
        if not choices or not choices.isalpha() or not choices.isupper() or len(set(choices)) != len(choices):
            raise ValueError(f"choices must be distinct upper-case letters like 'ABCD', got {choices!r}")
        self.choices, self.__name__ = choices, "choice_match"

    def __call__(self, completions, answer=None, solution=None, **kwargs) -> list[float | None]:
        return match_gold(completions, answer, solution, lambda g: gold_letter(g, self.choices),
                          lambda text: choice_letter(text, self.choices))
