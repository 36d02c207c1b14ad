"""Group Relative Policy Optimisation with TRL's GRPOTrainer and the recipe's reward functions.

The stage only assembles: rewards (built-in or user code, with weights) -> model -> TRL config -> trainer.
Defaults that TRL sets for large models are kept except where the device needs otherwise; set
`learning_rate`, `num_generations`, `max_completion_length` for a tiny model in the recipe.
"""

from __future__ import annotations

from rlft.stages.common import EvalCallback, StageContext, make_trainer_config, starting_model, train_and_save


def config_class():
    from trl import GRPOConfig

    return GRPOConfig


def run(ctx: StageContext):
    from trl import GRPOTrainer

    train, held_out = ctx.data(required=("prompt",))
    if "completion" in train.column_names:  # GRPO samples its own completions
        train = train.remove_columns("completion")
    rewards = ctx.rewards()
    model, tokenizer, save_ref, peft = starting_model(ctx)
    args = make_trainer_config(
        config_class(), ctx.stage, ctx.dir / "trainer", ctx.seed, reward_weights=[w for _, w in rewards]
    )

    eval_cb = EvalCallback(ctx, tokenizer, held_out, rewards) if ctx.stage.eval.every and held_out else None
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[fn for fn, _ in rewards],
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[eval_cb] if eval_cb else None,
    )
    return train_and_save(ctx, trainer, tokenizer, save_ref, eval_cb)
