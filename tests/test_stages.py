"""Every training stage, a few steps, with and without LoRA: trainable parameters change, frozen ones
do not, and the output loads back for the next stage."""

import copy

import pytest
import torch
from conftest import GRPO, TINY, smoke_recipe
from safetensors.torch import load_file

import rlft
from rlft.core.config import ModelSpec
from rlft.models import ModelRef, load_model

# random-init models never get an answer right: coin-flip rewards give every group some variance
COIN = [{"name": "random_reward", "kwargs": {"seed": 0}}]
FEW = {"max_steps": 2, "per_device_train_batch_size": 8, "logging_steps": 1, "learning_rate": 1e-2}
STAGES = {
    "sft": {"algorithm": "sft", "trainer": FEW},
    "grpo": {**copy.deepcopy(GRPO), "rewards": COIN, "trainer": {**GRPO["trainer"], "learning_rate": 1e-2}},
    "rloo": {"algorithm": "rloo", "rewards": COIN,
             "trainer": {**GRPO["trainer"], "learning_rate": 1e-2}},
    "online_dpo": {"algorithm": "online_dpo", "rewards": COIN,
                   "trainer": {**FEW, "max_new_tokens": 4, "learning_rate": 1e-2}},
    "dpo": {"algorithm": "dpo", "trainer": FEW},
    "kto": {"algorithm": "kto", "trainer": FEW},
}


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("algorithm", list(STAGES))
def test_stage_trains_what_it_should(tmp_path, algorithm, lora):
    stage = {**copy.deepcopy(STAGES[algorithm]), "model": TINY}
    if lora:
        stage["lora"] = {"r": 4, "lora_alpha": 8, "init_lora_weights": True}
    result = rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / "run", echo=lambda s: None)
    run = result.path
    init = load_file(run / "s" / "init" / "model.safetensors")
    out = result.summary["stages"]["s"]["output"]
    assert result.summary["stages"]["s"]["train"]["global_step"] == STAGES[algorithm]["trainer"]["max_steps"]
    if lora:
        adapter = load_file(run / "s" / "adapter" / "adapter_model.safetensors")
        lora_b = [t for name, t in adapter.items() if "lora_B" in name]
        assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: trained
        assert out["adapters"] == [str(run / "s" / "adapter")]
        merged = load_model(ModelRef(**out), ModelSpec(path=out["base"])).state_dict()
        assert torch.equal(merged["model.embed_tokens.weight"], init["model.embed_tokens.weight"])  # frozen
        assert torch.equal(merged["model.norm.weight"], init["model.norm.weight"])
        assert not torch.equal(merged["model.layers.0.self_attn.q_proj.weight"],
                               init["model.layers.0.self_attn.q_proj.weight"])
    else:
        trained = load_file(run / "s" / "model" / "model.safetensors")
        unchanged = [name for name, t in init.items() if torch.equal(trained[name], t)]
        assert not unchanged, unchanged


def test_dpo_on_pairs_ranked_from_the_policy(tmp_path):
    recipe = smoke_recipe(s={"algorithm": "dpo", "model": TINY, "trainer": FEW, "rewards": COIN})
    recipe["data"]["policy_pairs"] = 4
    lines = []
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lines.append)
    assert any("prompts gave a preference pair" in line for line in lines)
    assert result.summary["stages"]["s"]["train"]["global_step"] == 2


@pytest.mark.parametrize(("change", "words"), [
    ({"stages.s.rewards": []}, "policy_pairs ranks samples with the stage's rewards"),
    ({"stages.s.algorithm": "kto", "stages.s.data": {"task": "arithmetic", "policy_pairs": 2}},
     "applies to dpo stages"),
    ({"data.policy_pairs": 1}, "must be 0 (off) or >= 2"),
])
def test_policy_pairs_errors(change, words):
    recipe = smoke_recipe(s={"algorithm": "dpo", "model": TINY, "trainer": FEW, "rewards": COIN})
    recipe["data"]["policy_pairs"] = 4
    with pytest.raises(rlft.ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        rlft.load_recipe(recipe, change)
