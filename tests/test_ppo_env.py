"""Multi-turn PPO: the trajectory of an episode (the model's replies with the tool results between them), a loss
mask that covers exactly the model's tokens, GAE across turns against a hand computation, and a `ppo` stage with
`env:` that trains, saves and logs its episodes."""

import copy
import json

import pytest
import torch
from safetensors.torch import load_file
from scripted import ScriptedModel as Scripted
from scripted import binary_search, call, scripted_generate

import rlft
from rlft.envs import resolve_env
from rlft.envs.episodes import run_episodes
from rlft.models import build_char_tokenizer
from rlft.ppo.core import gae, kl_estimate, policy_loss, token_rewards, value_loss
from rlft.ppo.rollout import layout
from rlft.stages import environment

TOOL_TINY = {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
                      "max_position_embeddings": 2048, "chat_template": "tool_calling"}}
ENV = {"name": "guess_number", "kwargs": {"high": 20}, "max_turns": 3, "train_size": 8, "eval_size": 4}
PPO = {"algorithm": "ppo", "model": TOOL_TINY, "env": ENV,
       "trainer": {"max_steps": 2, "per_device_train_batch_size": 2, "max_completion_length": 96,
                   "learning_rate": 1e-3, "logging_steps": 1}}


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def test_two_turn_trajectory_masks_exactly_the_models_tokens():
    """guess 10 -> "higher" -> guess 15 -> "correct": the trajectory is [reply, tool result, reply], built by hand
    below from the template's text, and only the replies are in the loss mask."""
    tok = build_char_tokenizer("tool_calling")
    first, second = call("guess", {"n": 10}), call("guess", {"n": 15})
    spec = resolve_env("guess_number", max_turns=3)
    row = {"prompt": [{"role": "user", "content": "Play. "}], "target": 15, "high": 20, "discount": 0.9}

    def policy(transcript):
        return second if "<tool_response>higher" in transcript else first

    (episode,) = run_episodes(Scripted(tok, policy), tok, spec, [row], max_new_tokens=128)
    result = "\n<|im_start|>user\n<tool_response>higher</tool_response><|im_end|>\n<|im_start|>assistant\n"
    assert episode.ids == ids(tok, first) + ids(tok, result) + ids(tok, second)
    assert episode.mask == [1] * len(ids(tok, first)) + [0] * len(ids(tok, result)) + [1] * len(ids(tok, second))
    assert (episode.calls, episode.replies, episode.eos, episode.env.get_reward()) == (2, 2, True, 0.9)
    assert [m["role"] for m in episode.messages] == ["assistant", "tool", "assistant", "tool"]

    seqs, attn, mask, n_prompt = layout([episode], tok.pad_token_id)
    region = seqs[0, n_prompt:]
    assert tok.decode(region[mask[0].bool()]) == tok.decode(ids(tok, first + second))
    assert attn.all() and mask.sum().item() == len(ids(tok, first + second))
    # whatever sits at the tool-result positions (log-probs, values, advantages) leaves every loss unchanged
    torch.manual_seed(0)
    logp, old, ref, adv, val, ret = (torch.randn(1, region.numel()) for _ in range(6))
    noise = torch.randn_like(logp) * 100 * (1 - mask)
    same = [
        (policy_loss(logp, old, adv, mask, 0.2)[0], policy_loss(logp + noise, old - noise, adv + noise, mask, 0.2)[0]),
        (value_loss(val, val, ret, mask, 0.2)[0], value_loss(val + noise, val, ret - noise, mask, 0.2)[0]),
        ((kl_estimate(logp, ref) * mask).sum(), (kl_estimate(logp + noise, ref) * mask).sum()),
    ]
    for clean, noisy in same:
        torch.testing.assert_close(clean, noisy)


