"""rlft's PPO stage: both model layouts train what they should, save in peft format, and learn."""

import copy
import json

import pytest
import torch
from conftest import ROOT, TINY, digit_fraction, smoke_recipe
from safetensors.torch import load_file

import rlft
from rlft.rewards import REWARDS, register

COIN = [{"name": "random_reward", "kwargs": {"seed": 0}}]
PPO = {"algorithm": "ppo", "model": TINY, "rewards": COIN,
       "trainer": {"max_steps": 2, "per_device_train_batch_size": 8, "num_mini_batches": 2, "logging_steps": 1,
                   "learning_rate": 1e-2, "max_completion_length": 4}}


@pytest.mark.parametrize("lora", [False, True], ids=["separate-models", "lora-shared-base"])
def test_ppo_stage_trains_and_saves(tmp_path, lora):
    stage = copy.deepcopy(PPO)
    if lora:
        stage["lora"] = {"r": 4, "lora_alpha": 8}
    result = rlft.run(smoke_recipe(s=stage, e={"algorithm": "eval", "model": {"from_stage": "s"}}),
                      run_dir=tmp_path / "run", echo=lambda s: None)
    run = result.path
    train = result.summary["stages"]["s"]["train"]
    for key in ("objective/kl", "objective/entropy", "objective/scores", "objective/rlhf_reward",
                "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg",
                "val/clipfrac_avg", "val/ratio"):
        assert key in train, key
    assert train["global_step"] == 2 and (run / "s" / "value_head.pt").exists()
    init = load_file(run / "s" / "init" / "model.safetensors")
    if lora:
        policy = load_file(run / "s" / "adapter" / "adapter_model.safetensors")
        assert all(t.abs().sum() > 0 for n, t in policy.items() if "lora_B" in n)
        assert (run / "s" / "value" / "value" / "adapter_model.safetensors").exists()
        assert json.loads((run / "s" / "output.json").read_text())["adapters"] == [str(run / "s" / "adapter")]
    else:
        trained = load_file(run / "s" / "model" / "model.safetensors")
        assert not [n for n, t in init.items() if torch.equal(trained[n], t)]
    assert result.summary["stages"]["e"]["eval"]["num_samples"] == 16


def test_ppo_raises_its_reward(tmp_path):
    register(digit_fraction)
    stage = {**copy.deepcopy(PPO), "rewards": ["digit_fraction"]}  # a 1-layer LoRA learns this as slowly as GRPO
    stage["trainer"].update(max_steps=30, per_device_train_batch_size=32, logging_steps=10, learning_rate=3e-3,
                            max_completion_length=6, kl_coef=0.01)
    try:
        result = rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / "run", echo=lambda s: None)
    finally:
        REWARDS.pop("digit_fraction")
    lines = result.path.joinpath("metrics.jsonl").read_text().splitlines()
    scores = [json.loads(r)["objective/scores"] for r in lines if "objective/scores" in r]
    assert len(scores) == 3
    assert scores[-1] > scores[0] + 0.3, scores


def test_ppo_config_is_validated_like_trl():
    with pytest.raises(rlft.ConfigError, match="stages.s.trainer.cliprang: unknown key for PPOConfig"):
        rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"cliprang": 0.1}}))
    with pytest.raises(rlft.ConfigError, match="must be divisible by num_mini_batches"):
        rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"per_device_train_batch_size": 6,
                                                             "num_mini_batches": 4}}))
    with pytest.raises(rlft.ConfigError, match="kl_estimator.*'k2' is not allowed"):
        rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"kl_estimator": "k2"}}))


