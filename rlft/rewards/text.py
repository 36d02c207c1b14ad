"""Helpers shared by reward functions: the text of a completion, however TRL passes it."""

from __future__ import annotations

from typing import Any


def content_text(message: Any) -> str:
    """The text of one message: its `content` string, or the text parts of a multimodal content list.

    >>> content_text({"role": "user", "content": "2+2="}), content_text({"content": [{"type": "text", "text": "hi"}]})
    ('2+2=', 'hi')
    """
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def completion_text(completion: Any) -> str:
    """The text to score: a string as is; for a message list, the content of the last message that is the
    assistant's, i.e. has role "assistant" or no role at all (`[{"content": ...}]`, as TRL's and open-r1's
    examples write completions); tool, user and system messages are never the completion.

    >>> completion_text(" 42")
    ' 42'
    >>> completion_text([{"role": "assistant", "content": "7"}]), completion_text([{"content": "7"}])
    ('7', '7')
    >>> completion_text([{"role": "assistant", "content": "a"}, {"role": "tool", "content": "b"}])
    'a'
    >>> completion_text([{"role": "user", "content": "q"}])
    ''
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return content_text(completion)
    for message in reversed(list(completion)):
        if isinstance(message, dict) and message.get("role", "assistant") in ("assistant", None):
            return content_text(message)
    return ""


def column(kwargs: dict, *names: str) -> list | None:
    """The first dataset column present among `names` (e.g. "answer", "solution"), else None."""
    for name in names:
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None


def select_rows(kwargs: dict, indices: list[int], n: int) -> dict:
    """The kwargs for a subset of the batch: every list or tuple of length `n` (dataset columns, prompts,
    completion_ids) is cut to `indices`; anything else (trainer_state, log_metric, ...) is passed as is.

    >>> select_rows({"answer": ["1", "2", "3"], "trainer_state": None}, [2], 3)
    {'answer': ['3'], 'trainer_state': None}
    """
    return {k: [v[i] for i in indices] if isinstance(v, list | tuple) and len(v) == n else v
            for k, v in kwargs.items()}


def shorten(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters, saying how much was left out.

    >>> shorten("x" * 250, 10)
    'xxxxxxxxxx... (240 more characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"
