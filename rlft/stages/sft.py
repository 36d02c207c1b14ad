"""Supervised fine-tuning with TRL's SFTTrainer on prompt-completion data (loss on the completion only).

Reads top to bottom: data -> model and tokenizer -> TRL config -> trainer -> train -> save. With
`eval.every` and `eval.stop_at_accuracy` it doubles as a warm-up that ends on a held-out skill level.
"""

from __future__ import annotations

from rlft.stages.common import EvalCallback, StageContext, make_trainer_config, starting_model, train_and_save


def config_class():
    from trl import SFTConfig

    return SFTConfig


def run(ctx: StageContext):
    from trl import SFTTrainer

    train, held_out = ctx.data(required=("prompt", "completion"))
    model, tokenizer, save_ref, peft = starting_model(ctx)
    args = make_trainer_config(config_class(), ctx.stage, ctx.dir / "trainer", ctx.seed)

    eval_cb = EvalCallback(ctx, tokenizer, held_out, ctx.rewards()) if ctx.stage.eval.every and held_out else None
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[eval_cb] if eval_cb else None,
    )
    return train_and_save(ctx, trainer, tokenizer, save_ref, eval_cb)