def test_gradient_accumulation_matches_one_big_minibatch(tmp_path):
    def trained(ga: int) -> dict:
        stage = copy.deepcopy(PPO)
        stage["trainer"].update(max_steps=1, num_mini_batches=1, num_ppo_epochs=1, gradient_accumulation_steps=ga)
        rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / f"ga{ga}", echo=lambda s: None)
        return load_file(tmp_path / f"ga{ga}" / "s" / "model" / "model.safetensors")

    one, two = trained(1), trained(2)
    init = load_file(tmp_path / "ga1" / "s" / "init" / "model.safetensors")
    assert any(not torch.equal(one[n], init[n]) for n in init)  # the step did something
    for name in one:  # the same update, computed in two halves
        torch.testing.assert_close(one[name], two[name], rtol=1e-4, atol=1e-6)
    with pytest.raises(rlft.ConfigError, match=r"num_mini_batches x gradient_accumulation_steps \(6\)"):
        rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"per_device_train_batch_size": 8, "num_mini_batches": 2,
                                                             "gradient_accumulation_steps": 3}}))


@pytest.mark.parametrize("lora", [False, True], ids=["separate-models", "lora-shared-base"])
def test_activation_checkpointing_is_applied_and_changes_no_result(tmp_path, lora):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    from rlft.core.config import TinyModel
    from rlft.models import build_tiny_model
    from rlft.ppo.trainer import Models

    path = build_tiny_model(TinyModel(), tmp_path / "m", 0)
    peft = LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM") if lora else None
    models = Models(AutoModelForCausalLM.from_pretrained(path), peft, None, checkpointing=True)
    assert models.policy.is_activation_checkpointing and models.value_model.is_activation_checkpointing

    def trained(checkpointing: bool) -> dict:
        stage = copy.deepcopy(PPO)
        stage["trainer"].update(max_steps=1, activation_checkpointing=checkpointing)
        if lora:
            stage["lora"] = {"r": 4, "target_modules": "all-linear"}
        run_dir = tmp_path / f"ckpt{checkpointing}"
        rlft.run(smoke_recipe(s=stage), run_dir=run_dir, echo=lambda s: None)
        return load_file(run_dir / "s" / ("adapter/adapter_model.safetensors" if lora else "model/model.safetensors"))

    plain, recomputed = trained(False), trained(True)
    for name in plain:  # recomputing activations in backward gives the same update
        torch.testing.assert_close(plain[name], recomputed[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lora", [False, True], ids=["separate-models", "lora-shared-base"])
def test_resume_from_checkpoint_continues_bit_for_bit(tmp_path, lora):
    def run(name: str, **trainer) -> tuple[dict, list[str]]:
        stage = copy.deepcopy(PPO)
        stage["trainer"].update(max_steps=4, **trainer)
        # a reward without state of its own (random_reward's generator would restart on resume)
        stage["rewards"] = [{"name": f"{ROOT}/tests/fixtures/user_rewards.py:brevity", "kwargs": {"max_chars": 2}}]
        if lora:
            stage["lora"] = {"r": 4, "lora_alpha": 8}
        result = rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / name, echo=lambda s: None)
        saved = result.path / "s" / ("adapter/adapter_model.safetensors" if lora else "model/model.safetensors")
        lines = [line for line in (result.path / "metrics.jsonl").read_text().splitlines() if '"step": 4' in line]
        return load_file(saved), lines

    straight, straight_log = run("straight", save_strategy="steps", save_steps=2)
    checkpoint = tmp_path / "straight" / "s" / "trainer" / "checkpoint-2"
    assert (checkpoint / "state.pt").exists() and not checkpoint.with_name("checkpoint-2.tmp").exists()
    resumed, resumed_log = run("resumed", resume_from_checkpoint=str(checkpoint))
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[n], resumed[n]) for n in straight)
    assert straight_log == resumed_log  # the logged metrics of the last step too


def test_resume_from_a_folder_that_is_no_checkpoint(tmp_path):
    stage = copy.deepcopy(PPO)
    stage["trainer"]["resume_from_checkpoint"] = str(tmp_path)
    with pytest.raises(ValueError, match="is not a PPO checkpoint"):
        rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / "run", echo=lambda s: None)
