"""The pre-run check (`rlft check`, `check:` on an RL stage): a random-init model on 2-digit addition cannot
learn from an exact-match reward, and the check says so before any training."""

import copy
import json

import pytest
import yaml
from conftest import GRPO, SFT, TINY, digit_fraction, smoke_recipe

import rlft
from rlft.cli import main
from rlft.core.config import ModelSpec
from rlft.core.schema import ConfigError
from rlft.eval.precheck import run_check
from rlft.models import ModelRef, load_model, load_tokenizer


def addition_recipe(**grpo_extra) -> dict:
    """GRPO straight from a random-init tiny model on 2-digit addition, exact-match reward."""
    recipe = smoke_recipe(grpo={**copy.deepcopy(GRPO), "model": TINY, **grpo_extra})
    recipe["data"]["kwargs"] = {"digits": 2}
    return recipe


def write(tmp_path, recipe) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return str(path)


def test_check_flags_a_task_the_model_cannot_solve(tmp_path, capsys):
    code = main(["check", write(tmp_path, addition_recipe()), "--prompts", "8", "--k", "4",
                 "--json", str(tmp_path / "check.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "CANNOT LEARN: pass@4 = 0" in out and "zero-variance groups 1 > max_zero_variance 0.9" in out
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["ok"] is False and report["prompts"] == 8 and report["k"] == 4
    assert report["metrics"]["pass@1"] == 0.0 and report["metrics"]["zero_variance"] == 1.0
    assert report["metrics"]["verifier"] == "numeric_match"


def test_check_passes_when_samples_differ(tiny_model_dir):
    from datasets import Dataset

    def has_digit(completions, **kwargs):
        return [float(any(ch.isdigit() for ch in c)) for c in completions]

    model = load_model(ModelRef(str(tiny_model_dir)), ModelSpec(path=str(tiny_model_dir)))
    tokenizer = load_tokenizer(str(tiny_model_dir))
    rows = Dataset.from_dict({"prompt": [f"{i}+{i}=" for i in range(8)], "answer": [str(2 * i) for i in range(8)]})
    digits = lambda completions, **kw: digit_fraction([[{"content": c}] for c in completions])  # noqa: E731
    digits.__name__ = "digits"
    report = run_check(model, tokenizer, rows, [(digits, 1.0)], has_digit, k=6, temperature=1.0, max_new_tokens=8)
    assert report.ok, report.render()
    assert report.metrics["pass@6"] > report.metrics["pass@1"] > 0
    assert report.metrics["zero_variance"] < 0.9 and report.metrics["scored_by"] == "reward"
    assert "verdict: ok" in report.render()


def test_require_signal_stops_the_stage_before_training(tmp_path):
    lines = []
    recipe = addition_recipe(check={"require_signal": True, "prompts": 8, "k": 4})
    with pytest.raises(ConfigError) as e:
        rlft.run(recipe, run_dir=tmp_path / "run", echo=lines.append)
    assert e.value.key == "stages.grpo.check.require_signal" and "pass@4 = 0" in str(e.value)
    assert any("[grpo] WARNING: pass@4 = 0" in line for line in lines)
    assert json.loads((tmp_path / "run" / "grpo" / "check.json").read_text())["ok"] is False
    logged = (tmp_path / "run" / "metrics.jsonl")
    assert not logged.exists() or '"train"' not in logged.read_text()  # stopped before the first step


def test_enabled_check_warns_and_lands_in_summary_and_report(tmp_path):
    recipe = addition_recipe(check={"enabled": True, "prompts": 8})
    recipe["stages"]["grpo"]["trainer"]["max_steps"] = 1
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    check = result.summary["stages"]["grpo"]["check"]
    assert check["ok"] is False and check["k"] == 4  # the trainer's num_generations
    assert check["max_new_tokens"] == 4 and check["temperature"] == 1.0  # as the trainer samples
    report = (result.path / "report.md").read_text()
    assert "Pre-run check of the stage's starting model" in report and "**cannot learn**" in report
    assert "(pre-run check): pass@4 = 0" in report


def test_check_of_a_stage_that_starts_from_an_earlier_one(tmp_path, capsys):
    recipe = addition_recipe()
    recipe["stages"] = {"sft": copy.deepcopy(SFT), "grpo": {**recipe["stages"]["grpo"], "model": {"from_stage": "sft"}}}
    path = write(tmp_path, recipe)
    assert main(["check", path]) == 2
    assert "--model: stage 'grpo' starts from stage 'sft'" in capsys.readouterr().err
    assert main(["check", path, "--stage", "sft"]) == 2
    assert "applies to grpo, rloo, ppo, online_dpo stages" in capsys.readouterr().err
    run = rlft.run(smoke_recipe(sft=copy.deepcopy(SFT)), run_dir=tmp_path / "run", echo=lambda s: None).path
    assert main(["check", path, "--model", str(run / "sft"), "--prompts", "4"]) == 1
    assert f"check of stage 'grpo': {run / 'sft'}" in capsys.readouterr().out
