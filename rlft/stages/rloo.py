"""REINFORCE Leave-One-Out with TRL's RLOOTrainer: the baseline of each completion is the mean reward of
the other completions of its prompt. Same assembly as GRPO (rewards with weights, any model)."""

from __future__ import annotations

from rlft.stages import grpo
from rlft.stages.common import StageContext


def config_class():
    from trl import RLOOConfig

    return RLOOConfig


def run(ctx: StageContext):
    from trl import RLOOTrainer

    return grpo.run(ctx, trainer_cls=RLOOTrainer, config_cls=config_class())
