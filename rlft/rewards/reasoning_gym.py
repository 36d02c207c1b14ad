"""reasoning-gym's own verifiers as one reward: each row is scored by its task's `score_answer(answer, entry)`,
so a mixture of tasks needs no routing of its own. The library is optional (`pip install 'rlft[tasks]'`) and
imported on the first call only, so `import rlft.rewards` stays light.

Rows carry what the scorer needs (`rlft.data.reasoning_gym` writes them): `answer`, `metadata` (the entry's
metadata as JSON, see `encode`), and `task` and `task_config` (the task's name and generator settings, since a
few scorers read their config); without `task`, the metadata's `source_dataset` names the task.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import warnings
from typing import Any

from rlft.rewards.extract import answer_tag
from rlft.rewards.text import completion_text, content_text

INSTALL = "pip install 'rlft[tasks]'"  # the extra that brings reasoning-gym
TUPLE, SET, ITEMS = "__tuple__", "__set__", "__items__"  # JSON has no tuples, sets or non-string keys


def available() -> bool:
    """Whether the reasoning-gym package is installed (without importing it: the import takes seconds)."""
    return importlib.util.find_spec("reasoning_gym") is not None


def _tagged(value: Any) -> Any:
    if isinstance(value, tuple):
        return {TUPLE: [_tagged(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {SET: [_tagged(v) for v in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and set(value) & {TUPLE, SET, ITEMS}):
            return {k: _tagged(v) for k, v in value.items()}
        return {ITEMS: [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    return value


def _untagged(obj: dict) -> Any:
    if len(obj) == 1:
        (tag, value), = obj.items()  # fmt: skip
        if tag == TUPLE:
            return tuple(value)
        if tag == SET:
            return set(value)
        if tag == ITEMS:
            return {k: v for k, v in value}
    return obj


def encode(value: Any) -> str:
    """JSON text for an entry's metadata that `decode` turns back into equal Python values: tuples, sets and
    mappings with non-string keys are tagged (ARC's scorers compare boards as tuples of tuples).

    >>> meta = {"output": ((1, 2), (3, 4)), "counts": {1: "a"}, "words": ["x"], "seen": {2}}
    >>> encode({"output": (1, 2)})
    '{"output": {"__tuple__": [1, 2]}}'
    >>> decode(encode(meta)) == meta
    True
    """
    return json.dumps(_tagged(value))


def decode(text: str) -> Any:
    """The value `encode` wrote; plain JSON (no tags) reads as usual.

    >>> decode('{"word": "sun", "pair": {"__tuple__": [1, 2]}}')
    {'word': 'sun', 'pair': (1, 2)}
    """
    return json.loads(text, object_hook=_untagged)


@functools.lru_cache(maxsize=64)
def scorer(task: str, config: str = "{}"):
    """The `score_answer` of task `task` built with generator settings `config` (JSON), built once per pair.
    Raises ValueError for a task reasoning-gym does not have, ImportError (naming the extra) without it."""
    if not available():
        raise ImportError(f"the reasoning_gym reward needs the reasoning-gym package: {INSTALL}")
    import reasoning_gym

    if task not in reasoning_gym.factory.DATASETS:
        raise ValueError(f"reasoning-gym has no task '{task}'")
    return reasoning_gym.create_dataset(task, **json.loads(config), seed=0, size=1).score_answer


def score(task: str, config: str, answer: str | None, entry: dict) -> float:
    """One row's score by its task's scorer. A scorer that raises on a malformed answer (a few parse it and
    do not catch their own errors) has been handed something that is not an answer: 0.0."""
    fn = scorer(task, config)
    with warnings.catch_warnings():  # some scorers warn on answers they cannot parse (numpy.loadtxt)
        warnings.simplefilter("ignore")
        try:
            return float(fn(answer, entry))
        except Exception:
            return 0.0


class ReasoningGym:
    """reasoning-gym's verifier of each row's task: `score_answer(completion, entry)`, in [0, 1] (some tasks
    give partial credit); None for rows without `metadata`. With `answer_tag`, the text of the last
    `<answer>...</answer>` is scored (reasoning-gym's prompting convention), and a completion without one
    gets 0.0.

    >>> rows = {"answer": ["nus"], "metadata": [encode({"word": "sun"})], "task": ["spell_backward"]}
    >>> ReasoningGym()(["nus", "abc"], **{k: v * 2 for k, v in rows.items()})
    [1.0, 0.0]
    >>> ReasoningGym(answer_tag=True)(["<answer>nus</answer>", "nus"], **{k: v * 2 for k, v in rows.items()})
    [1.0, 0.0]
    """

    def __init__(self, answer_tag: bool = False):
        if not isinstance(answer_tag, bool):
            raise ValueError(f"answer_tag must be true or false, got {answer_tag!r}")
        if not available():
            raise ValueError(f"reward 'reasoning_gym' needs the reasoning-gym package: {INSTALL}")
        self.answer_tag, self.__name__ = answer_tag, "reasoning_gym"

    def __call__(
        self, completions, answer=None, metadata=None, task=None, task_config=None, prompts=None, **kwargs
    ) -> list[float | None]:
        n = len(completions)
        if metadata is None:
            return [None] * n
        scores: list[float | None] = []
        for i, completion in enumerate(completions):
            if metadata[i] is None:
                scores.append(None)
                continue
            meta = decode(metadata[i]) if isinstance(metadata[i], str) else metadata[i]
            name = task[i] if task is not None and task[i] is not None else meta.get("source_dataset")
            if name is None:
                raise ValueError(
                    f"row {i}: no task column and no source_dataset in its metadata: which task's "
                    "verifier applies is unknown"
                )
            question = (
                content_text(prompts[i][-1])
                if prompts is not None and isinstance(prompts[i], list)
                else (prompts[i] if prompts is not None else "")
            )
            entry = {"question": question, "answer": None if answer is None else answer[i], "metadata": meta}
            text = completion_text(completion)
            given = answer_tag(text) if self.answer_tag else text.strip()
            config = task_config[i] if task_config is not None and task_config[i] is not None else "{}"
            scores.append(0.0 if given is None else score(name, config, given, entry))
        return scores


def columns(reward: ReasoningGym) -> list[tuple[str, ...]]:
    """`answer` and `metadata` (also `task` and `task_config` when present)"""
    return [("answer",), ("metadata",)]
