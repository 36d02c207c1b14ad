"""Built-in rewards with TRL itself: each runs unchanged inside a real trl.GRPOTrainer step (TRL passes
completions as message lists plus prompts, completion_ids, trainer_state, log_metric, log_extra and the
dataset columns), and composite rewards nest specs in a recipe's YAML (loading a recipe checks it against
TRL's config classes, hence here)."""

import math
import pickle

import pytest
import yaml
from conftest import TINY, smoke_recipe

from rlft.rewards import REWARDS, resolve

GOOD = "<think>\n2+2\n</think>\n<answer>\n4\n</answer>"

# kwargs for the factories that need some; every other built-in is used with its defaults
KWARGS = {
    "accuracy": {"extract": "auto"},
    "choice_match": {"choices": "ABCD"},
    "kimi_length": {"correctness": "numeric_match"},
    "cosine_length": {"max_len": 8, "correctness": {"name": "accuracy"}},
    "soft_overlong": {"max_completion_len": 8, "soft_punish_cache": 4},
    "repetition_penalty": {"ngram_size": 2, "unit": "tokens"},
    "json_schema": {"schema": {"type": "object"}},
    "regex_match": {"pattern": r"\d+", "mode": "search"},
    "code_tests": {"timeout": 5, "column": "test_cases"},
    "weighted_sum": {"rewards": ["numeric_match", {"name": "format_strict"}], "weights": [1.0, 0.5]},
    "gate": {"objective": "numeric_match", "judge": {"name": "format_strict"}, "threshold": 1.0, "penalty": -1.0},
    "clip": {"reward": {"name": "repetition_penalty", "kwargs": {"ngram_size": 1}}, "low": -0.5},
    "route": {"routes": {"math": "accuracy", "code": {"name": "code_tests", "kwargs": {"timeout": 5}}}},
    "random_reward": {"seed": 0},
}


def builtin_rewards() -> list:
    return [resolve(name, KWARGS.get(name)) for name in sorted(REWARDS) if name != "reward_model"]


def test_every_builtin_is_picklable_and_named():
    for reward in builtin_rewards():
        copy = pickle.loads(pickle.dumps(reward))
        assert copy.__name__ == reward.__name__


def test_every_builtin_in_a_grpo_step(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rewards = builtin_rewards()
    seen: dict[str, list] = {}

    def spy(reward):  # records what each reward returned inside the trainer
        def call(completions, **kwargs):
            assert isinstance(completions[0], list) and "completion_ids" in kwargs and "prompts" in kwargs
            out = reward(completions, **kwargs)
            seen[reward.__name__] = out
            return out

        call.__name__ = reward.__name__
        return call

    rows = 4
    data = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": f"{i}+{i}="}] for i in range(rows)],
        "solution": [str(2 * i) for i in range(rows)],
        "answer": [str(2 * i) for i in range(rows)],
        "test_cases": [["assert True"], ["assert 1 == 2"], ["assert True", "assert False"], ["assert True"]],
        "verifier": ["math", "code", "math", "code"],
        "metadata": ['{"source_dataset": "chain_sum"}'] * rows,  # reasoning_gym: chain_sum's verifier on `answer`
    })
    config = GRPOConfig(
        output_dir=str(tmp_path), bf16=False, use_cpu=True, report_to="none", max_steps=1,
        per_device_train_batch_size=4, num_generations=4, max_completion_length=8,
        activation_checkpointing=False, logging_steps=1, seed=0,
    )
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[spy(r) for r in rewards], args=config,
                          train_dataset=data)
    trainer.train()
    assert set(seen) == {r.__name__ for r in rewards}
    for name, scores in seen.items():
        assert len(scores) == 4, name
        assert all(s is None or math.isfinite(s) for s in scores), (name, scores)
    logged = trainer.state.log_history[0]
    for reward in rewards:
        assert f"rewards/{reward.__name__}/mean" in logged


@pytest.mark.parametrize("name", sorted(set(REWARDS) - {"reward_model"}))
def test_builtin_accepts_trl_kwargs_outside_a_trainer(name):
    reward = resolve(name, KWARGS.get(name))
    out = reward([[{"role": "assistant", "content": "4"}]], prompts=[[{"role": "user", "content": "2+2="}]],
                 completion_ids=[[7]], trainer_state=None, log_metric=lambda *a: None, log_extra=lambda *a: None,
                 solution=["4"], answer=["4"], test_cases=[["assert True"]], verifier=["math"], unknown=[1])
    assert len(out) == 1 and (out[0] is None or math.isfinite(out[0]))


def test_yaml_recipe_with_nested_reward_specs(tmp_path):
    import json

    from rlft.runner.recipe import load_recipe

    text = """
    - {name: gate, kwargs: {objective: numeric_match, judge: {name: format_strict}, threshold: 1.0, penalty: -1.0}}
    - {name: weighted_sum, weight: 0.5, kwargs: {rewards: [numeric_match, {name: tag_count}], weights: [1, 0.2]}}
    - {name: route, kwargs: {column: verifier, routes: {math: accuracy, json: {name: json_valid}}}}
    - {name: clip, kwargs: {reward: {name: soft_overlong, kwargs: {max_completion_len: 8, soft_punish_cache: 2}},
                            low: -0.5}}
    """
    grpo = {"algorithm": "grpo", "model": TINY, "rewards": yaml.safe_load(text), "trainer": {"max_steps": 1}}
    data = tmp_path / "rows.jsonl"  # route reads each row's `verifier` column: the data must have it
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "answer": str(i + 1), "verifier": "math"}) + "\n"
                            for i in range(8)))
    recipe = load_recipe({**smoke_recipe(grpo=grpo), "data": {"path": str(data)}})
    fns = [resolve(r.name, r.kwargs) for r in recipe.stages["grpo"].rewards]
    assert [f.__name__ for f in fns] == ["gate_numeric_match", "weighted_sum", "route_verifier", "clip_soft_overlong"]
    assert fns[0]([GOOD, "4"], answer=["4", "4"]) == [1.0, -1.0]


def test_yaml_recipe_with_a_bad_nested_spec_fails_at_load():
    from rlft.core.schema import ConfigError
    from rlft.runner.recipe import load_recipe

    grpo = {"algorithm": "grpo", "model": TINY, "trainer": {"max_steps": 1},
            "rewards": [{"name": "gate", "kwargs": {"objective": "numeric_mach", "judge": "format_strict"}}]}
    with pytest.raises(ConfigError, match="did you mean 'numeric_match'"):
        load_recipe(smoke_recipe(grpo=grpo))
