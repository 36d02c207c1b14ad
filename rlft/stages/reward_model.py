"""Reward-model training with TRL's RewardTrainer (Bradley-Terry on chosen/rejected pairs), then a quality
report on held-out pairs before any RL uses it.

The starting model is loaded as a sequence classifier with one output; with LoRA the new `score` head is
trained fully (peft's SEQ_CLS task). The stage always leaves a merged model folder, so later stages and
`{name: reward_model, kwargs: {from_stage: ...}}` load it with a plain from_pretrained.
"""

from __future__ import annotations

from rlft.core import distributed as dist
from rlft.core.schema import ConfigError
from rlft.core.tracking import write_json
from rlft.models import ModelRef, load_model
from rlft.rm import report as rm_report
from rlft.rm.score import STATS_FILE, pairwise_report, score
from rlft.stages.common import StageContext, starting_model, tracker_names, train_and_save
from rlft.stages.heldout import EvalCallback
from rlft.stages.result import StageResult
from rlft.stages.trainer_config import make_trainer_config


def config_class():
    from trl import RewardConfig

    return RewardConfig


def run(ctx: StageContext):
    from trl import RewardTrainer

    train, held_out = ctx.data()
    model, tokenizer, save_ref, peft = starting_model(ctx, head="reward")
    args = make_trainer_config(config_class(), ctx.stage, ctx.dir / "trainer", ctx.seed, **tracker_names(ctx))
    eval_cb = pairwise_eval(ctx, tokenizer, held_out)
    trainer = RewardTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, peft_config=peft,
                            callbacks=[eval_cb] if eval_cb else None)  # fmt: skip
    result = train_and_save(ctx, trainer, tokenizer, save_ref, eval_cb, final_eval=False)  # the report is final
    return dist.on_main(finish, ctx, trainer, tokenizer, held_out, save_ref, result)  # rank 0 scores and saves


def pairwise_eval(ctx: StageContext, tokenizer, held_out) -> EvalCallback | None:
    """Pairwise accuracy on held-out pairs every `eval.every` steps (the first `eval.size`); it is the accuracy
    `eval.stop_at_accuracy` stops at. None when the stage does not evaluate while training."""
    spec = ctx.stage.eval
    if not spec.every or held_out is None or "chosen" not in held_out.column_names:
        return None
    rows = held_out.select(range(min(spec.size or len(held_out), len(held_out))))

    def measure(model):
        chosen = score(model, tokenizer, rows["prompt"], rows["chosen"])
        return pairwise_report(chosen, score(model, tokenizer, rows["prompt"], rows["rejected"])), None

    return EvalCallback(ctx, measure, accuracy="pairwise_accuracy", judge="held-out pairs")


def finish(ctx: StageContext, trainer, tokenizer, held_out, save_ref: ModelRef, result: StageResult):
    """The merged reward model (for a LoRA stage) and its held-out quality report, which is the stage's `eval`."""
    model = trainer.model.merge_and_unload() if hasattr(trainer.model, "peft_config") else trainer.model
    merged = ctx.dir / "model"
    if not merged.exists():  # a LoRA stage saved only its adapter: add the merged reward model
        model.save_pretrained(merged)
        tokenizer.save_pretrained(merged)
    result.output = ModelRef(base=str(merged), tokenizer=str(merged))

    if held_out is not None and "chosen" in held_out.column_names:
        report = quality_report(ctx, model, tokenizer, held_out, save_ref)
        ctx.log(trainer.state.global_step, "eval", report)
        write_json(ctx.dir / STATS_FILE, report)
        result.eval = report
        ctx.echo(f"  [{ctx.name}] held-out pairwise accuracy={report['pairwise_accuracy']:.3f} "
                 f"on {report['num_pairs']} pairs, length bias={report.get('length_bias')}, "
                 f"verifier agreement={report.get('probe/verifier_agreement')}")  # fmt: skip
        required = ctx.stage.eval.min_accuracy
        if required is not None and report["pairwise_accuracy"] < required:
            raise ConfigError(
                f"{ctx.key}.eval.min_accuracy",
                f"the reward model reached pairwise accuracy {report['pairwise_accuracy']:.3f} < {required} on "
                f"held-out pairs; train longer or change the data before using it for RL",
            )
    return result


def quality_report(ctx: StageContext, model, tokenizer, held_out, source: ModelRef) -> dict:
    """Pairwise accuracy on held-out pairs, a length-bias probe, agreement with the task's verifier on
    answers sampled from the model the stage started from, and a histogram of chosen/rejected scores."""
    chosen = score(model, tokenizer, held_out["prompt"], held_out["chosen"])
    rejected = score(model, tokenizer, held_out["prompt"], held_out["rejected"])
    report = pairwise_report(chosen, rejected)
    rm_report.score_histogram(chosen, rejected, ctx.dir / "scores.png", f"reward model '{ctx.name}', held-out pairs")
    if "answer" in held_out.column_names:
        report["length_bias"] = rm_report.length_bias(model, tokenizer, held_out["prompt"], held_out["answer"])
        verifier = ctx.verifier()
        if verifier is not None:
            policy = load_model(source, ctx.stage.model)
            probe = held_out.select(range(min(50, len(held_out))))
            agreement = rm_report.verifier_agreement(model, tokenizer, policy, verifier, probe,
                                                     max_new_tokens=ctx.stage.eval.max_new_tokens)  # fmt: skip
            report.update({f"probe/{k}": v for k, v in agreement.items()})
    return report
