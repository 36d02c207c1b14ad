"""An `sft` stage with `env:` imitates the environment's scripted policy: its episodes are laid out token for token
as TRL's loop (and rlft's) lays out a model's episode, the loss covers the model's turns only, and the stage
plays its held-out episodes after training. `env.tools` removes tools (the ablation a control run needs)."""

import json

import pytest

import rlft
from rlft.core.schema import ConfigError
from rlft.envs import ENVIRONMENTS, resolve_env, tools
from rlft.envs.episodes import CLOSING, run_episodes, scripted, start
from rlft.models import build_char_tokenizer
from rlft.runner.recipe import load_recipe
from rlft.stages import environment

TOOL_TINY = {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
                      "max_position_embeddings": 2048, "chat_template": "tool_calling"}}
ENV = {"name": "guess_number", "kwargs": {"high": 20}, "max_turns": 6, "train_size": 8, "eval_size": 3}


def rows(spec, n, seed=0):
    return [{"prompt": environment.prompt(spec), **row} for row in spec.rows(n, seed)]


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_scripted_episodes_reach_the_optimum_and_mask_the_model_turns(name):
    tok = build_char_tokenizer("tool_calling")
    spec = resolve_env(name, max_turns=12)
    played = rows(spec, 4)
    for e, row in zip(scripted(spec, tok, played), played, strict=True):
        assert e.env.get_reward() == pytest.approx(spec.cls.optimal_return(row))
        assert len(e.ids) == len(e.mask) and e.calls == len(spec.cls.optimal_policy(row))
        model = tok.decode([t for t, m in zip(e.ids, e.mask, strict=True) if m])
        assert model.count("<tool_call>") == e.calls and model.endswith(f"{CLOSING}<|im_end|>")
        assert "<tool_response>" not in model  # the environment's tokens are never trained on
        outside = tok.decode([t for t, m in zip(e.ids, e.mask, strict=True) if not m])
        assert outside.count("<tool_response>") == e.calls and outside.endswith("<|im_start|>assistant\n")
        assert e.prompt_ids == start(spec, spec.guarded(), tok, [row])[0].prompt_ids


class Replayer:
    """A stand-in model that replies with the scripted episode's next model turn."""

    device = "cpu"

    def __init__(self, episode, tokenizer):
        self.turns, self.pad = [], tokenizer.pad_token_id
        turn = []
        for token, generated in zip(episode.ids, episode.mask, strict=True):
            if generated:
                turn.append(token)
            elif turn:
                self.turns, turn = self.turns + [turn], []
        self.turns.append(turn)

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        import torch

        reply = self.turns.pop(0)
        return torch.cat([input_ids, torch.tensor([reply])], dim=1)


def test_a_scripted_episode_is_what_the_episode_loop_builds_from_the_same_replies():
    """rlft's loop (PPO's rollouts, held-out play) stops when the environment is done, before the closing reply;
    up to there the scripted episode is token for token what the loop builds."""
    tok = build_char_tokenizer("tool_calling")
    spec = resolve_env("guess_number", {"high": 20}, max_turns=6)
    row = rows(spec, 1, seed=3)
    taught = scripted(spec, tok, row)[0]
    looped = run_episodes(Replayer(taught, tok), tok, spec, row, max_new_tokens=128)[0]
    assert looped.prompt_ids == taught.prompt_ids and looped.env.get_reward() == taught.env.get_reward()
    assert taught.ids[: len(looped.ids)] == looped.ids and taught.mask[: len(looped.mask)] == looped.mask


def test_the_sft_dataset_trains_on_the_model_turns_only():
    tok = build_char_tokenizer("tool_calling")
    stage = load_recipe(recipe()).stages["warm"]
    train, _ = environment.splits(stage, seed=0)
    data = environment.scripted_dataset(stage, train, tok)
    assert len(data) == 8 and set(data.column_names) == {"input_ids", "assistant_masks"}
    first = data[0]
    prompt = len(start(environment.spec(stage), environment.spec(stage).guarded(), tok, [train[0]])[0].prompt_ids)
    assert len(first["input_ids"]) == len(first["assistant_masks"]) and not any(first["assistant_masks"][:prompt])
    assert tok.decode([t for t, m in zip(first["input_ids"], first["assistant_masks"], strict=True) if m]).startswith(
        '<tool_call>{"name": "guess", "arguments": {"n": 10}}</tool_call>')


def recipe(env=None, **stage):
    warm = {"algorithm": "sft", "model": TOOL_TINY, "env": env or dict(ENV),
            "trainer": {"max_steps": 2, "per_device_train_batch_size": 2, "learning_rate": 1e-3, "logging_steps": 1},
            **stage}
    return {"seed": 0, "num_threads": 1, "stages": {"warm": warm}}


