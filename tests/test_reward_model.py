"""Reward-model stage, its quality report, and a trained reward model used as a GRPO reward."""

import copy
import json

import pytest
import torch
from conftest import GRPO, ROOT, TINY, smoke_recipe
from safetensors.torch import load_file

import rlft
from rlft.core.schema import ConfigError
from rlft.rm.score import pairwise_report

RM = {"algorithm": "reward_model", "model": TINY,
      "trainer": {"max_steps": 3, "per_device_train_batch_size": 8, "logging_steps": 1, "learning_rate": 1e-2}}
PAIRS = {"prompt": ["a", "b", "c", "d"], "chosen": ["1", "2", "3", "4"], "rejected": ["x", "y", "z", "w"]}


@pytest.mark.parametrize(("scores", "accuracy"), [
    ({"1": 1.0, "2": 1.0, "3": 1.0, "4": 1.0}, 1.0),  # a perfect reward model: chosen always above
    ({"1": -1.0, "2": -1.0, "3": -1.0, "4": -1.0}, 0.0),  # always inverted
    ({}, 0.0),  # constant scores: ties count as wrong
    ({"1": 1.0, "2": 1.0}, 0.5),  # right on half the pairs
])
def test_pairwise_report_known_answers(scores, accuracy):
    report = pairwise_report([scores.get(c, 0.0) for c in PAIRS["chosen"]],
                                [scores.get(c, 0.0) for c in PAIRS["rejected"]])
    assert report["pairwise_accuracy"] == accuracy
    assert report["num_pairs"] == 4
    assert report["margin_mean"] == pytest.approx(report["chosen_mean"] - report["rejected_mean"])


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_reward_model_stage_then_grpo_against_it(tmp_path, lora):
    stage = copy.deepcopy(RM)
    if lora:
        stage["lora"] = {"r": 4, "lora_alpha": 8}
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"from_stage": "rm", "normalize": True}}]}
    evaluation = {"algorithm": "eval", "model": {"from_stage": "grpo"}, "eval": {"max_new_tokens": 4},
                  "rewards": [{"name": "reward_model", "kwargs": {"from_stage": "rm"}}]}
    result = rlft.run(smoke_recipe(rm=stage, grpo=grpo, eval=evaluation), run_dir=tmp_path / "run",
                      echo=lambda s: None)
    run = result.path
    report = result.summary["stages"]["rm"]["eval"]
    assert 0.0 <= report["pairwise_accuracy"] <= 1.0 and report["num_pairs"] == 16
    assert json.loads((run / "rm" / "rm_stats.json").read_text()) == report
    assert 0.0 <= report["length_bias"] <= 1.0 and report["probe/num_samples"] == 4 * 16
    assert (run / "rm" / "scores.png").exists()
    trained = load_file(run / "rm" / "model" / "model.safetensors")
    init = load_file(run / "rm" / "init" / "model.safetensors")
    assert "score.weight" in trained
    same_embeddings = torch.equal(trained["model.embed_tokens.weight"], init["model.embed_tokens.weight"])
    assert same_embeddings == lora  # LoRA leaves the embeddings frozen; full training changes them
    grpo_train = result.summary["stages"]["grpo"]["train"]
    assert "rewards/reward_model/mean" in grpo_train
    assert "rewards/reward_model/mean" in result.summary["stages"]["eval"]["eval"]


def test_reward_model_min_accuracy_stops_the_run(tmp_path):
    stage = {**copy.deepcopy(RM), "eval": {"min_accuracy": 1.01}}
    with pytest.raises(ConfigError, match="must be in"):
        rlft.load_recipe(smoke_recipe(rm=stage))
    stage["eval"]["min_accuracy"] = 1.0
    stage["trainer"]["max_steps"] = 1
    stage["trainer"]["learning_rate"] = 1e-9
    with pytest.raises(ConfigError, match="stages.rm.eval.min_accuracy: the reward model reached pairwise accuracy"):
        rlft.run(smoke_recipe(rm=stage), run_dir=tmp_path / "run", echo=lambda s: None)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"from_stage": "sft"}, r"'sft' is not an earlier reward_model stage \(earlier ones: none\)"),
    ({"from_stage": "later"}, "is not an earlier reward_model stage"),
    ({}, "exactly one of from_stage, definition, path"),
    ({"path": "/no/such/rm"}, "does not exist"),
    ({"from_stage": "sft", "temperature": 2}, "unknown key"),
])
def test_reward_model_reward_spec_errors(kwargs, words):
    recipe = smoke_recipe(sft={"algorithm": "sft", "model": TINY},
                          grpo={**copy.deepcopy(GRPO), "model": TINY,
                                "rewards": [{"name": "reward_model", "kwargs": kwargs}]},
                          later={**copy.deepcopy(RM)})
    with pytest.raises(ConfigError, match=words):
        rlft.load_recipe(recipe)


