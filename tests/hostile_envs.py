"""The hostile-input corpus, environments: a user's environment class that raises in its constructor, `reset`
or a tool, calls sys.exit, returns an observation that is not text or a reward that is not a finite number.
Each is played by the three episode loops rlft runs (TRL's for `grpo`, rlft's for `ppo`, held-out play for
`eval`) and must end in one `error:` line naming the environment, the episode, the turn and the action, exit 2,
with nothing marked complete (tests/test_hostile_inputs.py runs them with the rest of the corpus).

A random tiny model never calls a tool, so the cases whose fault is in a tool give it a scripted one (fault
`calls-poke`: every reply calls `poke(n=1)`); the others play the random model.
"""

from __future__ import annotations

import copy

from hostile_inputs import case, edit

GAMES = '''
import sys

from rlft.envs import Environment


class Base(Environment):
    """A one-tool game: poke until the episode ends."""

    def reset(self, target: int, **row) -> str:
        self._begin()
        self.target = target
        return "Poke the box."

    def poke(self, n: int) -> str:
        """Poke the box.

        Args:
            n: How hard.
        """
        return "ok"

    @classmethod
    def rows(cls, n, seed):
        return [{"target": 1000 * seed + i} for i in range(n)]


class ResetRaises(Base):
    def reset(self, target, **row):
        if target >= 1000:  # the rows of env.seed 1 and later; the load-time check resets seed 0's first row
            raise KeyError(target)
        return super().reset(target, **row)


class ResetAlwaysRaises(Base):
    def reset(self, target, **row):
        raise ConnectionError("no game server")


class ResetNotText(Base):
    def reset(self, target, **row):
        super().reset(target, **row)
        return 5


class BrokenInit(Base):
    def __init__(self, max_turns=10):
        raise RuntimeError("cannot start")


class ToolRaises(Base):
    def poke(self, n: int) -> str:
        """Poke the box.

        Args:
            n: How hard.
        """
        raise KeyError(n)


class ToolNotText(Base):
    def poke(self, n: int) -> str:
        """Poke the box.

        Args:
            n: How hard.
        """
        return {"poked": n}


class ToolExits(Base):
    def poke(self, n: int) -> str:
        """Poke the box.

        Args:
            n: How hard.
        """
        sys.exit(3)


class NanReward(Base):
    def get_reward(self):
        return float("nan")


class InfReward(Base):
    def get_reward(self):
        return float("inf")


class TextReward(Base):
    def get_reward(self):
        return "1.0"


class PolicyRaises(Base):
    @classmethod
    def optimal_policy(cls, row):
        raise LookupError("no script for this row")


class PolicyUnknownTool(Base):
    @classmethod
    def optimal_policy(cls, row):
        return [("push", {"n": 1})]
'''

TOOL_TINY = {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
                      "max_position_embeddings": 2048, "chat_template": "tool_calling"}}
