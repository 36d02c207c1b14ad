"""`calculator`: multi-digit arithmetic too long for a tiny model to do in its head, with a `calc` tool.

The episode ends with the `answer` tool (TRL's `get_reward` sees only the environment, not the final message,
so the answer is an action); reward 1.0 for the exact value, else 0. Optimum 1.0: one `calc` of the
expression, then `answer` with its result.
"""

from __future__ import annotations

import ast
import operator
import random

from rlft.envs.base import Environment, as_int

OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}
# Bounds that keep `calc` instant whatever the model writes.
MAX_EXPRESSION_CHARS = 200
MAX_DIGITS = 60


def safe_eval(expression: str) -> int:
    """The value of an integer expression with + - * // and parentheses; ValueError for anything else.

    >>> safe_eval("12 * (3 + 4) - 100 // 7"), safe_eval("-5 + 2")
    (70, -3)
    >>> safe_eval("2 ** 10")
    Traceback (most recent call last):
    ...
    ValueError: only integers, + - * // and parentheses are allowed
    """
    if not isinstance(expression, str) or len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression must be text of at most {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError("not a valid expression") from None
    return _value(tree.body)


def _value(node) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        value = node.value
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _value(node.operand) * (-1 if isinstance(node.op, ast.USub) else 1)
    elif isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.FloorDiv) and right == 0:
            raise ValueError("division by zero")
        value = OPERATORS[type(node.op)](left, right)
    else:
        raise ValueError("only integers, + - * // and parentheses are allowed")
    if len(str(abs(value))) > MAX_DIGITS:
        raise ValueError(f"a value has more than {MAX_DIGITS} digits")
    return value


class Calculator(Environment):
    """Compute the row's expression exactly; a calculator tool is at hand."""

    def reset(self, expression: str, answer: int, **row) -> str:
        """Start an episode for the row's `expression`, whose value is `answer`."""
        self._begin()
        self.expression, self.answer_value = expression, int(answer)
        # The expression comes last, nearest the call that copies it.
        return f"Use the calc tool, then give the result with the answer tool. Compute \"{expression}\""

    def calc(self, expression: str) -> str:
        """Evaluate an integer arithmetic expression.

        Args:
            expression: Integers with + - * // and parentheses, e.g. "482 * 37 + 905".

        Returns:
            The value, or an error.
        """
        return self._turn(self._calc, expression)

    def answer(self, value: int) -> str:
        """Give the final answer; this ends the episode.

        Args:
            value: The value of the expression.

        Returns:
            Whether the answer is correct.
        """
        return self._turn(self._answer, value)

    def _calc(self, expression) -> str:
        try:
            return str(safe_eval(expression))
        except ValueError as e:
            return self._invalid(str(e))

    def _answer(self, value) -> str:
        number = as_int(value)
        if number is None:
            return self._invalid(f"the answer must be an integer, got {value!r}")
        self._finish(1.0 if number == self.answer_value else 0.0)
        return "correct" if self.score == 1.0 else "wrong"

    @classmethod
    def rows(cls, n: int, seed: int, digits: int = 3, terms: int = 3, ops: str = "+-*",
             smallest: int | None = None) -> list[dict]:
        """n expressions of `terms` random `digits`-digit numbers (from `smallest`, default 10**(digits-1)) joined
        by operators drawn from `ops`.

        >>> Calculator.rows(2, 0, digits=2, terms=2, ops="*", smallest=32)
        [{'expression': '81*85', 'answer': 6885}, {'expression': '65*97', 'answer': 6305}]
        """
        top = 10**digits - 1
        if digits < 1 or terms < 2 or digits * terms > MAX_DIGITS:
            raise ValueError(f"need digits >= 1, terms >= 2 and digits * terms <= {MAX_DIGITS}, got "
                             f"digits={digits}, terms={terms}")
        if not ops or set(ops) - set("+-*"):
            raise ValueError(f"ops must be some of '+-*', got {ops!r}")
        low = 10 ** (digits - 1) if smallest is None else smallest
        if not 0 <= low <= top:
            raise ValueError(f"smallest must be from 0 to {top} (the largest {digits}-digit number), got {smallest}")
        rng = random.Random(seed)
        out = []
        for _ in range(n):
            parts = [str(rng.randint(low, top)) for _ in range(terms)]
            expression = parts[0] + "".join(f"{rng.choice(ops)}{p}" for p in parts[1:])
            out.append({"expression": expression, "answer": safe_eval(expression)})
        return out

    @classmethod
    def optimal_policy(cls, row: dict) -> list[tuple[str, dict]]:
        """Compute the expression with the tool, then answer its value."""
        return [("calc", {"expression": row["expression"]}), ("answer", {"value": safe_eval(row["expression"])})]

    @classmethod
    def optimal_return(cls, row: dict) -> float:
        """Always 1.0: the tool makes the exact answer reachable."""
        return 1.0
