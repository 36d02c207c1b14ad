"""Recipe validation: every mistake gives one clear ConfigError naming the file, the dotted key and what
is allowed, before anything runs; the CLI turns it into exit code 2 without a traceback."""

import copy
import subprocess
import sys

import pytest
import yaml
from conftest import EVAL, GRPO, ROOT, SFT, TINY, smoke_recipe

from rlft.cli import main
from rlft.core.schema import ConfigError
from rlft.runner.recipe import load_recipe


def base():
    return smoke_recipe(sft=copy.deepcopy(SFT), grpo={**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}},
                        eval={**EVAL, "model": {"from_stage": "grpo"}})


def test_valid_smoke_recipe_loads():
    recipe = load_recipe(base())
    assert list(recipe.stages) == ["sft", "grpo", "eval"]
    assert recipe.stages["grpo"].rewards[0].name == "numeric_match"
    assert recipe.stages["sft"].model.tiny.hidden_size == 32


# (override dotted key, value, expected key in the message, expected words in the message)
BAD = [
    ("colour", "red", "colour", "unknown key"),
    ("stages.sft.modle", {"path": "x"}, "stages.sft.modle", "did you mean 'model'"),
    ("stages.sft.trainer.lerning_rate", 0.1, "stages.sft.trainer.lerning_rate", "did you mean 'learning_rate'"),
    ("stages.sft.trainer.max_steps", "ten", "stages.sft.trainer.max_steps", "expected an integer"),
    ("stages.sft.lora.r", 0.5, "stages.sft.lora.r", "expected an integer"),
    ("stages.sft.trainer.lr_scheduler_type", "wavy", "stages.sft.trainer", "SFTConfig refuses"),
    ("stages.sft.lora", {"rank": 8}, "stages.sft.lora.rank", "LoraConfig"),
    ("stages.sft.algorithm", "ppo2", "stages.sft.algorithm",
     "allowed: sft, grpo, rloo, ppo, online_dpo, dpo, reward_model, kto, alol, eval"),
    ("stages.sft.model", {"from_stage": "grpo"}, "stages.sft.model.from_stage", "names no earlier stage"),
    ("stages.sft.model", {"path": "./no/such/model"}, "stages.sft.model.path", "does not exist"),
    ("stages.sft.model", {"path": "a", "from_stage": "x"}, "stages.sft.model", "exactly one"),
    ("stages.grpo.rewards", ["numeric_mtch"], "stages.grpo.rewards[0].name", "did you mean 'numeric_match'"),
    ("stages.grpo.rewards", ["no_such_module_xyz:fn"], "stages.grpo.rewards[0].name", "cannot import"),
    ("stages.grpo.rewards", [], "stages.grpo.rewards", "needs at least one reward"),
    ("stages.grpo.trainer.num_generations", 3, "stages.grpo.trainer.num_generations", "must divide the 8"),
    ("stages.eval.trainer", {"max_steps": 1}, "stages.eval.trainer", "not used by algorithm 'eval'"),
    ("data.task", "sorting", "data.task", "unknown task"),
    ("data.kwargs", {"digits": 2, "base": 3}, "data.kwargs.base", "unknown argument"),
    ("data.kwargs", {"digits": 0}, "data.kwargs", "digits must be"),
    ("data.train_size", 1000, "data.train_size", "distinct problems"),
    ("data.train_size", -1, "data.train_size", "must be > 0"),
    ("data", {"path": "missing.jsonl"}, "data.path", "does not exist"),
    ("seed", "zero", "seed", "expected an integer"),
    ("stages.sft.eval", {"stop_at_accuracy": 0.5}, "stages.sft.eval.stop_at_accuracy", "needs every > 0"),
    ("stages.sft.trainer.output_dir", "/tmp/x", "stages.sft.trainer.output_dir", "set by rlft"),
]


@pytest.mark.parametrize(("key", "value", "where", "words"), BAD, ids=[b[0] + "=" + str(b[1]) for b in BAD])
def test_bad_recipe_names_key(key, value, where, words):
    with pytest.raises(ConfigError) as err:
        load_recipe(base(), {key: value})
    assert err.value.key == where, str(err.value)
    assert words in str(err.value)


def test_cli_exit_code_2_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    recipe = base()
    recipe["stages"]["sft"]["trainer"]["lerning_rate"] = 1.0
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = subprocess.run([sys.executable, "-m", "rlft.cli", "validate", str(path)], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{path}: stages.sft.trainer.lerning_rate: unknown key for SFTConfig" in out.stderr


@pytest.mark.parametrize(("text", "words"), [
    ("stages: [oops", "not valid YAML"),
    ("- a\n- b\n", "a recipe is a YAML mapping"),
    ("stages: {}\n", "at least one stage"),
    ("stages:\n  a.b: {algorithm: eval, model: x}\n", "no dots"),
])
def test_malformed_files(tmp_path, capsys, text, words):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and str(path) in err


def test_missing_recipe_file(capsys):
    assert main(["validate", "recipes/nope.yaml"]) == 2
    assert "recipes/nope.yaml' does not exist" in capsys.readouterr().err


def test_overrides_from_cli_are_typed(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(base(), sort_keys=False))
    recipe = load_recipe(path, ["seed=3", "stages.grpo.trainer.max_steps=5", "data.kwargs.ops=[+, -]"])
    assert recipe.seed == 3 and recipe.name == "smoke"
    assert recipe.stages["grpo"].trainer["max_steps"] == 5
    assert recipe.data.kwargs["ops"] == ["+", "-"]


def test_every_shipped_recipe_validates():
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert recipes
    for path in recipes:
        load_recipe(path)


def test_reward_shorthand_and_model_shorthand():
    recipe = load_recipe(smoke_recipe(e={"algorithm": "eval", "model": str(ROOT), "rewards": ["exact_match"]}))
    assert recipe.stages["e"].model.path == str(ROOT)
    assert recipe.stages["e"].rewards[0].weight == 1.0


def test_tiny_spec_checks_heads():
    bad = {**TINY, "tiny": {**TINY["tiny"], "num_heads": 3}}
    with pytest.raises(ConfigError, match="num_heads: must divide hidden_size"):
        load_recipe(smoke_recipe(s={**SFT, "model": bad}))
