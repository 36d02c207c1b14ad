"""The algorithms a stage can run, found by name. Each is a module with `run(ctx)`; training ones also
have `config_class()`, the TRL config class their `trainer:` block feeds. Code outside this package reads an
entry's capability flags, never its name (docs/architecture.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Algorithm:
    """A registry entry: where the stage's code lives and the capabilities the rest of rlft reads instead of
    comparing algorithm names (docs/architecture.md, "Add an algorithm stage")."""

    name: str
    module: str
    summary: str
    trains: bool = True  # has lora/trainer blocks and a TRL config class
    needs_rewards: bool = False
    data: str = "prompt"  # the kind of training rows it needs (rlft.data.KINDS)
    head: str = "causal"  # the starting model's head: "causal" (a language model) or "reward" (a scalar score)
    environments: bool = False  # runs a multi-turn environment (`env:`) through tool calls
    imitates: bool = False  # with `env:`, trains on the scripted policy's episodes instead of playing its own
    rl: bool = False  # learns from its own sampled completions: the pre-run check and reward-hacking alarms apply
    group_size: int | None = None  # completions per prompt when fixed (online DPO's pair); else num_generations
    policy_pairs: bool = False  # may build its preference pairs from the policy's own samples (data.policy_pairs)
    multi_process: bool = True  # can train under torchrun / accelerate launch (data-parallel)
    scores_on_rank0: bool = False  # after training, scores held-out data with the trained model on rank 0

    def load(self):
        return importlib.import_module(self.module)

    @property
    def run(self) -> Callable:
        return self.load().run


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in [
        Algorithm(
            "sft",
            "rlft.stages.sft",
            "supervised fine-tuning on prompt-completion data or scripted episodes (TRL SFTTrainer)",
            data="sft",
            environments=True,
            imitates=True,
        ),
        Algorithm(
            "grpo",
            "rlft.stages.grpo",
            "GRPO with reward functions and multi-turn environments (TRL GRPOTrainer)",
            needs_rewards=True,
            environments=True,
            rl=True,
        ),
        Algorithm(
            "rloo", "rlft.stages.rloo", "RLOO with reward functions (TRL RLOOTrainer)", needs_rewards=True, rl=True
        ),
        Algorithm(
            "ppo",
            "rlft.stages.ppo",
            "PPO with reward functions, a reward model or a multi-turn environment (rlft's own)",
            needs_rewards=True,
            environments=True,
            rl=True,
            multi_process=False,
        ),
        Algorithm(
            "online_dpo",
            "rlft.stages.online_dpo",
            "online DPO judged by reward functions or a reward model (trl.experimental OnlineDPOTrainer)",
            needs_rewards=True,
            rl=True,
            group_size=2,
        ),
        Algorithm(
            "dpo",
            "rlft.stages.dpo",
            "DPO on (prompt, chosen, rejected) pairs (TRL DPOTrainer)",
            data="preference",
            policy_pairs=True,
        ),
        Algorithm(
            "reward_model",
            "rlft.stages.reward_model",
            "Bradley-Terry reward model on preference pairs (TRL RewardTrainer)",
            data="preference",
            head="reward",
            scores_on_rank0=True,
        ),
        Algorithm(
            "kto", "rlft.stages.kto", "KTO on (prompt, completion, label) rows (TRL KTOTrainer)", data="unpaired"
        ),
        Algorithm(
            "alol",
            "rlft.stages.alol",
            "A-LoL: offline advantage-weighted learning from fixed scored completions, no sampling (rlft's own)",
            needs_rewards=True,
            data="logged",
            multi_process=False,
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


def having(capability: str, value=True) -> list[str]:
    """The algorithms whose capability flag has this value, for messages that say where an option applies.

    >>> having("rl")
    ['grpo', 'rloo', 'ppo', 'online_dpo']
    >>> having("head", "reward")
    ['reward_model']
    """
    return [a.name for a in ALGORITHMS.values() if getattr(a, capability) == value]
