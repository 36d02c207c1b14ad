r"""Format rewards for reasoning models: the strict `<think>...</think><answer>...</answer>` layout, tag
counting with partial credit, counting reasoning steps, a closed think block, and the answer holding a
fenced code block (open-r1's `format_reward`, `tag_count_reward`, `reasoning_steps_reward`,
`get_code_format_reward`; TRL's `think_format_reward`)."""

from __future__ import annotations

import re

from rlft.rewards.text import completion_text

STRICT = re.compile(r"<think>\n(.*?)\n</think>\n<answer>\n(.*?)\n</answer>\s*", re.DOTALL)
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
THINK = re.compile(r"^<think>(?!.*<think>)(.*?)</think>.*$", re.DOTALL | re.MULTILINE)
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


def think_format(completions, **kwargs) -> list[float]:
    r"""1.0 when the completion opens with `<think>`, closes it with `</think>` and has no second `<think>`,
    else 0.0: TRL's `think_format_reward`, same pattern and semantics (whatever follows `</think>` is free).

    >>> think_format(["<think>\nhm\n</think>\n4", "<think>hm</think>", "<think>hm", " <think>hm</think>4",
    ...               "<think>a</think><think>b</think>"])
    [1.0, 1.0, 0.0, 0.0, 0.0]
    """
    return [float(THINK.match(completion_text(c)) is not None) for c in completions]


class CodeFormat:
    r"""1.0 when the completion is `<think>\n...\n</think>\n<answer>\n...\n</answer>` (as `format_strict`)
    and the answer holds a code block fenced with three backticks and the tag `language`, else 0.0: open-r1's
    `get_code_format_reward(language)`. A `language` dataset column, where given, sets each row's language.

    >>> code = CodeFormat()
    >>> ok = "<think>\nloop\n</think>\n<answer>\n```python\nprint(1)\n```\n</answer>"
    >>> code([ok, ok.replace("python", "js"), "```python\nprint(1)\n```"])
    [1.0, 0.0, 0.0]
    >>> code([ok.replace("python", "js")] * 2, language=["js", None])
    [1.0, 0.0]
    """

    def __init__(self, language: str = "python"):
        if not isinstance(language, str) or not language.strip() or any(ch.isspace() for ch in language):
            raise ValueError(f"language must be a fence tag such as 'python' or 'cpp', got {language!r}")
        self.language, self.__name__ = language, "code_format"

    @staticmethod
    def matches(text: str, language: str) -> bool:
        """Whether `text` has the strict think/answer layout with a block fenced as `language` in the answer."""
        fence = rf"```{re.escape(language)}[ \t]*\n.*?```"
        layout = rf"<think>\n.*?\n</think>\n<answer>\n.*?{fence}.*?\n</answer>\s*"
        return all(text.count(tag) == 1 for tag in TAGS) and re.fullmatch(layout, text, re.DOTALL) is not None

    def __call__(self, completions, language=None, **kwargs) -> list[float]:
        languages = [self.language] * len(completions) if language is None else language
        return [float(self.matches(completion_text(c), str(lang or self.language)))
                for c, lang in zip(completions, languages, strict=True)]
