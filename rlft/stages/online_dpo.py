"""Online DPO with TRL's experimental OnlineDPOTrainer: two completions are sampled per prompt, the
recipe's rewards (rule functions or a reward model, with weights) pick the preferred one, and a DPO step
follows. Same assembly as GRPO; the trainer lives in `trl.experimental`."""

from __future__ import annotations

from rlft.stages import grpo
from rlft.stages.common import StageContext


def config_class():
    from trl.experimental.online_dpo import OnlineDPOConfig

    return OnlineDPOConfig


def run(ctx: StageContext):
    from trl.experimental.online_dpo import OnlineDPOTrainer

    return grpo.run(ctx, trainer_cls=OnlineDPOTrainer, config_cls=config_class())
