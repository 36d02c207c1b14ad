"""A finished run's stage folder is a model path everywhere: model.path in a recipe, `rlft check --model`,
and `rlft list` finds rlft's own recipes from any folder."""

import copy
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SFT, smoke_recipe

import rlft
from rlft.cli import main
from rlft.runner.recipe import load_recipe


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny run with a full-weights stage and a LoRA stage, written with a relative run folder."""
    tmp = tmp_path_factory.mktemp("done")
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        recipe = smoke_recipe(sft=copy.deepcopy(SFT), lora={**copy.deepcopy(SFT), "lora": {"r": 4, "lora_alpha": 8}})
        rlft.run(recipe, run_dir="runs/a2", echo=lambda s: None)
    finally:
        os.chdir(cwd)
    return tmp / "runs" / "a2"


@pytest.mark.parametrize("stage", ["sft", "lora"])
def test_stage_folder_as_model_path(tmp_path, monkeypatch, finished_run, stage):
    monkeypatch.chdir(tmp_path)  # elsewhere than the run was written from: output.json's paths are relative
    recipe = smoke_recipe(more={**copy.deepcopy(SFT), "model": {"path": str(finished_run / stage)}})
    recipe["stages"]["more"]["trainer"]["max_steps"] = 2
    loaded = load_recipe(recipe)
    lines = []
    result = rlft.run(loaded, run_dir="again", echo=lines.append)
    assert result.summary["stages"]["more"]["train"]["global_step"] == 2
    out = result.summary["stages"]["more"]["output"]
    assert out["base"].endswith("model")  # full fine-tuning from the merged stage model


def test_check_from_stage_points_to_check_enabled(tmp_path, capsys):
    import yaml

    recipe = smoke_recipe(sft=copy.deepcopy(SFT), grpo={"algorithm": "grpo", "rewards": ["numeric_match"],
                                                        "model": {"from_stage": "sft"}})  # fmt: skip
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "check: {enabled: true}" in err and "stages.grpo.check.enabled=true" in err and "--model PATH" in err


def test_list_outside_the_repository_shows_rlfts_recipes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "rlft.cli", "list", "recipes"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"recipes (in {ROOT / 'recipes'}/)" in out.stdout and "quickstart.yaml" in out.stdout