SMALL_DEF = """description: a 2-step reward model for tests
model:
  tiny: {hidden_size: 32, num_layers: 1, num_heads: 2, num_kv_heads: 1}
data:
  task: arithmetic
  kwargs: {digits: 1}
  train_size: 64
  eval_size: 16
trainer: {max_steps: 2, per_device_train_batch_size: 8, logging_steps: 1}
"""


def test_reward_model_definition_is_trained_once_and_cached(tmp_path):
    definition = tmp_path / "small_rm.yaml"
    definition.write_text(SMALL_DEF)
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"definition": str(definition)}}]}
    recipe = {**smoke_recipe(grpo=grpo), "output_dir": str(tmp_path / "runs")}
    lines = []
    rlft.run(recipe, run_dir=tmp_path / "a", echo=lines.append)
    assert any("training into" in line for line in lines)
    cached = list((tmp_path / "runs" / ".cache" / "reward_models").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("small_rm-")
    assert (cached[0] / "rm" / "model" / "config.json").exists() and (cached[0] / "rm" / "rm_stats.json").exists()
    stamp = (cached[0] / "summary.json").stat().st_mtime_ns

    lines.clear()
    rlft.run(recipe, run_dir=tmp_path / "b", echo=lines.append)
    assert any("cached at" in line for line in lines) and not any("training into" in line for line in lines)
    assert (cached[0] / "summary.json").stat().st_mtime_ns == stamp

    lines.clear()
    rlft.run(recipe, run_dir=tmp_path / "c", echo=lines.append, use_cache=False)
    assert any("training into" in line for line in lines)

    other_seed = {**recipe, "seed": 1}
    rlft.run(other_seed, run_dir=tmp_path / "d", echo=lambda s: None)
    assert len(list((tmp_path / "runs" / ".cache" / "reward_models").iterdir())) == 2  # the hash covers the seed


def test_bad_reward_model_definition_names_its_file(tmp_path):
    definition = tmp_path / "bad_rm.yaml"
    definition.write_text(SMALL_DEF.replace("max_steps: 2", "max_stepz: 2"))
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"definition": str(definition)}}]}
    with pytest.raises(ConfigError) as err:
        rlft.load_recipe(smoke_recipe(grpo=grpo))
    assert err.value.source == str(definition) and err.value.key == "trainer.max_stepz"
    with pytest.raises(ConfigError, match="definition 'reward_models/nope.yaml' does not exist"):
        rlft.load_recipe(smoke_recipe(grpo={**grpo, "rewards": [{"name": "reward_model",
                                                                  "kwargs": {"definition": "nope"}}]}))


def test_shipped_definitions_validate(monkeypatch):
    from conftest import ROOT

    from rlft.runner.recipe import load_definition

    monkeypatch.chdir(ROOT)
    names = [p.stem for p in (ROOT / "reward_models").glob("*.yaml")]
    assert names
    for name in names:
        assert load_definition(name, seed=0).stages["rm"].algorithm == "reward_model"


WARMUP_DEF = SMALL_DEF.replace("model:\n  tiny:", "warmup:\n  trainer: {max_steps: 2, per_device_train_batch_size: 8}\n"
                               "  model:\n    tiny:")


def test_a_definition_with_a_warmup_trains_its_base_first_and_caches_both(tmp_path):
    """`warmup:` is an SFT of the reward model's base inside the definition: the first run trains both stages
    into the cache, the reward model from the warm-up's model; the next run trains neither."""
    definition = tmp_path / "warm_rm.yaml"
    definition.write_text(WARMUP_DEF)
    from rlft.runner.recipe import load_definition

    loaded = load_definition(str(definition), seed=0)
    assert list(loaded.stages) == ["warmup", "rm"] and loaded.stages["rm"].model.from_stage == "warmup"
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"definition": str(definition)}}]}
    recipe = {**smoke_recipe(grpo=grpo), "output_dir": str(tmp_path / "runs")}
    lines = []
    rlft.run(recipe, run_dir=tmp_path / "a", echo=lines.append)
    (cached,) = (tmp_path / "runs" / ".cache" / "reward_models").iterdir()
    summary = json.loads((cached / "summary.json").read_text())
    assert list(summary["stages"]) == ["warmup", "rm"] and summary["stages"]["warmup"]["algorithm"] == "sft"
    lines.clear()
    rlft.run(recipe, run_dir=tmp_path / "b", echo=lines.append)
    assert any("cached at" in line for line in lines) and not any("[warmup]" in line for line in lines)


