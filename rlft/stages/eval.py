"""Held-out evaluation of a model: greedy accuracy by the verifier (`eval.verifier`, else `data.verifier`, else
the task's), rewards, lengths, examples; on request format compliance, entropy, KL and pass@k
(docs/evaluation.md). With `env:`, it plays the held-out episodes instead (docs/environments.md)."""

from __future__ import annotations

from rlft.core.schema import ConfigError
from rlft.eval.evaluate import evaluate, reward_means
from rlft.stages import environment
from rlft.stages.common import StageContext, starting_model
from rlft.stages.eval_extras import StageEval
from rlft.stages.result import StageResult


def run(ctx: StageContext):
    spec = ctx.stage.eval
    _, held_out = ctx.data()
    if held_out is None:
        raise ConfigError(f"{ctx.key}.data", "an eval stage needs held-out data (data.eval_path or data.eval_size)")
    if ctx.stage.env is not None:  # multi-turn: play the held-out episodes
        model, tokenizer, ref, _ = starting_model(ctx)
        return StageResult(ref, extra=environment.evaluate(ctx, model, tokenizer, held_out, 0))
    held_out = held_out.select(range(min(spec.size or len(held_out), len(held_out))))
    model, tokenizer, ref, _ = starting_model(ctx)
    metrics, examples = evaluate(
        model, tokenizer, held_out, ctx.verifier(), ctx.rewards(), spec.max_new_tokens, spec.batch_size,
        spec.num_examples, StageEval(ctx).options(model),
    )  # fmt: skip
    ctx.log(0, "eval", metrics)
    shown = ("format_compliance", "entropy", "kl", *(f"pass@{k}" for k in spec.ks))
    extra = "".join(f" {k}={metrics[k]:.4g}" for k in shown if metrics.get(k) is not None)
    ctx.echo(f"  [{ctx.name}] accuracy={metrics['accuracy']} on {metrics['num_samples']} held-out prompts "
             f"(verifier {ctx.verifier_name}){extra}{reward_means(metrics)}")
    return StageResult(ref, eval={**metrics, "verifier": ctx.verifier_name}, examples=examples)
