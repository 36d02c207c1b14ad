"""Verifiable match rewards: exact string match and numeric match against the `answer` column."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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
    gold = column({"answer": answer, "solution": solution}, "answer", "solution")
    if gold is None:
        return [None] * len(completions)
    scores: list[float | None] = []
    for c, g in zip(completions, gold, strict=True):
        target = parse_number(g) if g is not None else None
        if target is None:
            scores.append(None)
            continue
        got = parse_number(completion_text(c))
        scores.append(float(got is not None and got == target))
    return scores
