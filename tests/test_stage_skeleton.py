"""One skeleton for every training stage: held-out evaluation every `eval.every` steps, the stop at
`eval.stop_at_accuracy`, and one result type, for rlft's own PPO and the reward-model stage as for TRL's."""

import copy
import json

import pytest
from conftest import TINY, smoke_recipe

import rlft
from rlft.models import ModelRef
from rlft.rewards import REWARDS, register
from rlft.stages.result import StageResult

CALLS = {"n": 0}


def second_eval_passes(completions, **kwargs):
    """Accuracy 0 at the first evaluation, 1 from the second on: a target is reached at the second."""
    CALLS["n"] += 1
    return [1.0 if CALLS["n"] >= 2 else 0.0] * len(completions)


@pytest.fixture
def scripted():
    CALLS["n"] = 0
    register(second_eval_passes)
    yield
    REWARDS.pop("second_eval_passes")


def records(run, split: str) -> list[dict]:
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


PPO = {"algorithm": "ppo", "model": TINY, "rewards": [{"name": "random_reward", "kwargs": {"seed": 0}}],
       "trainer": {"max_steps": 40, "per_device_train_batch_size": 4, "num_mini_batches": 1, "logging_steps": 5,
                   "learning_rate": 1e-3, "max_completion_length": 3},
       "eval": {"every": 10, "stop_at_accuracy": 0.6, "max_new_tokens": 2, "size": 8,
                "verifier": "second_eval_passes"}}


def test_ppo_evaluates_every_n_steps_and_stops_at_the_target(tmp_path, scripted):
    run = rlft.run(smoke_recipe(ppo=copy.deepcopy(PPO)), run_dir=tmp_path / "run", echo=lambda _: None)
    ppo = run.summary["stages"]["ppo"]
    assert [(r["step"], r["accuracy"]) for r in records(run, "eval")] == [(10, 0.0), (20, 1.0)]
    assert ppo["stopped_at_accuracy_step"] == 20 and ppo["train"]["global_step"] == 20
    assert ppo["eval"]["step"] == 20 and ppo["eval"]["verifier"] == "second_eval_passes"
    assert [h["step"] for h in ppo["eval_history"]] == [10, 20]
    assert max(r["step"] for r in records(run, "train")) == 20  # the last window is logged at the stop


RM = {"algorithm": "reward_model", "model": TINY,
      "trainer": {"max_steps": 20, "per_device_train_batch_size": 8, "logging_steps": 5, "learning_rate": 1e-2},
      "eval": {"every": 5, "size": 8}}


def test_reward_model_evaluates_pairwise_accuracy_during_training(tmp_path):
    run = rlft.run(smoke_recipe(rm=copy.deepcopy(RM)), run_dir=tmp_path / "run", echo=lambda _: None)
    rm = run.summary["stages"]["rm"]
    during = [r for r in records(run, "eval") if r["num_pairs"] == 8]
    assert [r["step"] for r in during] == [5, 10, 15, 20]
    assert all(0.0 <= r["pairwise_accuracy"] <= 1.0 for r in during)
    assert [h["step"] for h in rm["eval_history"]] == [5, 10, 15, 20] and rm["stopped_at_accuracy_step"] is None
    assert rm["eval"]["num_pairs"] > 8 and "length_bias" in rm["eval"]  # the quality report on every held-out pair


def test_reward_model_stops_at_a_pairwise_accuracy_target(tmp_path):
    """A target an untrained reward model already passes (ties count as wrong, so 0.01 means: not all tied)
    stops the stage at the first evaluation."""
    stage = copy.deepcopy(RM)
    stage["eval"].update(stop_at_accuracy=0.01)
    run = rlft.run(smoke_recipe(rm=stage), run_dir=tmp_path / "run", echo=lambda _: None)
    rm = run.summary["stages"]["rm"]
    assert rm["stopped_at_accuracy_step"] == 5 and rm["train"]["global_step"] == 5
    assert [h["step"] for h in rm["eval_history"]] == [5]


@pytest.mark.parametrize("result, keys", [
    (StageResult(ModelRef("m")), []),
    (StageResult(ModelRef("m"), eval={"accuracy": 1.0}, examples=[]), ["eval", "examples"]),
    (StageResult(ModelRef("m"), train={}, timing={"t": 1}), ["train", "timing", "output"]),
    (StageResult(ModelRef("m"), train={}, eval={}, eval_history=[], examples=[], stop_kept={},
                 extra={"episodes": {}}),
     ["train", "timing", "output", "eval", "eval_history", "examples", "stopped_at_accuracy_step", "stop_kept",
      "episodes"]),
])
def test_stage_result_writes_the_summary_keys_in_order(result, keys):
    assert list(result.summary()) == keys


@pytest.mark.parametrize("key", ["entropy", "num_samples", "format"])
def test_reward_model_refuses_eval_options_only_generation_reads(key):
    value = {"entropy": True, "num_samples": 4, "format": "format_strict"}[key]
    stage = {**copy.deepcopy(RM), "eval": {"every": 5, key: value}}
    with pytest.raises(rlft.ConfigError, match=f"stages.rm.eval.{key}: applies to stages that generate"):
        rlft.load_recipe(smoke_recipe(rm=stage))