def test_sft_stage_imitates_the_scripted_policy_end_to_end(tmp_path):
    result = rlft.run(recipe(), run_dir=tmp_path / "run", echo=lambda s: None)
    lines = [json.loads(line) for line in (result.path / "metrics.jsonl").read_text().splitlines()]
    train = [m for m in lines if m["split"] == "train" and "loss" in m]
    assert [m["step"] for m in train] == [1, 2] and all(m["loss"] > 0 for m in train)
    held = [m for m in lines if m["split"] == "eval"]
    assert len(held) == 1 and held[0]["step"] == 2 and held[0]["env/episodes"] == 3
    assert result.summary["stages"]["warm"]["episodes"]["env/episodes"] == 3
    assert (result.path / "warm" / "model" / "config.json").is_file()


POLICYLESS = '''
from rlft.envs.guess_number import GuessNumber


class NoPolicy(GuessNumber):
    optimal_policy = None
'''


@pytest.mark.parametrize("env, stage, key, words", [
    ({**ENV, "name": "policyless.py:NoPolicy"}, {}, "stages.warm.env", "has no optimal_policy(row)"),
    (ENV, {"data": {"task": "arithmetic"}}, "stages.warm.data", "scripted episodes"),
    (ENV, {"eval": {"every": 1}}, "stages.warm.eval.every", "one reply"),
    (ENV, {"model": {"tiny": {**TOOL_TINY["tiny"], "max_position_embeddings": 552}}},
     "stages.warm.model.tiny.max_position_embeddings", "the first scripted episode with its prompt and tool schemas"),
    (ENV, {"model": {"tiny": {"hidden_size": 32}}}, "stages.warm.model.tiny.chat_template", "tool_calling"),
])
def test_sft_env_refusals(env, stage, key, words, tmp_path):
    (tmp_path / "policyless.py").write_text(POLICYLESS)
    (tmp_path / "r.yaml").write_text(json.dumps(recipe(env, **stage)))
    with pytest.raises(ConfigError) as e:
        load_recipe(tmp_path / "r.yaml")
    assert e.value.key == key and words in str(e.value)


def test_env_tools_removes_a_tool_from_what_the_model_sees():
    raw = recipe({"name": "calculator", "tools": ["answer"]})
    raw["stages"]["warm"]["algorithm"] = "grpo"
    raw["stages"]["warm"]["trainer"] = {"max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 2,
                                        "max_completion_length": 200}
    spec = environment.spec(load_recipe(raw).stages["warm"])
    assert sorted(tools(spec.cls)) == ["answer"] and spec.cls.__name__ == "Calculator"  # rewards/Calculator/mean
    messages, schemas = environment.first_prompt(spec, spec.rows(1, 0)[0])
    assert [s.__name__ for s in schemas] == ["answer"]
    assert spec.guarded()().calc is None  # TRL lists functions only: the removed tool is gone


def test_env_tools_names_an_unknown_tool():
    raw = recipe({"name": "calculator", "tools": ["calculate"]})
    with pytest.raises(ConfigError) as e:
        load_recipe(raw)
    assert e.value.key == "stages.warm.env"
    assert "has no tool 'calculate' (did you mean 'calc'?); its tools: answer, calc" in str(e.value)


def test_env_reward_false_trains_on_the_stage_rewards_only(tmp_path):
    """The control run of a recipe: TRL gets instances without get_reward(), so only `random_reward` is a training
    reward; the held-out play still measures the environment's return."""
    raw = recipe({**ENV, "reward": False}, algorithm="grpo", rewards=[{"name": "random_reward", "kwargs": {"seed": 0}}],
                 trainer={"max_steps": 2, "num_generations": 2, "per_device_train_batch_size": 2,
                          "max_completion_length": 200, "logging_steps": 1})
    spec = environment.spec(load_recipe(raw).stages["warm"])
    assert spec.guarded(reward=False)().get_reward is None and callable(spec.guarded()().get_reward)
    result = rlft.run(raw, run_dir=tmp_path / "run", echo=lambda s: None)
    lines = [json.loads(line) for line in (result.path / "metrics.jsonl").read_text().splitlines()]
    train = [m for m in lines if m["split"] == "train" and "reward" in m]
    assert train and all("rewards/random_reward/mean" in m and "rewards/GuessNumber/mean" not in m for m in train)
    assert result.summary["stages"]["warm"]["episodes"]["env/episodes"] == 3


@pytest.mark.parametrize("env, stage, key, words", [
    ({**ENV, "reward": False}, {"algorithm": "grpo", "trainer": {"max_completion_length": 200}}, "stages.warm.rewards",
     "env.reward is false"),
    ({**ENV, "reward": False}, {}, "stages.warm.env.reward", "applies to stages that train on rewards"),
])
def test_env_reward_false_refusals(env, stage, key, words):
    with pytest.raises(ConfigError) as e:
        load_recipe(recipe(env, **stage))
    assert e.value.key == key and words in str(e.value)
