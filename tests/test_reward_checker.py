"""`rlft check-reward` and `check_reward`: contract violations found and located, determinism, range,
flat groups, recipe rows and groups sampled from a model."""

import json
import random

import pytest
from conftest import ROOT

from rlft.cli import main
from rlft.rewards import exact_match, numeric_match
from rlft.rewards.checker import FIXTURES, check_reward

USER = f"{ROOT}/tests/fixtures/user_rewards.py"


def test_a_good_reward_passes_with_its_figures():
    report = check_reward(numeric_match)
    assert report.ok and report.deterministic and not report.violations
    assert report.fixture_scores["empty"] == 0.0 and report.fixture_scores["unicode"] == 1.0  # "<answer>15"
    assert (report.low, report.high) == (0.0, 1.0)
    assert report.groups == 1 and report.flat_groups == 0  # gold 15 scores 1, its near misses 0
    assert [b.label for b in report.batches] == ["fixtures", "rows", "rows again"]
    assert report.batches[0].n == len(FIXTURES)
    assert "reward 'numeric_match': ok" in report.render()


def raises_on_empty(completions, **kwargs):
    return [1.0 / len(c[-1]["content"]) for c in completions]


def one_short(completions, **kwargs):
    return [0.0] * (len(completions) - 1)


def says_yes(completions, **kwargs):
    return ["yes"] * len(completions)


def nan_when_long(completions, **kwargs):
    return [float("nan") if len(c[-1]["content"]) > 10_000 else 0.0 for c in completions]


def a_dict(completions, **kwargs):
    return {"score": 1.0}


@pytest.mark.parametrize(("fn", "words"), [
    (raises_on_empty, r"sample 0 of 8, completion '': raised ZeroDivisionError"),  # the empty fixture
    (one_short, r"returned 7 scores for 8 completions"),  # wrong length
    (says_yes, r"returned str 'yes', not a number"),  # not a number
    (nan_when_long, r"sample 4 of 8, completion 'Let me think about it\..*returned nan"),  # the very long fixture
    (a_dict, r"returned dict .*not a list of 8 floats"),  # not a list
])
def test_contract_violations_are_found_and_located(fn, words):
    report = check_reward(fn)
    assert not report.ok
    assert any(__import__("re").search(words, v) for v in report.violations), report.violations
    assert "CONTRACT VIOLATED" in report.render()


def test_nan_and_none_are_counted():
    report = check_reward(nan_when_long)
    assert report.batches[0].nan == 1
    report = check_reward(exact_match, rows=[{"prompt": "q", "other": "x"}])  # no gold column
    assert report.ok and report.batches[1].none == report.batches[1].n
    assert any("returned None for every row" in w for w in report.warnings)


def test_non_determinism_and_flat_groups_are_warned_about():
    rng = random.Random(0)

    def coin(completions, **kwargs):
        return [float(rng.random() < 0.5) for _ in completions]

    report = check_reward(coin)
    assert report.ok and not report.deterministic
    assert any("changed between two calls" in w for w in report.warnings)

    def constant(completions, **kwargs):
        return [0.5] * len(completions)

    report = check_reward(constant, rows=[{"prompt": "1+1=", "answer": "2"}, {"prompt": "2+2=", "answer": "4"}])
    assert report.flat_groups == report.groups == 2 and report.flat_fraction == 1.0
    assert any("learn nothing" in w for w in report.warnings)


def test_groups_given_as_samples_are_used_as_is():
    rows = [{"prompt": "1+1=", "answer": "2"}, {"prompt": "2+2=", "answer": "4"}]
    report = check_reward(numeric_match, rows, samples=[["2", "3"], ["5", "6"]], sample_source="test")
    assert report.group_source == "test" and report.groups == 2 and report.flat_groups == 1  # 0, 0 for row 2


def test_cli_on_a_recipe_writes_json(tmp_path, capsys):
    out = tmp_path / "check.json"
    code = main(["check-reward", "numeric_match", "--recipe", f"{ROOT}/recipes/quickstart.yaml", "--rows", "4",
                 "--json", str(out)])
    assert code == 0
    assert "reward 'numeric_match': ok" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["ok"] and data["groups"] == 4 and data["flat_fraction"] == 0.0
    assert data["batches"][1]["n"] == 4 * (1 + 4 + len(FIXTURES))  # gold, 4 near misses, fixtures per row


@pytest.mark.parametrize(("args", "code", "words"), [
    ([f"{USER}:digits_only"], 1, "CONTRACT VIOLATED"),  # raises on non-digit completions
    ([f"{USER}:brevity", "--kwargs", "{max_chars: 3}"], 0, "reward 'brevity': ok"),  # a factory with kwargs
    ([f"{USER}:brevity", "--kwargs", "[1]"], 2, "--kwargs: must be a mapping"),
    (["numeric_mach"], 2, "did you mean 'numeric_match'"),
    (["numeric_match", "--recipe", f"{ROOT}/recipes/quickstart.yaml", "--stage", "nope"], 2, "has no stage 'nope'"),
    (["numeric_match", "--rows", "0"], 2, "--rows: must be at least 1"),
])
def test_cli_exit_codes(args, code, words, capsys):
    assert main(["check-reward", *args]) == code
    captured = capsys.readouterr()
    assert words in captured.out + captured.err


def test_groups_sampled_from_a_model(tiny_model_dir, capsys):
    code = main(["check-reward", "numeric_match", "--model", str(tiny_model_dir), "--num-generations", "3",
                 "--max-new-tokens", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"groups (3 samples from {tiny_model_dir}): 1 of 1" in out  # a random model never answers 15