@pytest.mark.parametrize("text, key", [
    (WARMUP_DEF.replace("max_steps: 2, per_device", "max_stepz: 2, per_device"), "warmup.trainer.max_stepz"),
    (WARMUP_DEF + "model: {tiny: {hidden_size: 32}}\n", "model"),
    (SMALL_DEF + "warmup: 3\n", "warmup"),
])
def test_bad_warmup_blocks_name_the_definition_and_key(tmp_path, text, key):
    definition = tmp_path / "bad_rm.yaml"
    definition.write_text(text)
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"definition": str(definition)}}]}
    with pytest.raises(ConfigError) as err:
        rlft.load_recipe(smoke_recipe(grpo=grpo))
    assert err.value.source == str(definition) and err.value.key == key


def test_an_ensemble_definition_trains_k_members_and_combines_them(tmp_path):
    """`ensemble: 3`: three reward models on three data orders, cached together with a report of each member and
    each combination; the reward is one callable named reward_model whose scores follow `combine`."""
    from rlft.rm.ensemble import EnsembleReward
    from rlft.runner.pipeline import run
    from rlft.runner.recipe import load_definition
    from rlft.runner.reward_models import trained_path

    definition = tmp_path / "trio.yaml"
    definition.write_text(SMALL_DEF + "ensemble: 3\n")
    loaded = load_definition(str(definition), seed=0)
    assert list(loaded.stages) == ["rm", "rm1", "rm2"]
    assert [s.trainer.get("data_seed") for s in loaded.stages.values()] == [None, 1, 2]
    paths = trained_path(str(definition), 0, str(tmp_path / "runs"), echo=lambda s: None, run=run)
    assert [p.parent.name for p in paths] == ["rm", "rm1", "rm2"]
    report = json.loads((paths[0].parents[1] / "ensemble.json").read_text())
    assert len(report["members"]) == 3 and set(report) >= {"mean", "min", "uncertainty", "num_pairs"}
    weights = [torch.cat([t.flatten() for t in load_file(p / "model.safetensors").values()]) for p in paths]
    assert not torch.equal(weights[0], weights[1])  # another data order trains another model
    prompts, completions = ["1+1="] * 2, ["2", "3"]
    members = [EnsembleReward([p])(completions, prompts=prompts) for p in paths]
    lowest = EnsembleReward(paths, combine="min")(completions, prompts=prompts)
    assert lowest == pytest.approx([min(m[i] for m in members) for i in range(2)])
    grpo = {**copy.deepcopy(GRPO), "model": TINY,
            "rewards": [{"name": "reward_model", "kwargs": {"definition": str(definition),
                                                            "combine": "uncertainty", "uncertainty_weight": 0.5}}]}
    assert rlft.load_recipe(smoke_recipe(grpo=grpo)).stages["grpo"].rewards[0].kwargs["combine"] == "uncertainty"


@pytest.mark.parametrize("kwargs, message", [
    ({"combine": "median"}, "kwargs.combine: must be one of mean, min, uncertainty"),
    ({"uncertainty_weight": -1}, "kwargs.uncertainty_weight: must be a number >= 0"),
    ({"combine": "min", "definition": "arithmetic_bt"}, "kwargs.combine: applies to an ensemble"),
])
def test_ensemble_options_are_checked(kwargs, message):
    spec = {"definition": str(ROOT / "reward_models" / "arithmetic_bt.yaml"), **kwargs}
    if "definition" in kwargs:
        spec["definition"] = str(ROOT / "reward_models" / f"{kwargs['definition']}.yaml")
    grpo = {**copy.deepcopy(GRPO), "model": TINY, "rewards": [{"name": "reward_model", "kwargs": spec}]}
    with pytest.raises(ConfigError, match=message):
        rlft.load_recipe(smoke_recipe(grpo=grpo))
