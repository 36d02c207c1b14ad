"""Small learning checks: a metric moves the right way within seconds (the quickstart itself is measured
by bench/quickstart.py, not here)."""

import json

from conftest import digit_fraction, smoke_recipe

import rlft
from rlft.rewards import REWARDS, register


def test_sft_learns_one_digit_addition(tmp_path):
    recipe = smoke_recipe(
        sft={
            "algorithm": "sft",
            "model": {"tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2}},
            "trainer": {"max_steps": 150, "per_device_train_batch_size": 32, "learning_rate": 3e-3,
                        "lr_scheduler_type": "constant", "logging_steps": 50},
            "eval": {"every": 150, "max_new_tokens": 4, "size": 20},
        },
    )
    recipe["data"].update(train_size=80, eval_size=20)
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    sft = result.summary["stages"]["sft"]
    assert sft["train"]["loss"] < 1.0
    assert sft["eval"]["accuracy"] >= 0.3  # chance is ~1/19 answers; held-out problems never seen


def test_grpo_raises_a_registered_reward(tmp_path):
    register(digit_fraction)  # the notebook path: a function defined here, named in the recipe
    recipe = smoke_recipe(
        grpo={
            "algorithm": "grpo",
            "rewards": ["digit_fraction"],
            "model": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1}},
            "trainer": {"max_steps": 60, "per_device_train_batch_size": 32, "num_generations": 8,
                        "max_completion_length": 6, "learning_rate": 3e-3, "logging_steps": 10},
        },
    )
    try:
        result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    finally:
        REWARDS.pop("digit_fraction")
    records = result.path.joinpath("metrics.jsonl").read_text().splitlines()
    rewards = [json.loads(r)["rewards/digit_fraction/mean"] for r in records if "rewards/digit_fraction/mean" in r]
    assert len(rewards) == 6
    assert rewards[-1] > rewards[0] + 0.2, rewards
