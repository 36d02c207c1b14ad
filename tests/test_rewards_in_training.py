"""User rewards inside a real run: a broken one stops the run with a message naming the function, the
sample and the completion (exit code 2 from the CLI), never a trainer traceback; async ones just work."""

import copy
import json

import pytest
import yaml
from conftest import GRPO, ROOT, SFT, smoke_recipe

import rlft
from rlft.cli import main
from rlft.rewards.guard import RewardError

USER = f"{ROOT}/tests/fixtures/user_rewards.py"


def recipe_with(reward: str) -> dict:
    return smoke_recipe(sft=copy.deepcopy(SFT),
                        grpo={**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}, "rewards": [reward]})


def test_reward_that_raises_stops_the_cli_with_where_and_what(tmp_path, capsys):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_with(f"{USER}:digits_only"), sort_keys=False))
    code = main(["run", str(path), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: reward 'digits_only', sample ")
    assert " of 8, completion '" in err and "raised ValueError: invalid literal for int()" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "summary.json").exists()  # the run is not reported as finished


def test_nan_reward_is_refused_by_name(tmp_path):
    with pytest.raises(RewardError, match=r"reward 'nan_reward', sample 0 of 8, completion .*: returned nan"):
        rlft.run(recipe_with(f"{USER}:nan_reward"), run_dir=tmp_path / "run", echo=lambda s: None)


def test_async_reward_trains_and_evaluates(tmp_path):
    recipe = recipe_with(f"{USER}:async_brevity")
    recipe["stages"]["eval"] = {"algorithm": "eval", "model": {"from_stage": "grpo"},
                                "rewards": [f"{USER}:async_brevity"], "eval": {"max_new_tokens": 4}}
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    records = [json.loads(line) for line in (result.path / "metrics.jsonl").read_text().splitlines()]
    trained = [r["rewards/async_brevity/mean"] for r in records if r["stage"] == "grpo" and "reward" in r]
    assert len(trained) == 2 and all(0.0 <= m <= 1.0 for m in trained)
    assert 0.0 <= result.summary["stages"]["eval"]["eval"]["rewards/async_brevity/mean"] <= 1.0
