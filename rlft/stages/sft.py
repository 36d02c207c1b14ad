"""Supervised fine-tuning with TRL's SFTTrainer on prompt-completion data (loss on the completion only).

With `eval.every` and `eval.stop_at_accuracy` it doubles as a warm-up that ends on a held-out skill level.
"""

from __future__ import annotations

from rlft.stages.common import StageContext, run_trainer


def config_class():
    from trl import SFTConfig

    return SFTConfig


def run(ctx: StageContext):
    from trl import SFTTrainer

    train, held_out = ctx.data()
    return run_trainer(ctx, SFTTrainer, config_class(), train, held_out)
