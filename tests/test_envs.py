"""The built-in environments: dynamics step by step, invalid actions, the turn budget, and each scripted
policy reaching its `optimal_return` on generated rows."""

import math
import statistics

import pytest

from rlft.envs import ENVIRONMENTS, resolve_env, tools
from rlft.envs.calculator import Calculator, safe_eval
from rlft.envs.guess_number import GuessNumber, expected_optimal_return
from rlft.envs.maze import Maze
from rlft.envs.wordle import Wordle


def play(env, actions):
    """The observations of a sequence of (tool, args) actions."""
    return [getattr(env, tool)(**args) for tool, args in actions]


# (class, row, actions, observations (substring each), reward, invalid actions, done)
CASES = [
    (GuessNumber, {"target": 7, "high": 10}, [("guess", {"n": 5}), ("guess", {"n": 8}), ("guess", {"n": 7})],
     ["higher", "lower", "correct"], 0.81, 0, True),
    (GuessNumber, {"target": 7, "high": 10}, [("guess", {"n": 11}), ("guess", {"n": "x"}), ("guess", {"n": "7"})],
     ["error", "error", "correct"], 0.81, 2, True),
    (GuessNumber, {"target": 3, "high": 10}, [("guess", {"n": 9})] * 4,
     ["lower", "lower", "over: 3 turns", "episode is over"], 0.0, 0, True),
    (Calculator, {"expression": "12 * 34 + 5", "answer": 413},
     [("calc", {"expression": "12 * 34 + 5"}), ("answer", {"value": 413})], ["413", "correct"], 1.0, 0, True),
    (Calculator, {"expression": "12 * 34 + 5", "answer": 413},
     [("calc", {"expression": "__import__('os')"}), ("answer", {"value": "four"}), ("answer", {"value": 400})],
     ["error", "error", "wrong"], 0.0, 2, True),
    (Maze, {"grid": "S.#\n#..\n##G"}, [("move", {"direction": "down"}), ("move", {"direction": "right"}),
                                       ("move", {"direction": "north"})],
     ["blocked", "moved right", "error"], 0.0, 1, True),
    (Maze, {"grid": "S.\n.G", "discount": 0.5}, [("move", {"direction": "right"}), ("move", {"direction": "Down"})],
     ["open: down, left", "goal reached"], 0.5, 0, True),
    (Wordle, {"target": "apple"}, [("guess", {"word": "eagle"}), ("guess", {"word": "zzzzz"}),
                                   ("guess", {"word": "APPLE"})], [".Y.GG", "error", "GGGGG"], 0.81, 1, True),
]


@pytest.mark.parametrize("cls, row, actions, expected, reward, invalid, done", CASES)
def test_dynamics(cls, row, actions, expected, reward, invalid, done):
    env = cls(max_turns=3)
    assert isinstance(env.reset(**row, prompt=[{"role": "user", "content": ""}]), str)
    for observation, part in zip(play(env, actions), expected, strict=True):
        assert part in observation
    assert env.get_reward() == pytest.approx(reward)
    assert (env.invalid, env.done) == (invalid, done)


def test_reset_starts_afresh():
    env = GuessNumber(max_turns=3)
    env.reset(target=2, high=4)
    play(env, [("guess", {"n": 2})])
    env.reset(target=4, high=4)
    assert (env.turns, env.done, env.get_reward()) == (0, False, 0.0)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_optimal_policy_reaches_optimal_return(name):
    spec = resolve_env(name, max_turns=20)
    for row in spec.rows(25, seed=3):
        env = spec.factory()()
        env.reset(**row)
        play(env, spec.cls.optimal_policy(row))
        assert env.get_reward() == pytest.approx(spec.cls.optimal_return(row))
        assert env.done and env.invalid == 0 and 0 <= env.get_reward() <= 1


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_rows_are_seeded(name):
    spec = resolve_env(name)
    assert spec.rows(5, seed=1) == spec.rows(5, seed=1) != spec.rows(5, seed=2)


def test_guess_number_expected_optimum_is_binary_search_mean():
    rows = [{"target": t, "high": 37, "discount": 0.8} for t in range(1, 38)]
    mean = statistics.fmean(GuessNumber.optimal_return(r) for r in rows)
    assert mean == pytest.approx(expected_optimal_return(37, 0.8))
    assert max(len(GuessNumber.optimal_policy(r)) for r in rows) == math.ceil(math.log2(38))


@pytest.mark.parametrize("expression, error", [("2 ** 3", "only integers"), ("1 // 0", "division by zero"),
                                               ("1" * 201, "at most 200"), ("9" * 40 + " * " + "9" * 40, "digits"),
                                               ("1 +", "not a valid"), ("1.5 + 1", "only integers")])
def test_safe_eval_refuses(expression, error):
    with pytest.raises(ValueError, match=error):
        safe_eval(expression)


def test_tools_are_the_public_methods():
    assert {name: sorted(tools(cls)) for name, cls in ENVIRONMENTS.items()} == {
        "guess_number": ["guess"], "calculator": ["answer", "calc"], "maze": ["move"], "wordle": ["guess"]}


@pytest.mark.parametrize("name, kwargs, error", [
    ("maze", {"sise": 4}, "takes no kwarg 'sise'; its rows take: size, walls, discount"),
    ("nope", {}, "unknown environment 'nope'"),
    ("rlft.envs.maze:find", {}, "not a class"),
])
def test_resolve_refuses(name, kwargs, error):
    with pytest.raises(ValueError, match=error):
        resolve_env(name, kwargs)


def test_user_class_from_file(tmp_path):
    (tmp_path / "mine.py").write_text("from rlft.envs.guess_number import GuessNumber\n\nclass Mine(GuessNumber):\n"
                                      "    pass\n")
    spec = resolve_env(f"{tmp_path / 'mine.py'}:Mine", {"high": 8}, max_turns=4)
    env = spec.factory()()
    assert (type(env).__name__, env.max_turns, spec.rows(1, 0)[0]["high"]) == ("Mine", 4, 8)


def test_every_builtin_is_documented():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "environments.md").read_text()
    assert all(f"| `{name}` |" in page for name in ENVIRONMENTS)


@pytest.mark.parametrize("kwargs, error", [
    ({"digits": 2, "terms": 2, "ops": "/"}, "ops must be some of '\\+-\\*', got '/'"),
    ({"digits": 2, "terms": 2, "ops": ""}, "ops must be some of"),
    ({"digits": 2, "terms": 2, "smallest": 100}, "smallest must be from 0 to 99"),
    ({"digits": 0}, "need digits >= 1"),
])
def test_calculator_rows_refuse(kwargs, error):
    with pytest.raises(ValueError, match=error):
        Calculator.rows(3, 0, **kwargs)


def test_calculator_rows_with_one_operator_and_a_floor_have_fixed_widths():
    rows = Calculator.rows(200, 0, digits=2, terms=2, ops="*", smallest=32)
    assert {len(r["expression"]) for r in rows} == {5} and {len(str(r["answer"])) for r in rows} == {4}
    assert all(r["answer"] == safe_eval(r["expression"]) for r in rows)
