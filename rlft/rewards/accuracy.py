r"""Math answer accuracy with math-verify: the model's final answer is checked against the `solution` (or
`answer`) column for mathematical equivalence (fractions, LaTeX, sets, intervals, percentages, units).

This follows open-r1's `accuracy_reward` (and TRL's `trl.rewards.accuracy_reward`): the gold is parsed with
math-verify's default extraction (first match); a gold that cannot be parsed gives `None` (the sample is
skipped, not silently scored 0 or 1); the completion is parsed with open-r1's strict LaTeX configuration
(`\boxed{}` tried first, no malformed operators, an anchor such as `\boxed`, `$...$` or "final answer is"
required); `verify(gold, answer)` decides. Deliberate differences from open-r1:
- a bare LaTeX gold that math-verify does not find on its own (`\frac12`) is tried again inside `$...$`;
- the answer can also come from an `<answer>` tag (`extract="answer_tag"`, and `"auto"` uses the tag when the
  completion has no `\boxed{}`), or from a regex (`extract="regex"`, `pattern` with one group);
- a tag or regex answer is the answer itself, so it is parsed without needing an anchor (LaTeX or a plain
  expression like `3/4`);
- `verify` raising gives 0.0 (open-r1 gives None): a completion that breaks the grader is not correct, and
  scoring it None would exempt it from the group's advantage;
- math-verify's timeouts use `signal.alarm`, which only works in the main thread: outside it they are off
  (as TRL does).

`ReasoningAccuracy` (`reasoning_accuracy`, TRL's `reasoning_accuracy_reward`) judges the same way, on the text
after the reasoning only.
"""

from __future__ import annotations

import logging
import re
import threading

from rlft.rewards.extract import answer_tag, last_boxed
from rlft.rewards.text import column, completion_text

EXTRACTS = ("auto", "boxed", "answer_tag", "regex")


def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, LatexNormalizationConfig

    strict = LatexExtractionConfig(
        normalization_config=LatexNormalizationConfig(
            nits=False, malformed_operators=False, basic_latex=True, boxed="all", units=True
        ),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )
    bare = [LatexExtractionConfig(try_extract_without_anchor=True, boxed_match_priority=0), ExprExtractionConfig()]
    return strict, bare


def _timeouts() -> tuple[int | None, int | None]:
    if threading.current_thread() is threading.main_thread():
        return 10, 5
    for name in ("math_verify.parser", "math_verify.grader"):  # silence "timeout disabled" warnings
        logging.getLogger(name).setLevel(logging.ERROR)
    return None, None


def parse_gold(gold, parsing_timeout: int | None = None) -> list:
    r"""The gold answer parsed by math-verify (empty when it cannot be parsed); a bare LaTeX gold that
    math-verify does not find on its own (`rac12`, `\{1,2\}`) is tried again inside `$...$`.

    >>> parse_gold(r"\frac{1}{3}")[0], parse_gold(r"\frac12")[0], parse_gold("no math here")
    (1/3, 1/2, [])
    """
    from math_verify import parse

    if gold is None or not str(gold).strip():
        return []
    parsed = parse(str(gold), extraction_mode="first_match", parsing_timeout=parsing_timeout)
    if not parsed and "\\" in str(gold) and "$" not in str(gold):
        parsed = parse(f"${gold}$", extraction_mode="first_match", parsing_timeout=parsing_timeout)
    return parsed


