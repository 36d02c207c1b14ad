"""Validation builds what the run builds (rlft/stages/builds.py): the starting model's config as validation
finds it, the context length bound on generated tokens, and the trainer objects built from a TRL config."""

from __future__ import annotations

import copy

import pytest
from conftest import EVAL, GRPO, SFT, TINY, smoke_recipe

from rlft.core.schema import ConfigError
from rlft.runner.recipe import load_recipe
from rlft.stages.builds import MAX_TOKENS, check_built, check_tokens, model_config


def chain(**eval_stage) -> dict:
    """sft (tiny) -> grpo (from sft) -> eval (from grpo)."""
    return smoke_recipe(sft=copy.deepcopy(SFT), grpo={**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}},
                        e={**EVAL, "model": {"from_stage": "grpo"}, **eval_stage})


def test_model_config_follows_from_stage_back_to_the_tiny_model():
    recipe = load_recipe(chain())
    for name in ("sft", "grpo", "e"):
        config = model_config(recipe, recipe.stages[name])
        assert config.hidden_size == TINY["tiny"]["hidden_size"] and config.max_position_embeddings == 128


def test_model_config_is_unknown_for_a_hub_id_not_on_this_machine():
    recipe = load_recipe(smoke_recipe(e={**EVAL, "model": "NoSuchOrg/no-such-model"}))
    assert model_config(recipe, recipe.stages["e"]) is None


@pytest.mark.parametrize(("positions", "eval_tokens", "completion", "refused"), [
    (128, 128, 128, None),
    (128, 129, None, "e.eval.max_new_tokens: must be <= 128 (the model's max_position_embeddings), got 129"),
    (128, 16, 200, "e.trainer.max_completion_length: must be <= 128"),
    (None, MAX_TOKENS, MAX_TOKENS, None),
    (None, MAX_TOKENS + 1, None, f"e.eval.max_new_tokens: must be <= {MAX_TOKENS} (rlft's ceiling)"),
])  # fmt: skip
def test_generated_tokens_are_bounded_by_the_context(positions, eval_tokens, completion, refused):
    recipe = load_recipe(smoke_recipe(e={**EVAL, "model": TINY}))
    stage = recipe.stages["e"]
    stage.eval.max_new_tokens = eval_tokens
    stage.trainer = {"max_completion_length": completion} if completion else {}
    if refused is None:
        check_tokens(stage, positions, "e")
    else:
        with pytest.raises(ConfigError, match="^" + refused.replace("(", r"\(").replace(")", r"\)")):
            check_tokens(stage, positions, "e")


def test_check_built_accepts_the_defaults_and_refuses_what_the_trainer_would():
    from trl import SFTConfig

    base = {"output_dir": "/tmp/rlft-validate", "use_cpu": True, "bf16": False, "report_to": "none"}
    check_built(SFTConfig(**base), "t")
    for changes, words in [({"adam_beta2": -0.1}, "Invalid beta parameter at index 1"),
                           ({"adam_epsilon": -1.0}, "Invalid epsilon value"),
                           ({"report_to": ["nosuchtracker"]}, "t.report_to"),
                           ({"eval_strategy": "epoch"}, "t.eval_strategy: 'epoch' is not used by rlft")]:
        with pytest.raises(ConfigError, match=words):
            check_built(SFTConfig(**{**base, **changes}), "t")
