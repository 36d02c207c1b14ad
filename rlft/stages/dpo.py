"""Direct Preference Optimisation with TRL's DPOTrainer on (prompt, chosen, rejected) pairs.

`trainer.loss_type` and `trainer.beta` pass through to DPOConfig. With LoRA the reference model is the base
with the adapter disabled (no second copy in memory); without LoRA TRL keeps a frozen copy.
"""

from __future__ import annotations

from rlft.stages.common import StageContext, run_trainer


def config_class():
    from trl import DPOConfig

    return DPOConfig


def run(ctx: StageContext):
    from trl import DPOTrainer

    train, held_out = ctx.data()
    return run_trainer(ctx, DPOTrainer, config_class(), train, held_out)