class MathAccuracy:
    r"""1.0 when the completion's final answer is mathematically equal to the gold (`solution` or `answer`
    column) by math-verify, else 0.0 (no answer found counts as wrong); None when the gold cannot be parsed.

    `extract`: "auto" (`\boxed{}` first, else the last `<answer>` tag, else an anchored LaTeX answer),
    "boxed" (only the last `\boxed{}`), "answer_tag" (only the last `<answer>` tag), or "regex" (the first
    group of the last match of `pattern`).

    >>> acc = MathAccuracy()
    >>> acc([r"so \boxed{\frac{1}{2}}", r"\boxed{0.5}", "<answer>1/2</answer>", r"\boxed{2}", "a half"],
    ...     solution=[r"$\frac{1}{2}$"] * 5)
    [1.0, 1.0, 1.0, 0.0, 0.0]
    >>> acc([r"\boxed{1}"], solution=["no math here"])
    [None]
    >>> MathAccuracy(extract="regex", pattern=r"ANSWER: (.+)")(["ANSWER: 2/4"], answer=["0.5"])
    [1.0]
    """

    def __init__(self, extract: str = "auto", pattern: str | None = None):
        if extract not in EXTRACTS:
            raise ValueError(f"extract must be one of {', '.join(EXTRACTS)}, got {extract!r}")
        if (extract == "regex") != (pattern is not None):
            raise ValueError("pattern is needed with extract='regex' and only then")
        self.extract, self.pattern, self.__name__ = extract, pattern, "accuracy"
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error as e:
                raise ValueError(f"pattern {pattern!r} is not a valid regex: {e}") from None
            if compiled.groups < 1:
                raise ValueError(f"pattern {pattern!r} needs a group around the answer, like 'ANSWER: (.+)'")

    def answer(self, text: str, parsing_timeout: int | None = None) -> list:
        """The completion's final answer parsed by math-verify (empty when there is none)."""
        from math_verify import parse

        strict, bare = _configs()
        if self.extract == "regex":
            found = re.findall(self.pattern, text)
            span = found[-1] if found else None
            span = span[0] if isinstance(span, tuple) else span
        elif self.extract == "boxed":
            span = last_boxed(text)
            span = None if span is None else f"\\boxed{{{span}}}"
        elif self.extract == "answer_tag" or (self.extract == "auto" and last_boxed(text) is None):
            span = answer_tag(text)
            if span is None and self.extract == "auto":  # no tag either: open-r1's anchored parse
                return parse(text, extraction_config=[strict], extraction_mode="first_match",
                             parsing_timeout=parsing_timeout)
        else:  # auto with a \boxed{}: open-r1's parse, boxed first
            return parse(text, extraction_config=[strict], extraction_mode="first_match",
                         parsing_timeout=parsing_timeout)
        if span is None or not span.strip():
            return []
        config = [strict] if span.startswith("\\boxed") else bare
        return parse(span, extraction_config=config, extraction_mode="first_match", parsing_timeout=parsing_timeout)

    def __call__(self, completions, solution=None, answer=None, **kwargs) -> list[float | None]:
        from math_verify import verify

        gold_column = column({"solution": solution, "answer": answer}, "solution", "answer")
        if gold_column is None:
            return [None] * len(completions)
        parsing_timeout, verify_timeout = _timeouts()
        scores: list[float | None] = []
        for c, g in zip(completions, gold_column, strict=True):
            gold = parse_gold(g, parsing_timeout)
            if not gold:
                scores.append(None)
                continue
            got = self.answer(completion_text(c), parsing_timeout)
            try:
                scores.append(float(verify(gold, got, timeout_seconds=verify_timeout)))
            except Exception:  # noqa: BLE001 - the grader failing on an answer means it is not verified correct
                scores.append(0.0)
        return scores


def after_reasoning(text: str, delimiters: tuple[str, ...]) -> str | None:
    """The text after the last occurrence of the first delimiter found (in the given order), else None.

    >>> after_reasoning("<think>a</think>b</think>c", ("</think>",)), after_reasoning("<think>a", ("</think>",))
    ('c', None)
    """
    for delimiter in delimiters:
        if delimiter in text:
            return text.split(delimiter)[-1]
    return None


class ReasoningAccuracy:
    r"""`accuracy` judged only on the text after the reasoning (after `</think>`): an answer boxed inside an
    unfinished think block does not count; no closing tag gives 0.0, an unparseable gold None. TRL's
    `reasoning_accuracy_reward`.

    `delimiters`: where the reasoning ends (the first found, in order; the answer follows its last
    occurrence); `extract`, `pattern`: as in `accuracy`.

    >>> acc = ReasoningAccuracy()
    >>> acc([r"<think>try \boxed{3}</think> so \boxed{\frac{1}{3}}", r"<think>it is \boxed{\frac{1}{3}}",
    ...      r"<think>hm</think> \boxed{3}"], solution=[r"\frac{1}{3}"] * 3)
    [1.0, 0.0, 0.0]
    >>> acc([r"<think>hm</think> \boxed{3}"], solution=["no math here"])
    [None]
    """

    def __init__(self, delimiters: list[str] | tuple[str, ...] = ("</think>",), extract: str = "auto",
                 pattern: str | None = None):
        if isinstance(delimiters, str) or not delimiters or not all(isinstance(d, str) and d for d in delimiters):
            raise ValueError(f"delimiters must be a non-empty list of non-empty strings, got {delimiters!r}")
        self.delimiters, self.accuracy = tuple(delimiters), MathAccuracy(extract, pattern)
        self.__name__ = "reasoning_accuracy"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        # no closing tag: an empty answer, which accuracy scores 0.0 (or None when the gold does not parse)
        answers = [after_reasoning(completion_text(c), self.delimiters) or "" for c in completions]
        return self.accuracy(answers, **kwargs)