def test_gae_across_turns_by_hand():
    """Turn one is positions 0-1, a tool result 2-3, turn two 4, then padding; the score 1.0 lands at position 4.
    gamma 0.9, lam 0.8:
      t=4: delta = 1 + 0.9 * 0 - 0.7 = 0.3;             A = 0.3
      t=1: delta = 0 + 0.9 * V(4) - 0.6 = 0.03;         A = 0.03 + 0.72 * 0.3 = 0.246   (across the tool result)
      t=0: delta = 0 + 0.9 * 0.6 - 0.5 = 0.04;          A = 0.04 + 0.72 * 0.246 = 0.21712
    """
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0]])
    rewards = token_rewards(torch.tensor([1.0]), torch.zeros(1, 6), mask, kl_coef=0.1)
    assert rewards.tolist() == [[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]
    values = torch.tensor([[0.5, 0.6, 9.0, 9.0, 0.7, 9.0]])  # 9: values at positions that are not steps
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    torch.testing.assert_close(adv, torch.tensor([[0.21712, 0.246, 0.0, 0.0, 0.3, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[0.71712, 0.846, 0.0, 0.0, 1.0, 0.0]]))


@pytest.mark.parametrize("mask", [[1, 1, 0, 1, 0, 0, 1, 1], [0, 1, 0, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 0, 0, 0]])
def test_gae_equals_gae_on_the_models_tokens_alone(mask):
    """Stepping over the masked-out tokens is GAE on the sequence of the model's tokens, squeezed together."""
    torch.manual_seed(1)
    mask = torch.tensor([mask], dtype=torch.float)
    rewards, values = torch.randn(1, 8) * mask, torch.randn(1, 8)
    adv, ret = gae(rewards, values, mask, gamma=0.95, lam=0.9)
    keep = mask[0].bool()
    squeezed = torch.ones(1, int(keep.sum()))
    adv_s, ret_s = gae(rewards[:, keep], values[:, keep], squeezed, gamma=0.95, lam=0.9)
    torch.testing.assert_close(adv[:, keep], adv_s)
    torch.testing.assert_close(ret[:, keep], ret_s)
    assert (adv[:, ~keep] == 0).all() and (ret[:, ~keep] == 0).all()


def records(run, stage="play"):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [m for m in lines if m["stage"] == stage]


def test_multi_turn_ppo_stage_trains_saves_and_logs_episodes(tmp_path):
    raw = {"seed": 0, "num_threads": 1, "stages": {"play": copy.deepcopy(PPO)}}
    result = rlft.run(raw, run_dir=tmp_path / "run", echo=lambda s: None)
    lines = records(result.path)
    train = [m for m in lines if m["split"] == "train"]
    assert [m["step"] for m in train] == [1, 2]
    for m in train:
        assert m["env/episodes"] == 2 and 0.0 <= m["rewards/GuessNumber/mean"] <= 1.0
        assert 0 < m["completions/mean_length"] <= 96  # the model's tokens, within the episode's budget
    (held,) = [m for m in lines if m["split"] == "eval"]
    assert held["step"] == 2 and held["env/episodes"] == 4 and held["env/optimal_return"] > 0
    stage = result.summary["stages"]["play"]
    assert stage["episodes"]["env/episodes"] == 4 and stage["train"]["global_step"] == 2
    init = load_file(result.path / "play" / "init" / "model.safetensors")
    trained = load_file(result.path / "play" / "model" / "model.safetensors")
    assert any(not torch.equal(init[k], trained[k]) for k in init)
    assert (result.path / "play" / "value_head.pt").is_file()


def test_multi_turn_ppo_on_scripted_episodes(tmp_path, monkeypatch):
    """With binary search's calls in place of samples, every rollout is a multi-turn episode that succeeds: the
    return reaches the score, the turns are logged, and only the model's tokens count as its length."""
    from transformers import LlamaForCausalLM

    monkeypatch.setattr(LlamaForCausalLM, "generate", scripted_generate(build_char_tokenizer("tool_calling")))
    stage = copy.deepcopy(PPO)
    stage["lora"] = {"r": 4, "lora_alpha": 8}
    stage["env"]["max_turns"] = 5  # binary search over [1, 20] takes at most 5 guesses
    stage["trainer"]["max_completion_length"] = 400
    result = rlft.run({"seed": 0, "num_threads": 1, "stages": {"play": stage}}, run_dir=tmp_path / "run",
                      echo=lambda s: None)
    lines = records(result.path)
    train = [m for m in lines if m["split"] == "train"]
    calls = len(ids(build_char_tokenizer("tool_calling"), call("guess", {"n": 10})))  # 46 tokens; 45 for n < 10
    for m in train:
        assert m["env/success"] == 1.0 and m["env/tool_call_rate"] == 1.0 and m["env/invalid_actions"] == 0
        assert m["objective/scores"] == pytest.approx(m["rewards/GuessNumber/mean"]) and m["objective/scores"] > 0
        assert m["completions/mean_length"] == pytest.approx(m["env/turns"] * calls, abs=m["env/turns"])
    assert any(m["env/turns"] > 1 for m in train)
    (held,) = [m for m in lines if m["split"] == "eval"]
    assert held["env/success"] == 1.0 and held["env/return_ratio"] == pytest.approx(1.0)
    adapter = load_file(result.path / "play" / "adapter" / "adapter_model.safetensors")
    assert all(t.abs().sum() > 0 for n, t in adapter.items() if "lora_B" in n)


def test_ppo_takes_env_and_budgets_the_models_tokens_only():
    from rlft.runner.recipe import load_recipe

    stage = load_recipe({"stages": {"play": PPO}}).stages["play"]
    assert environment.spec(stage).reward()([], environments=[]) == []
    short = copy.deepcopy(PPO)
    short["trainer"]["max_completion_length"] = 43
    with pytest.raises(rlft.ConfigError) as e:
        load_recipe({"stages": {"play": short}})
    assert e.value.key == "stages.play.trainer.max_completion_length" and "at least 44" in str(e.value)
    assert binary_search('between 1 and 20 "n": 10 <tool_response>higher') == call("guess", {"n": 15})


def test_the_documented_multi_turn_block_loads():
    from pathlib import Path

    import yaml

    from rlft.runner.recipe import load_recipe

    page = (Path(__file__).parents[1] / "docs" / "ppo.md").read_text()
    block = next(b for b in page.split("```yaml\n")[1:] if b.startswith("stages:")).split("```")[0]
    stage = load_recipe(yaml.safe_load(block)).stages["play"]
    assert (stage.algorithm, stage.env.name, stage.trainer["max_completion_length"]) == ("ppo", "guess_number", 200)


def test_env_reward_false_leaves_ppo_with_the_stage_rewards_only(tmp_path):
    stage = copy.deepcopy(PPO)
    stage["env"]["reward"] = False
    stage["rewards"] = [{"name": "random_reward", "kwargs": {"seed": 0}}]
    result = rlft.run({"seed": 0, "num_threads": 1, "stages": {"play": stage}}, run_dir=tmp_path / "run",
                      echo=lambda s: None)
    train = [m for m in records(result.path) if m["split"] == "train"]
    assert train and all("rewards/random_reward/mean" in m and "rewards/GuessNumber/mean" not in m for m in train)
    assert all("env/return" in m for m in train)  # the episodes' return is still measured
