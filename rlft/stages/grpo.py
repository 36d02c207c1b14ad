"""Group Relative Policy Optimisation with TRL's GRPOTrainer and the recipe's reward functions; with `env:`,
multi-turn episodes through TRL's `environment_factory` (rlft.stages.environment).

The stage only assembles: rewards (built-in or user code, with weights) -> model -> TRL config -> trainer.
TRL's defaults are meant for large models: set `learning_rate`, `num_generations` and
`max_completion_length` for a tiny one in the recipe.
"""

from __future__ import annotations

from rlft.stages import environment
from rlft.stages.common import StageContext, run_trainer


def config_class():
    from trl import GRPOConfig

    return GRPOConfig


def run(ctx: StageContext, trainer_cls=None, config_cls=None):
    from trl import GRPOTrainer

    train, held_out = ctx.data()
    if "completion" in train.column_names:  # the trainer samples its own completions
        train = train.remove_columns("completion")
    rewards = ctx.rewards()
    config_cls = config_cls or config_class()
    defaults, extra = {"reward_weights": [w for _, w in rewards] or None}, {}
    if ctx.stage.env is not None:  # TRL runs the (guarded) episodes and adds get_reward() as a reward, weight 1
        defaults.update(environment.trainer_defaults(ctx.stage, config_cls))
        extra["environment_factory"] = environment.spec(ctx.stage).guarded(ctx.stage.env.reward)  # rlft.envs.guard
    result = run_trainer(
        ctx,
        trainer_cls or GRPOTrainer,
        config_cls,
        train,
        held_out,
        rewards=rewards,
        config_defaults=defaults,
        reward_funcs=[fn for fn, _ in rewards],
        **extra,
    )
    return environment.play_trained(ctx, result, held_out) if ctx.stage.env is not None else result
