r"""Format rewards for reasoning models: the strict `<think>...</think><answer>...</answer>` layout, tag
counting with partial credit, and counting reasoning steps (open-r1's `format_reward`, `tag_count_reward`,
`reasoning_steps_reward`)."""

from __future__ import annotations

import re

from rlft.rewards.text import completion_text

STRICT = re.compile(r"<think>\n(.*?)\n</think>\n<answer>\n(.*?)\n</answer>\s*", re.DOTALL)
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
STEP = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", re.MULTILINE)


def format_strict(completions, **kwargs) -> list[float]:
    r"""1.0 when the completion is exactly `<think>\n...\n</think>\n<answer>\n...\n</answer>` (trailing
    whitespace allowed), else 0.0: open-r1's `format_reward`.

    Deliberately stricter than open-r1, whose `re.MULTILINE` lets any text after `</answer>` on a later line
    pass and whose `.*?` lets extra tags inside the sections pass: here each of the four tags must appear
    exactly once.

    >>> format_strict(["<think>\nadd\n</think>\n<answer>\n4\n</answer>", "<think>add</think><answer>4</answer>",
    ...                "<think>\na\n</think>\n<answer>\n4\n</answer>\nmore text"])
    [1.0, 0.0, 0.0]
    """
    scores = []
    for c in completions:
        text = completion_text(c)
        ok = STRICT.fullmatch(text) is not None and all(text.count(tag) == 1 for tag in TAGS)
        scores.append(float(ok))
    return scores


def count_tags(text: str) -> float:
    r"""0.25 for each of `<think>\n`, `\n</think>\n`, `\n<answer>\n`, `\n</answer>` that appears exactly once.

    >>> count_tags("<think>\nhm\n</think>\n<answer>\n4\n</answer>"), count_tags("<think>\nhm"), count_tags("")
    (1.0, 0.25, 0.0)
    """
    parts = ("<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>")
    return sum((0.25 for part in parts if text.count(part) == 1), 0.0)


def tag_count(completions, **kwargs) -> list[float]:
    r"""Partial credit for the format's tags: 0.25 for each of the four tags (with the newlines
    `format_strict` wants) that appears exactly once, so a model is paid for getting closer: open-r1's
    `tag_count_reward`, same semantics.

    >>> tag_count(["<think>\nhm\n</think>\n<answer>\n4\n</answer>", "<think>\nhm\n</think>\n4", "4"])
    [1.0, 0.5, 0.0]
    """
    return [count_tags(completion_text(c)) for c in completions]


def reasoning_steps(completions, **kwargs) -> list[float]:
    r"""min(1, steps / 3), counting step markers ("Step 2:", a line starting "2.", "- " or "* " bullets after a
    newline, "First,", "Second,", "Next,", "Finally,"): rewards showing at least three steps, open-r1's
    `reasoning_steps_reward`.

    Deliberate difference: numbered lines count on every line (`re.MULTILINE`);
    open-r1's pattern has `^\d+\.` without MULTILINE, so only a list starting the completion counted, once.

    >>> reasoning_steps(["Step 1: a\nStep 2: b\nStep 3: c", "1. a\n2. b", "First, a. Next, b. Finally, c.", "42"])
    [1.0, 0.6666666666666666, 1.0, 0.0]
    """
    return [min(1.0, len(STEP.findall(completion_text(c))) / 3) for c in completions]
