"""Seeded generators of verifiable tasks. Each problem is a (prompt text, answer) pair; train and held-out
splits are drawn without replacement from the task's problem space, so they never overlap."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass

OPERATORS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


@dataclass(frozen=True)
class Task:
    """A task: how many distinct problems it has, how to make problem number i, and the reward that
    verifies an answer (used for accuracy)."""

    name: str
    description: str
    size: Callable[..., int]
    problem: Callable[..., tuple[str, str]]  # (index, **kwargs) -> (prompt, answer)
    verifier: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        params = inspect.signature(self.problem).parameters
        return {k: p for k, p in params.items() if k != "index"}


def _check_arithmetic(digits: int, ops: list[str]) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 9:
        raise ValueError(f"digits must be an integer from 1 to 9, got {digits!r}")
    if not isinstance(ops, list) or not ops or any(op not in OPERATORS for op in ops):
        raise ValueError(f"ops must be a non-empty list of {list(OPERATORS)}, got {ops!r}")


def arithmetic_size(digits: int = 2, ops: list[str] | None = None, pad: bool = False) -> int:
    """Number of distinct problems: every ordered pair of operands below 10**digits, for each operator.

    >>> arithmetic_size(2, ["+"]), arithmetic_size(1, ["+", "*"])
    (10000, 200)
    """
    ops = ops or ["+"]
    _check_arithmetic(digits, ops)
    return len(ops) * (10**digits) ** 2


def arithmetic_problem(
    index: int, digits: int = 2, ops: list[str] | None = None, pad: bool = False
) -> tuple[str, str]:
    """Problem number `index` of the arithmetic task: operands are integers from 0 to 10**digits - 1.

    With `pad`, operands and answer are zero-padded to fixed widths (digits; digits + 1 for a sum, 2 * digits
    for a product), which small transformers learn faster because each digit keeps its position.

    >>> arithmetic_problem(1234, 2, ["+"])
    ('12+34=', '46')
    >>> arithmetic_problem(10000 + 305, 2, ["+", "-"])
    ('3-5=', '-2')
    >>> arithmetic_problem(745, 2, ["+"], pad=True)
    ('07+45=', '052')
    """
    ops = ops or ["+"]
    n = 10**digits
    op, rest = divmod(index, n * n)
    a, b = divmod(rest, n)
    symbol = ops[op]
    result = OPERATORS[symbol](a, b)
    if not pad:
        return f"{a}{symbol}{b}=", str(result)
    width = {"+": digits + 1, "-": digits, "*": 2 * digits}[symbol]
    sign = "-" if result < 0 else ""
    return f"{a:0{digits}d}{symbol}{b:0{digits}d}=", f"{sign}{abs(result):0{width}d}"


TASKS: dict[str, Task] = {
    "arithmetic": Task(
        name="arithmetic",
        description="integer arithmetic 'a+b=' with operands below 10**digits; ops from + - *",
        size=arithmetic_size,
        problem=arithmetic_problem,
        verifier="numeric_match",
    ),
}


def sample_problems(task: Task, kwargs: dict, n_train: int, n_eval: int, seed: int):
    """Draw n_eval + n_train distinct problems; the first n_eval are the held-out split.

    >>> train, held = sample_problems(TASKS["arithmetic"], {"digits": 1}, 60, 20, seed=0)
    >>> len(train), len(held), len(set(train) & set(held))
    (60, 20, 0)
    """
    total = task.size(**kwargs)
    if n_train + n_eval > total:
        raise ValueError(f"asks for {n_train + n_eval} problems but the task has only {total} distinct ones")
    indices = random.Random(seed).sample(range(total), n_train + n_eval)
    problems = [task.problem(i, **kwargs) for i in indices]
    return problems[n_eval:], problems[:n_eval]