TRAINERS = {
    "grpo": {"max_steps": 1, "per_device_train_batch_size": 2, "num_generations": 2, "max_completion_length": 200,
             "logging_steps": 1},
    "ppo": {"max_steps": 1, "per_device_train_batch_size": 2, "max_completion_length": 80, "logging_steps": 1},
    "sft": {"max_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1},
}


def played(cls: str, algorithm: str = "grpo", seed: int = 1) -> dict:
    """One stage of `algorithm` playing `games.py:<cls>` with a tool-calling tiny model; rows from `env.seed`."""
    stage = {"algorithm": algorithm, "model": copy.deepcopy(TOOL_TINY),
             "env": {"name": f"games.py:{cls}", "max_turns": 2, "train_size": 8, "eval_size": 2, "seed": seed}}
    if algorithm in TRAINERS:
        stage["trainer"] = dict(TRAINERS[algorithm])
    return {"name": "hostile", "seed": 0, "num_threads": 1, "stages": {"s": stage}}


def env_case(id: str, what: str, cls: str, expect: tuple[str, ...], algorithm: str = "grpo", at_load: bool = False,
             calls: bool = False):
    """A case on `games.py:<cls>`; `at_load`: refused by the load-time reset, before a run folder exists."""
    return case(f"env-{id}", what, (f"games.py:{cls}'", *expect), played(cls, algorithm), files={"games.py": GAMES},
                runs=not at_load, fault="calls-poke" if calls else None)


ENV_CASES = [
    env_case("init-raises", "an environment whose constructor raises", "BrokenInit",
             ("stages.s.env", "BrokenInit(max_turns=2) raised RuntimeError: cannot start"), at_load=True),
    env_case("reset-raises-at-load", "an environment whose reset raises on every row", "ResetAlwaysRaises",
             ("stages.s.env", "episode 1, turn 0, action reset(target=0)", "raised ConnectionError: no game server"),
             at_load=True),
    env_case("reset-not-text-at-load", "reset returns a number", "ResetNotText",
             ("stages.s.env", "episode 1, turn 0, action reset(target=0) returned int 5, not text"), at_load=True),
    env_case("reset-raises-grpo", "reset raises on the training rows, in TRL's loop", "ResetRaises",
             ("episode 1, turn 0, action reset(target=100", "raised KeyError: 100")),
    env_case("reset-raises-ppo", "reset raises on the training rows, in rlft's PPO loop", "ResetRaises",
             ("episode 1, turn 0, action reset(target=100", "raised KeyError: 100"), "ppo"),
    env_case("tool-raises-grpo", "a tool raises (TRL would answer it as an error observation)", "ToolRaises",
             ("episode 1, turn 1, action poke(n=1) raised KeyError: 1",), calls=True),
    env_case("tool-raises-ppo", "a tool raises, in rlft's PPO loop", "ToolRaises",
             ("episode 1, turn 1, action poke(n=1) raised KeyError: 1",), "ppo", calls=True),
    env_case("tool-raises-eval", "a tool raises in held-out play", "ToolRaises",
             ("episode 1, turn 1, action poke(n=1) raised KeyError: 1",), "eval", calls=True),
    env_case("tool-not-text-grpo", "a tool returns a dict", "ToolNotText",
             ("episode 1, turn 1, action poke(n=1) returned dict {'poked': 1}, not text",), calls=True),
    env_case("tool-not-text-ppo", "a tool returns a dict, in rlft's PPO loop", "ToolNotText",
             ("episode 1, turn 1, action poke(n=1) returned dict {'poked': 1}, not text",), "ppo", calls=True),
    env_case("tool-exits-ppo", "a tool calls sys.exit", "ToolExits",
             ("episode 1, turn 1, action poke(n=1) called sys.exit(3)",), "ppo", calls=True),
    env_case("reward-nan-grpo", "get_reward() returns NaN (TRL would take it for 'does not apply')", "NanReward",
             ("episode 1, turn 0, action get_reward() returned float nan", "finite number")),
    env_case("reward-nan-ppo", "get_reward() returns NaN, in rlft's PPO loop", "NanReward",
             ("episode 1, turn 0, action get_reward() returned float nan", "finite number"), "ppo"),
    env_case("reward-inf-eval", "get_reward() returns inf in held-out play", "InfReward",
             ("episode 1, turn 0, action get_reward() returned float inf",), "eval"),
    env_case("reward-text-grpo", "get_reward() returns a string", "TextReward",
             ("episode 1, turn 0, action get_reward() returned str '1.0'", "finite number")),
    env_case("sft-no-policy", "an sft stage imitating an environment that has no scripted policy", "Base",
             ("stages.s.env", "has no optimal_policy(row)"), "sft", at_load=True),
    env_case("sft-policy-raises", "an sft stage whose environment's scripted policy raises", "PolicyRaises",
             ("stages.s.env", "optimal_policy(row 0) raised LookupError: no script for this row"), "sft", at_load=True),
    env_case("sft-policy-unknown-tool", "a scripted policy that calls a tool the class does not have",
             "PolicyUnknownTool",
             ("stages.s.env", "optimal_policy(row 0) calls push, not one of the class's tools: poke"),
             "sft", at_load=True),
    case("env-tools-unknown", "env.tools names a tool the class does not have",
         ("stages.s.env", "has no tool 'pokee' (did you mean 'poke'?); its tools: poke"),
         edit(played("Base"), {"stages.s.env.tools": ["pokee"]}), files={"games.py": GAMES}, runs=False),
    case("env-context-too-small", "a tiny model left at 128 positions, far fewer than the tool prompt takes",
         ("stages.s.model.tiny.max_position_embeddings", "is 128, too small for this environment",
          "tool schemas is 259 tokens", "needs at least 459"),
         edit(played("GuessNumber"), {"stages.s.env.name": "guess_number", "stages.s.env.kwargs": {"high": 20},
                                      "stages.s.model.tiny.max_position_embeddings": 128})),
]


def calls_poke(monkeypatch) -> None:
    """The tiny model replies to every turn with a call of `poke(n=1)` (tests/scripted.py)."""
    from scripted import call, scripted_generate
    from transformers import LlamaForCausalLM

    from rlft.models import build_char_tokenizer

    reply = call("poke", {"n": 1})
    monkeypatch.setattr(LlamaForCausalLM, "generate",
                        scripted_generate(build_char_tokenizer("tool_calling"), lambda transcript: reply))


ENV_FAULTS = {"calls-poke": calls_poke}
