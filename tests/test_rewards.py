"""Built-in rewards follow TRL's contract; names resolve to built-ins or user code."""

import pytest
from conftest import ROOT

from rlft.rewards import REWARDS, RandomReward, exact_match, numeric_match, resolve

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731


@pytest.mark.parametrize(("completion", "answer", "expected"), [
    ("46", "46", 1.0),
    (MSG("46"), "46", 1.0),
    ("46.0", "46", 1.0),
    ("+7", "7", 1.0),
    ("1,234", "1234", 1.0),
    ("the sum is 46", "46", 1.0),
    ("45", "46", 0.0),
    ("", "46", 0.0),
    ("-3", "3", 0.0),
    ("3", "three", None),
    ("3", None, None),
])
def test_numeric_match_table(completion, answer, expected):
    assert numeric_match([completion], answer=[answer]) == [expected]


@pytest.mark.parametrize(("completion", "answer", "expected"), [
    ("Paris", "paris", 1.0),
    ("  Paris. ", "Paris", 1.0),
    (MSG("Paris"), "Paris", 1.0),
    ("Paris, France", "Paris", 0.0),
])
def test_exact_match_table(completion, answer, expected):
    assert exact_match([completion], answer=[answer]) == [expected]


def test_rewards_accept_and_ignore_trl_kwargs():
    out = numeric_match(["4"], prompts=["2+2="], answer=["4"], completion_ids=[[1]], trainer_state=None,
                        log_metric=lambda *a: None, log_extra=lambda *a: None)
    assert out == [1.0]
    assert exact_match(["4"]) == [None]  # no gold column: does not apply


def test_solution_column_is_accepted():
    assert numeric_match(["5"], solution=["5"]) == [1.0]


def test_random_reward_is_seeded_and_picklable():
    import pickle

    a, b = RandomReward(seed=3), RandomReward(seed=3)
    assert a(["x"] * 20) == b(["x"] * 20)
    assert pickle.loads(pickle.dumps(a)).__name__ == "random_reward"
    with pytest.raises(ValueError, match="p must be in"):
        RandomReward(p=2)


def test_resolve_builtins_user_modules_and_files():
    assert resolve("numeric_match") is numeric_match
    assert resolve("random_reward", {"seed": 1}).__name__ == "random_reward"
    fn = resolve(f"{ROOT}/tests/fixtures/user_rewards.py:brevity", {"max_chars": 2})
    assert fn(["12", "123"]) == [1.0, 0.0]
    plain = resolve(f"{ROOT}/tests/fixtures/user_rewards.py:starts_with_digit")
    assert plain([MSG("7"), "x"]) == [1.0, 0.0]
    assert resolve("json:loads") is __import__("json").loads


@pytest.mark.parametrize(("name", "kwargs", "words"), [
    ("numeric_mach", {}, "did you mean 'numeric_match'"),
    ("numeric_match", {"tol": 1}, "takes no kwargs"),
    ("no_such_pkg.mod:fn", {}, "cannot import module 'no_such_pkg.mod'"),
    ("json:lods", {}, "did you mean 'loads'"),
    ("missing_file.py:fn", {}, "does not exist"),
])
def test_resolve_errors_say_what_is_allowed(name, kwargs, words):
    with pytest.raises(ValueError, match=words):
        resolve(name, kwargs)


def test_file_that_fails_to_import(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import does_not_exist_xyz\n")
    with pytest.raises(ValueError, match="importing .*broken.py' failed: the module raised ModuleNotFoundError"):
        resolve(f"{bad}:fn")


def test_builtins_are_documented():
    for name, entry in REWARDS.items():
        assert entry.summary, name
