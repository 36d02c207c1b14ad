"""Held-out evaluation while a stage trains, the same for every training algorithm: every `eval.every` steps
(and at step 0 with `eval.at_start`) the model is measured on held-out rows and logged (split "eval"); once its
accuracy reaches `eval.stop_at_accuracy` training stops, so a warm-up ends on a measured skill rather than a step
count, and `eval.stop_keep` may put back the last model below the target (rlft.stages.early_stop).

What "measured" means is the stage's: greedy generation scored by the verifier for language models
(`generation_eval`), pairwise accuracy on held-out preference pairs for a reward model (rlft.stages.reward_model).
TRL stages call it through the trainer's callbacks; rlft's PPO calls `at_start` and `at_step` from its loop.
"""

from __future__ import annotations

from collections.abc import Callable

from transformers import TrainerCallback

from rlft.core import distributed as dist
from rlft.eval.evaluate import evaluate, reward_means
from rlft.stages import early_stop
from rlft.stages.eval_extras import StageEval
from rlft.stages.result import StageResult

# (model) -> (metrics, examples): one held-out measurement of the model being trained
Measure = Callable[[object], tuple[dict, list | None]]


class EvalCallback(TrainerCallback):
    """Evaluation during training with `measure`; `accuracy` names the metric `eval.stop_at_accuracy` reads."""

    def __init__(self, ctx, measure: Measure, accuracy: str = "accuracy", judge: str | None = None):
        self.ctx, self.measure, self.accuracy, self.spec = ctx, measure, accuracy, ctx.stage.eval
        self.judge = judge or ctx.verifier_name  # what decided accuracy, as console lines and summary.json say
        self.history: list[dict] = []
        self.examples: list | None = None
        self.stopped_at: int | None = None
        self.below: early_stop.Snapshot | None = None  # the last model evaluated below stop_at_accuracy
        self.kept: dict | None = None  # which model the stop kept, when stop_keep may pick an earlier one

    def run(self, model, step: int) -> dict:
        metrics, examples = self.measure(model)
        self.ctx.log(step, "eval", metrics)  # metrics.jsonl and the trackers
        self.history.append({"step": step, **metrics})
        self.examples = examples
        value = metrics.get(self.accuracy)
        self.ctx.echo(f"  [{self.ctx.name}] step {step} eval {self.accuracy}="
                      f"{value if value is None else round(value, 4)} ({self.judge}){reward_means(metrics)}")
        return metrics

    def at_start(self, model, is_main: bool = True) -> None:
        """The starting model's baseline (step 0), with `eval.at_start`; rank 0 evaluates."""
        if self.spec.at_start and is_main:
            metrics = self.run(model, 0)
            if self.spec.stop_keep != "reached" and (metrics.get(self.accuracy) or 0.0) < self.spec.stop_at_accuracy:
                self.below = early_stop.Snapshot(model, 0, metrics)

    def at_step(self, model, step: int, is_main: bool = True) -> bool:
        """Evaluate when `step` is a multiple of `eval.every`; True when training stops here. Every rank calls it
        (rank 0 evaluates, and in a multi-process run every rank stops at this step)."""
        if step % self.spec.every:
            return False
        stop = False
        if is_main:
            metrics = self.run(model, step)
            target, value = self.spec.stop_at_accuracy, metrics.get(self.accuracy) or 0.0
            if target is not None and value >= target:
                self.ctx.echo(f"  [{self.ctx.name}] {self.accuracy} {value:.3f} >= {target}: stopping")
                self.keep(model, step, metrics)
                stop = True
            elif target is not None and self.spec.stop_keep != "reached":
                self.below = early_stop.Snapshot(model, step, metrics)
        if dist.broadcast(stop):
            self.stopped_at = step
        return self.stopped_at == step

    def keep(self, model, step: int, metrics: dict) -> None:
        """On stopping: put back the last model below the target when `eval.stop_keep` prefers it."""
        if self.spec.stop_keep == "reached":
            return
        below = self.below.metrics.get(self.accuracy) if self.below is not None else None
        choice = early_stop.choose(self.spec.stop_keep, self.spec.stop_at_accuracy, metrics[self.accuracy], below)
        kept = self.below if choice == "below" else None
        if kept is not None:
            kept.restore(model)
        step_kept, accuracy = (kept.step, below) if kept else (step, metrics[self.accuracy])
        self.kept = {"rule": self.spec.stop_keep, "step": step_kept, "accuracy": accuracy,
                     "eval": kept.metrics if kept else metrics}  # fmt: skip
        self.ctx.echo(f"  [{self.ctx.name}] keeping the step-{step_kept} model ({self.accuracy} {accuracy:.3f}; "
                      f"stop_keep: {self.spec.stop_keep})")

    def finish(self, model, step: int) -> None:
        """After training: evaluate the final model unless the last evaluation was of it (or a stop kept one)."""
        last = self.history[-1]["step"] if self.history else None
        if dist.is_main() and last != step and not self.kept:
            self.run(model, step)

    def record(self, result: StageResult) -> StageResult:
        """The evaluations into the stage's result: the kept model's is the stage's `eval`."""
        if self.history:
            kept = self.kept  # the model saved is the one kept: its evaluation is the stage's result
            last = {"step": kept["step"], **kept["eval"]} if kept else self.history[-1]
            result.eval = {**last, "verifier": self.judge}  # which reward judged accuracy
            result.eval_history, result.examples, result.stopped_at_accuracy_step = (
                self.history, self.examples, self.stopped_at)
            if kept:
                result.stop_kept = {k: v for k, v in kept.items() if k != "eval"}
        return result

    # TRL's callback events
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0:
            self.at_start(model, state.is_world_process_zero)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.at_step(model, state.global_step, state.is_world_process_zero):
            control.should_training_stop = True


def generation_eval(ctx, tokenizer, dataset, rewards) -> EvalCallback | None:
    """Greedy held-out evaluation of a language model (accuracy by the verifier, rewards, lengths; format, pass@k,
    entropy and KL as the eval block asks), or None when the stage does not evaluate while training."""
    if not ctx.stage.eval.every or not dataset:
        return None
    spec = ctx.stage.eval
    rows = dataset.select(range(min(spec.size or len(dataset), len(dataset))))
    verifier, extras = ctx.verifier(), StageEval(ctx)

    def measure(model):
        return evaluate(model, tokenizer, rows, verifier, rewards, spec.max_new_tokens, spec.batch_size,
                        spec.num_examples, extras.options(model))  # fmt: skip

    return EvalCallback(ctx, measure)
