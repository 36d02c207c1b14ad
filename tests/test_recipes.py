"""Every shipped recipe runs end to end in a smoke size (same stages and hand-offs, a few steps each)."""

import dataclasses

import pytest
from conftest import ROOT

import rlft

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
SMOKE_RM = str(ROOT / "tests" / "fixtures" / "smoke_rm.yaml")


def smoke_overrides(recipe: rlft.Recipe) -> dict:
    """Shrink data, model and steps; keep every stage and how stages hand models on."""
    out = {"data.train_size": 64, "data.eval_size": 16} if recipe.data is not None else {}
    out["num_threads"] = 1
    for name, stage in recipe.stages.items():
        key = f"stages.{name}"
        if stage.model.tiny is not None:
            out[f"{key}.model.tiny"] = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1}
            if stage.env is not None:  # the tool-calling template and the context its prompts need
                out[f"{key}.model.tiny"].update(chat_template=stage.model.tiny.chat_template,
                                                max_position_embeddings=stage.model.tiny.max_position_embeddings)
        if stage.env is not None:
            out[f"{key}.env.train_size"], out[f"{key}.env.eval_size"] = 16, 4
        if stage.trainer:
            out[f"{key}.trainer.max_steps"] = 2
            out[f"{key}.trainer.logging_steps"] = 1
            out[f"{key}.trainer.per_device_train_batch_size"] = 8
            if "num_generations" in stage.trainer:
                out[f"{key}.trainer.num_generations"] = 4
        if stage.eval.every:
            out[f"{key}.eval.every"] = 1
        if stage.eval.min_accuracy is not None:
            out[f"{key}.eval.min_accuracy"] = None  # a 2-step reward model is not meant to be good
        if any("definition" in r.kwargs for r in stage.rewards):  # a reward_models/ definition, in smoke size
            out[f"{key}.rewards"] = [{**dataclasses.asdict(r), "kwargs": {**r.kwargs, "definition": SMOKE_RM}}
                                     if "definition" in r.kwargs else dataclasses.asdict(r) for r in stage.rewards]
    return out


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs_in_smoke_size(tmp_path, path):
    recipe = rlft.load_recipe(path)
    small = rlft.load_recipe(path, {**smoke_overrides(recipe), "output_dir": str(tmp_path)})  # its caches too
    result = rlft.run(small, run_dir=tmp_path / "run", echo=lambda s: None)
    assert list(result.summary["stages"]) == list(recipe.stages)
    for name, stage in recipe.stages.items():
        summary = result.summary["stages"][name]
        if stage.env is not None:
            assert summary["episodes"]["env/episodes"] == 4
        if stage.algorithm == "eval" and stage.env is None:
            assert summary["eval"]["num_samples"] == 16
        else:
            assert summary["train"]["global_step"] >= 1
    assert (result.path / "report.md").exists() and (result.path / "summary.json").exists()
