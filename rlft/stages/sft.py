"""Supervised fine-tuning with TRL's SFTTrainer on prompt-completion data (loss on the completion only); with
`env:`, on the environment's scripted episodes (loss on the model's turns only), the warm-up that teaches a
model the tool-call format before multi-turn RL (rlft.stages.environment).

With `eval.every` and `eval.stop_at_accuracy` it doubles as a warm-up that ends on a held-out skill level.
"""

from __future__ import annotations

from rlft.stages import environment
from rlft.stages.common import StageContext, run_trainer


def config_class():
    from trl import SFTConfig

    return SFTConfig


def run(ctx: StageContext):
    from trl import SFTTrainer

    train, held_out = ctx.data()
    if ctx.stage.env is None:
        return run_trainer(ctx, SFTTrainer, config_class(), train, held_out)
    result = run_trainer(ctx, SFTTrainer, config_class(), train, None, config_defaults={"max_length": None},
                         prepare=lambda tokenizer: environment.scripted_dataset(ctx.stage, train, tokenizer))
    return environment.play_trained(ctx, result, held_out)
