"""The algorithms a stage can run, found by name. Each is a module with `run(ctx)`; training ones also
have `config_class()`, the TRL config class their `trainer:` block feeds."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from rlft.config import AlarmSpec, CheckSpec, EvalSpec, Stage
from rlft.schema import ConfigError, join

# Algorithms that learn from sampled completions and rewards: the pre-run check (`check:`) and the
# reward-hacking alarms (`alarms:`) apply to them.
RL_ALGORITHMS = ("grpo", "rloo", "ppo", "online_dpo")


@dataclass(frozen=True)
class Algorithm:
    name: str
    module: str
    summary: str
    trains: bool = True  # has lora/trainer blocks and a TRL config class
    needs_rewards: bool = False
    uses_data: bool = True
    data: str = "prompt"  # the kind of training rows it needs (rlft.data.KINDS)
    head: str = "causal"  # the starting model's head: "causal" (a language model) or "reward" (a scalar score)
    environments: bool = False  # runs a multi-turn environment (`env:`) through tool calls

    def load(self):
        return importlib.import_module(self.module)

    @property
    def run(self) -> Callable:
        return self.load().run

    def check(self, stage: Stage, key: str, recipe) -> None:
        """Field-level checks that depend on the algorithm (runs the TRL/peft config constructors and builds
        the trainer's optimizer and the starting model's skeleton, rlft.stages.builds)."""
        from rlft.stages.builds import check_model
        from rlft.stages.common import check_lora, check_trainer

        if stage.env is not None and not self.environments:
            takes = ", ".join(a.name for a in ALGORITHMS.values() if a.environments)
            raise ConfigError(join(key, "env"), f"applies to {takes} stages, not '{self.name}'")
        if self.needs_rewards and not stage.rewards and stage.env is None:  # an environment may pay the reward
            raise ConfigError(join(key, "rewards"), f"algorithm '{self.name}' needs at least one reward")
        if not self.trains:
            for name in ("lora", "trainer"):
                if getattr(stage, name):
                    raise ConfigError(join(key, name), f"is not used by algorithm '{self.name}'; remove it")
            for name in ("every", "stop_at_accuracy", "stop_keep", "at_start"):
                if getattr(stage.eval, name) != getattr(EvalSpec(), name):
                    raise ConfigError(join(key, f"eval.{name}"), f"applies to training stages, not '{self.name}'")
        for name, default in (("alarms", AlarmSpec()), ("check", CheckSpec())):
            if getattr(stage, name) != default and self.name not in RL_ALGORITHMS:
                raise ConfigError(join(key, name), f"applies to {', '.join(RL_ALGORITHMS)} stages, not '{self.name}'")
        if stage.env is not None:
            from rlft.stages import environment

            fields = self.load().config_class().__dataclass_fields__ if self.trains else {}
            length = fields["max_completion_length"].default if "max_completion_length" in fields else None
            environment.check(stage, key, length, self.trains)
        if not self.trains:
            check_model(recipe, stage, key, self.trains, self.head)
            return
        if stage.eval.min_accuracy is not None and self.name != "reward_model":
            raise ConfigError(join(key, "eval.min_accuracy"), "applies to reward_model stages only")
        check_trainer(self.load().config_class(), stage, key)
        check_lora(stage, key)
        check_model(recipe, stage, key, self.trains, self.head)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in [
        Algorithm(
            "sft", "rlft.stages.sft", "supervised fine-tuning on prompt-completion data (TRL SFTTrainer)", data="sft"
        ),
        Algorithm(
            "grpo",
            "rlft.stages.grpo",
            "GRPO with reward functions and multi-turn environments (TRL GRPOTrainer)",
            needs_rewards=True,
            environments=True,
        ),
        Algorithm("rloo", "rlft.stages.rloo", "RLOO with reward functions (TRL RLOOTrainer)", needs_rewards=True),
        Algorithm(
            "ppo", "rlft.stages.ppo", "PPO with reward functions or a reward model (rlft's own)", needs_rewards=True
        ),
        Algorithm(
            "online_dpo",
            "rlft.stages.online_dpo",
            "online DPO judged by reward functions or a reward model (trl.experimental OnlineDPOTrainer)",
            needs_rewards=True,
        ),
        Algorithm(
            "dpo", "rlft.stages.dpo", "DPO on (prompt, chosen, rejected) pairs (TRL DPOTrainer)", data="preference"
        ),
        Algorithm(
            "reward_model",
            "rlft.stages.reward_model",
            "Bradley-Terry reward model on preference pairs (TRL RewardTrainer)",
            data="preference",
            head="reward",
        ),
        Algorithm(
            "kto", "rlft.stages.kto", "KTO on (prompt, completion, label) rows (TRL KTOTrainer)", data="unpaired"
        ),
        Algorithm(
            "eval",
            "rlft.stages.eval",
            "greedy held-out evaluation: accuracy, rewards, lengths; with env:, held-out episodes",
            trains=False,
            environments=True,
        ),
    ]
}
