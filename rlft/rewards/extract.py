"""Pull the final answer out of a completion: `\\boxed{...}`, `<answer>` tags, GSM8K `#### N`, a
multiple-choice letter, a fenced code block. Each returns None when the completion has no such answer,
so a reward can tell "no answer" from "wrong answer"."""

from __future__ import annotations

import re

ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
GSM8K = re.compile(r"####\s*\$?\s*([-+]?\s*\$?\s*[\d,]*\.?\d+)")
FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def last_boxed(text: str) -> str | None:
    r"""The content of the last `\boxed{...}` (or `\fbox{...}`), braces balanced, else None.

    >>> last_boxed(r"so \boxed{1} then \boxed{\frac{1}{2}}.")
    '\\frac{1}{2}'
    >>> last_boxed(r"\boxed{unclosed") is None, last_boxed("none") is None
    (True, True)
    """
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def answer_tag(text: str) -> str | None:
    """The stripped content of the last complete `<answer>...</answer>`, else None.

    >>> answer_tag("<think>hm</think><answer>\\n 42 \\n</answer>")
    '42'
    >>> answer_tag("<answer>42") is None
    True
    """
    found = ANSWER_TAG.findall(text)
    return found[-1].strip() if found else None


def gsm8k_answer(text: str) -> str | None:
    """The number after the last GSM8K `####` marker ($ and thousands separators dropped), else None.

    >>> gsm8k_answer("She pays 3 * 6 = 18.\\n#### 1,018"), gsm8k_answer("#### $-7.50"), gsm8k_answer("18")
    ('1018', '-7.50', None)
    """
    found = GSM8K.findall(text)
    if not found:
        return None
    return found[-1].replace("$", "").replace(",", "").replace(" ", "")


def choice_letter(text: str, choices: str = "ABCD") -> str | None:
    r"""The multiple-choice letter a completion settles on, else None. Tried in order, the last match of the
    first rule that matches wins: `\boxed{C}`; `<answer>C...</answer>`; "answer is C" / "Answer: (C)";
    a completion that starts with the letter ("C", "(C)", "C) Paris", "C. Paris"). Only letters in `choices`
    count, so the article "A" or the pronoun "I" are not taken for answers unless they are choices.

    >>> choice_letter("The answer is (B)."), choice_letter("C) Paris"), choice_letter(r"\boxed{D}")
    ('B', 'C', 'D')
    >>> choice_letter("I think so") is None, choice_letter("Answer: E") is None
    (True, True)
    """
    letters = re.escape(choices)
    rules = [
        rf"\\boxed\{{\s*\(?([{letters}])\)?\s*\}}",
        rf"<answer>\s*\(?([{letters}])(?![A-Za-z])[^<]*</answer>",
        rf"(?i:answer)\s*(?:(?i:is)|:)?\s*(?i:option)?\s*[:\s]*\(?([{letters}])(?![A-Za-z])",
        rf"^\s*\(?([{letters}])(?:[.):]|\s|$)",
    ]
    for rule in rules:
        found = re.findall(rule, text)
        if found:
            return found[-1]
    return None


def code_block(text: str, languages: tuple[str, ...] = ("python", "py", "python3", "")) -> str:
    """The last fenced code block whose language tag is in `languages` ("" = no tag), else the whole text.

    >>> code_block("Here:\\n```python\\nprint(1)\\n```\\nand\\n```python\\nprint(2)\\n```")
    'print(2)\\n'
    >>> code_block("x = 1")
    'x = 1'
    """
    found = [body for lang, body in FENCE.findall(text) if lang.lower() in languages]
    return found[-1] if found else text
