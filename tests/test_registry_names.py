"""Capabilities, not names: outside its registry no code compares an algorithm's or a reward's name; it reads the
registry entry's flags instead (rlft.stages.Algorithm, rlft.rewards.Entry). Read from the source's syntax
tree, so strings used as keys or values (`summary["eval"]`, `{"algorithm": "reward_model"}`) do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import rlft
from rlft.rewards import REWARDS
from rlft.stages import ALGORITHMS

ROOT = Path(rlft.__file__).parent


def compared_names(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of each comparison with one of `names`: `x == "ppo"`, `"ppo" != x`, `x in ("ppo", "grpo")`.

    >>> code = 'if a.algorithm == "ppo" or b in ("dpo", "x"):\\n    pass\\n"eval" in summary'
    >>> compared_names(code, {"ppo", "dpo", "eval"})
    [(1, 'ppo'), (1, 'dpo')]
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, sides, sides[1:], strict=False):
            if isinstance(op, (ast.Eq, ast.NotEq)):
                values = [s for s in (left, right) if isinstance(s, ast.Constant)]
            elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                values = list(right.elts)
            else:
                continue
            found += [(node.lineno, v.value) for v in values if isinstance(v, ast.Constant) and v.value in names]
    return found


def names_compared_outside(owner: str, names: set[str]) -> list[str]:
    return [f"{path.relative_to(ROOT.parent)}:{line}: '{name}'"
            for path in sorted(ROOT.rglob("*.py")) if not str(path.relative_to(ROOT)).startswith(owner)
            for line, name in compared_names(path.read_text(), names)]  # fmt: skip


def test_no_algorithm_name_is_compared_outside_the_stages_package():
    assert names_compared_outside("stages", set(ALGORITHMS)) == []


def test_no_reward_name_is_compared_outside_its_registry():
    """Rule rewards belong to rlft.rewards; the trained reward model (`reward_model`) to rlft.rm. `accuracy` is
    also the held-out metric's name, which reports compare."""
    assert names_compared_outside("rewards", set(REWARDS) - {"accuracy"}) == []
    assert names_compared_outside("rm", {"reward_model"}) == []
