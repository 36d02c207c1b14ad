"""The PPO stage's `trainer.value_head`: the HL-Gauss head trains, saves, loads and resumes like the scalar one, and
bad settings are refused when the recipe is loaded, with the key named."""

import copy
import json

import pytest
import torch
from conftest import ROOT, TINY, smoke_recipe
from safetensors.torch import load_file

import rlft
from rlft.ppo.value_head import load_value_head

HLG = {"type": "hl_gauss", "bins": 11, "min": -0.5, "max": 1.5}
PPO = {"algorithm": "ppo", "model": TINY,
       # a reward without state of its own (random_reward's generator would restart on resume)
       "rewards": [{"name": f"{ROOT}/tests/fixtures/user_rewards.py:brevity", "kwargs": {"max_chars": 2}}],
       "trainer": {"max_steps": 2, "per_device_train_batch_size": 8, "num_mini_batches": 2, "logging_steps": 1,
                   "learning_rate": 1e-2, "max_completion_length": 4}}


def ppo_stage(head: dict | None, lora: bool, **trainer) -> dict:
    stage = copy.deepcopy(PPO)
    stage["trainer"].update(trainer)
    if head is not None:
        stage["trainer"]["value_head"] = head
    if lora:
        stage["lora"] = {"r": 4, "lora_alpha": 8}
    return stage


@pytest.mark.parametrize(("head", "lora"), [(HLG, True), (HLG, False), (None, True)],
                         ids=["hl_gauss-lora", "hl_gauss-separate-models", "mse-lora"])
def test_value_head_trains_saves_and_loads(tmp_path, head, lora):
    result = rlft.run(smoke_recipe(s=ppo_stage(head, lora)), run_dir=tmp_path / "run", echo=lambda s: None)
    stage_dir, train = result.path / "s", result.summary["stages"]["s"]["train"]
    assert train["global_step"] == 2
    assert "loss/value_avg" in train and "val/explained_variance" in train
    outputs = 1 if head is None else head["bins"]
    if head is None:  # the scalar head's clipped loss; the categorical head has an entropy instead
        assert "val/clipfrac_avg" in train and "val/entropy_avg" not in train
    else:
        assert "val/clipfrac_avg" not in train and 0 < train["val/entropy_avg"] <= torch.log(torch.tensor(11.0))
    saved = torch.load(stage_dir / "value_head.pt")
    assert set(saved) == {"weight", "bias"} and saved["weight"].shape == (outputs, 32)
    assert saved["weight"].abs().sum() > 0  # trained away from its zero start
    meta = json.loads((stage_dir / "value_head.json").read_text())
    assert meta["type"] == ("mse" if head is None else "hl_gauss") and meta["hidden_size"] == 32
    if head is not None:
        assert meta["sigma"] == pytest.approx(0.75 * 2.0 / 11)  # the paper's default, filled in
    loaded = load_value_head(stage_dir)
    hidden = torch.randn(2, 3, 32)
    assert torch.equal(loaded.weight, saved["weight"]) and loaded.value(loaded(hidden)).shape == (2, 3)
    if head is not None:  # values are expectations over the bin centers: inside [min, max]
        values = loaded.value(loaded(hidden * 100))
        assert values.min() >= -0.5 and values.max() <= 1.5


@pytest.mark.parametrize("lora", [False, True], ids=["separate-models", "lora-shared-base"])
def test_hl_gauss_resume_from_checkpoint_continues_bit_for_bit(tmp_path, lora):
    def run(name: str, **trainer) -> tuple[dict, torch.Tensor, list[str]]:
        result = rlft.run(smoke_recipe(s=ppo_stage(HLG, lora, max_steps=4, **trainer)), run_dir=tmp_path / name,
                          echo=lambda s: None)  # fmt: skip
        saved = result.path / "s" / ("adapter/adapter_model.safetensors" if lora else "model/model.safetensors")
        lines = [line for line in (result.path / "metrics.jsonl").read_text().splitlines() if '"step": 4' in line]
        return load_file(saved), torch.load(result.path / "s" / "value_head.pt"), lines

    straight, straight_head, straight_log = run("straight", save_strategy="steps", save_steps=2)
    checkpoint = tmp_path / "straight" / "s" / "trainer" / "checkpoint-2"
    resumed, resumed_head, resumed_log = run("resumed", resume_from_checkpoint=str(checkpoint))
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[n], resumed[n]) for n in straight)
    assert all(torch.equal(straight_head[n], resumed_head[n]) for n in straight_head)
    assert straight_log == resumed_log and "val/entropy_avg" in straight_log[0]  # the last step's metrics too


def test_resuming_with_another_value_head_is_refused(tmp_path):
    rlft.run(smoke_recipe(s=ppo_stage(None, False, save_strategy="steps", save_steps=2)), run_dir=tmp_path / "mse",
             echo=lambda s: None)  # fmt: skip
    checkpoint = tmp_path / "mse" / "s" / "trainer" / "checkpoint-2"
    stage = ppo_stage(HLG, False, max_steps=3, resume_from_checkpoint=str(checkpoint))
    with pytest.raises(ValueError, match=r"holds value_head.weight of shape \(1, 32\), this run's is \(11, 32\)"):
        rlft.run(smoke_recipe(s=stage), run_dir=tmp_path / "hlg", echo=lambda s: None)


@pytest.mark.parametrize(("head", "message"), [
    ({**HLG, "bins": 1}, r"value_head\.bins: must be >= 2"),
    ({**HLG, "min": 1.5}, r"value_head\.min: must be < max, got min 1\.5 and max 1\.5"),
    ({**HLG, "min": 2.0}, r"value_head\.min: must be < max"),
    ({**HLG, "sigma": 0.0}, r"value_head\.sigma: must be > 0"),
    ({**HLG, "sigma": -0.1}, r"value_head\.sigma: must be > 0"),
    ({"type": "gaussian"}, r"value_head\.type: 'gaussian' is not allowed; allowed: 'mse', 'hl_gauss'"),
    ({"type": "hl_gauss", "max": 1.0}, r"value_head\.min: is required with type hl_gauss"),
    ({"type": "mse", "bins": 51}, r"value_head\.bins: is a setting of type hl_gauss; type is 'mse'"),
    ({**HLG, "bin": 11}, r"value_head\.bin: unknown key for 'value_head' \(did you mean 'bins'\?\)"),
    ({**HLG, "bins": 5.5}, r"value_head\.bins: expected an integer, got 5\.5"),
    ("hl_gauss", r"value_head: expected a mapping, got 'hl_gauss'"),
])
def test_bad_value_head_settings_are_refused_at_load(head, message):
    with pytest.raises(rlft.ConfigError, match=r"stages\.s\.trainer\." + message):
        rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"value_head": head}}))


def test_good_value_head_settings_load():
    for head in (HLG, {"type": "mse"}, {"type": "hl_gauss", "min": 0.0, "max": 1.0, "sigma": 0.1}):
        recipe = rlft.load_recipe(smoke_recipe(s={**PPO, "trainer": {"value_head": head}}))
        assert recipe.stages["s"].trainer["value_head"] == head
