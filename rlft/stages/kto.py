"""Kahneman-Tversky Optimisation with TRL's KTOTrainer on unpaired (prompt, completion, label) rows:
no pairs needed, only whether each completion is desirable."""

from __future__ import annotations

from rlft.stages.common import StageContext, run_trainer


def config_class():
    from trl import KTOConfig

    return KTOConfig


def run(ctx: StageContext):
    from trl import KTOTrainer

    train, held_out = ctx.data()
    return run_trainer(ctx, KTOTrainer, config_class(), train, held_out)
