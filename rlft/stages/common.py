"""What every stage shares: its context, the starting model, the TRL config with device-safe defaults, and
the callbacks that log metrics and evaluate during training."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from rlft import rewards as rewards_lib
from rlft.core import distributed as dist
from rlft.core.config import Recipe, Stage
from rlft.core.schema import ConfigError, join
from rlft.core.tracking import TIMING_KEYS, MetricsLog
from rlft.data import conversational, load_splits, verifier_spec
from rlft.eval.alarms import divergence, stop_if_diverged
from rlft.eval.evaluate import evaluate, reward_means
from rlft.models import ModelRef, build_tiny_model, folder_problem, load_model, load_tokenizer, lora_config, path_ref
from rlft.rm import score as rm
from rlft.stages import early_stop
from rlft.stages.checkpoints import CheckpointCallback
from rlft.stages.distributed import save_trained
from rlft.stages.eval_extras import StageEval
from rlft.stages.precheck import at_stage_start
from rlft.stages.trainer_config import make_trainer_config


@dataclass
class StageContext:
    """Everything a stage needs from the pipeline: its config, folder, seed, earlier outputs, metrics log."""

    recipe: Recipe
    name: str
    run_dir: Path
    metrics: MetricsLog
    outputs: dict[str, ModelRef] = field(default_factory=dict)
    extra_rewards: list[Callable] = field(default_factory=list)  # Python callables from rlft.run(rewards=)
    echo: Callable[[str], None] = print
    # the folder of a trained reward_models/ definition, by name (the pipeline trains it once and caches it)
    reward_models: Callable[[str], Path] | None = None
    checkpoint: Path | None = None  # resuming a killed run: continue from this checkpoint (rlft.runner.recovery)
    resume_state: dict | None = None  # rlft's state saved with that checkpoint

    @property
    def stage(self) -> Stage:
        return self.recipe.stages[self.name]

    @property
    def dir(self) -> Path:
        path = self.run_dir / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def seed(self) -> int:
        return self.recipe.seed

    @property
    def key(self) -> str:
        return f"stages.{self.name}"

    def data(self):
        """(train, held-out) datasets of this stage, in the form its algorithm trains on."""
        from rlft.stages import ALGORITHMS, environment

        if self.recipe.rows_from_env(self.name):
            return environment.splits(self.stage, self.seed)
        key = f"{self.key}.data" if self.stage.data else "data"
        kind = ALGORITHMS[self.stage.algorithm].data
        return load_splits(self.recipe.stage_data(self.name), self.seed, key, kind)

    def rewards(self) -> list[tuple[Callable, float]]:
        """(function, weight) pairs: the recipe's rewards, then any passed from Python with weight 1. Each is
        guarded: a reward that raises, exits, outlives its `timeout` or returns what TRL cannot use stops the
        run with a `RewardError` naming the function, the sample and its completion, not a trainer traceback."""
        fns = [
            (rm.build(r.kwargs, self.outputs, self.reward_models) if rm.is_reward_model(r)
             else rewards_lib.resolve(r.name, r.kwargs), r.weight, r.timeout)
            for r in self.stage.rewards
        ]
        names = {fn.__name__: f"{self.key}.rewards[{i}].name ('{r.name}')"
                 for i, ((fn, _, _), r) in enumerate(zip(fns, self.stage.rewards, strict=True))}
        for fn in self.extra_rewards:  # validation saw the recipe's rewards; these come from Python
            name = getattr(fn, "__name__", type(fn).__name__)
            rewards_lib.claim(names, name, self.key, f"'{name}' passed from Python (rewards=)")
        return [(rewards_lib.guard(fn, t), w) for fn, w, t in fns + [(fn, 1.0, None) for fn in self.extra_rewards]]

    def verifier_spec(self):
        """What decides `accuracy` and `pass@k`: `eval.verifier`, else `data.verifier`, else the task's
        verifier, else numeric_match for files (rlft.data.verifier_spec)."""
        return self.stage.eval.verifier or verifier_spec(self.recipe.stage_data(self.name))

    @property
    def verifier_name(self) -> str:
        """The verifier as console lines and summary.json name it."""
        return self.verifier_spec().name

    def verifier(self) -> Callable:
        """The verifier, guarded like the rewards (it may be user code), for evaluation and the pre-run check."""
        spec = self.verifier_spec()
        return rewards_lib.guard(rewards_lib.resolve(spec.name, spec.kwargs))


# ---------------------------------------------------------------- models


def source_ref(ctx: StageContext) -> ModelRef:
    """The on-disk model a stage starts from; a tiny spec is built and saved first, so that every model
    is then loaded through from_pretrained."""
    spec = ctx.stage.model
    if spec.from_stage is not None:
        return ctx.outputs[spec.from_stage]
    if spec.tiny is not None:
        path = dist.on_main(build_tiny_model, spec.tiny, ctx.dir / "init", ctx.seed)  # the others wait for it
        return ModelRef(base=str(path), tokenizer=str(path))
    return path_ref(spec.path, spec.tokenizer, f"{ctx.key}.model.path")  # a folder, a hub id or a run's stage


def starting_model(ctx: StageContext, head: str = "causal"):
    """(model, tokenizer, ref to save against, peft config or None) for a stage.

    With `merge_adapter: false` and no new `lora:` block, the source's last adapter is trained further
    (so the saved adapter replaces it); otherwise adapters are merged and a new LoRA, if any, is added.
    """
    spec, stage = ctx.stage.model, ctx.stage
    ref = source_ref(ctx)
    continue_adapter = bool(ref.adapters) and not spec.merge_adapter and stage.lora is None
    if folder_problem(ref.base):
        raise ConfigError(f"{ctx.key}.model", folder_problem(ref.base))
    try:
        tokenizer = load_tokenizer(spec.tokenizer or ref.tokenizer or ref.base, spec.trust_remote_code)
        model = load_model(ref, spec, trainable_adapter=continue_adapter, head=head)
    except Exception as e:  # transformers raises OSError, ValueError or KeyError for an unusable folder or id
        first_line = str(e).strip().split("\n")[0]
        raise ConfigError(f"{ctx.key}.model", f"cannot load '{ref.base}': {type(e).__name__}: {first_line}") from None
    if tokenizer.chat_template is None and (ctx.recipe.rows_from_env(ctx.name)
                                            or conversational(ctx.recipe.stage_data(ctx.name))):
        raise ConfigError(f"{ctx.key}.model", f"the tokenizer of '{spec.tokenizer or ref.tokenizer or ref.base}' "
                          "has no chat template, and this stage's data is conversational (lists of messages; every "
                          "built-in task is); set model.tokenizer to one that has a template (e.g. the model's "
                          "instruct version), or give plain-text data: a file with prompt/completion strings")
    save_ref = dataclasses.replace(ref, adapters=ref.adapters[:-1]) if continue_adapter else ref
    if head == "reward" and model.config.pad_token_id is None:  # the classifier finds the last token by it
        model.config.pad_token_id = tokenizer.pad_token_id
    task_type = "SEQ_CLS" if head == "reward" else "CAUSAL_LM"
    peft = lora_config(stage.lora, task_type) if stage.lora is not None else None
    return model, tokenizer, save_ref, peft


# ---------------------------------------------------------------- TRL configs














# ---------------------------------------------------------------- callbacks


class MetricsCallback(TrainerCallback):
    """Writes every trainer log to metrics.jsonl (split "train") and prints a one-line progress report; a loss
    or gradient norm that is no longer finite stops the run (rlft.eval.alarms.stop_if_diverged)."""

    SHOWN = ("loss", "reward", "rewards/", "grad_norm", "learning_rate")

    def __init__(self, ctx: StageContext):
        self.ctx, self.last, self.timing = ctx, {}, {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:  # every process sees the same (reduced) loss: all stop together
            if state.is_world_process_zero and divergence(logs, state.global_step):
                self.ctx.metrics.log(self.ctx.name, state.global_step, "train", logs)  # null in metrics.jsonl
            stop_if_diverged(join(self.ctx.key, "trainer"), logs, state.global_step, args.learning_rate,
                             args.max_grad_norm)
        if not state.is_world_process_zero or not logs:
            return
        self.timing.update({k: v for k, v in logs.items() if any(t in k for t in TIMING_KEYS)})
        record = self.ctx.metrics.log(self.ctx.name, state.global_step, "train", logs)
        self.last.update({k: v for k, v in record.items() if k not in ("stage", "step", "split")})
        shown = [
            f"{k}={v:.4g}"
            for k, v in record.items()
            if isinstance(v, float) and any(k == s or (s.endswith("/") and k.startswith(s)) for s in self.SHOWN)
        ]
        if shown:
            self.ctx.echo(f"  [{self.ctx.name}] step {state.global_step}/{state.max_steps} " + " ".join(shown))


class EvalCallback(TrainerCallback):
    """Greedy held-out evaluation every `eval.every` steps (split "eval"); stops training once
    `eval.stop_at_accuracy` is reached, so a warm-up ends on a measured skill rather than a step count."""

    def __init__(self, ctx: StageContext, tokenizer, dataset, rewards):
        self.ctx, self.tokenizer, self.rewards = ctx, tokenizer, rewards
        spec = ctx.stage.eval
        self.spec = spec
        self.dataset = dataset.select(range(min(spec.size or len(dataset), len(dataset))))
        self.verifier = ctx.verifier()
        self.extras = StageEval(ctx)  # format, pass@k, entropy, KL: as the eval block asks
        self.history: list[dict] = []
        self.stopped_at: int | None = None
        self.below: early_stop.Snapshot | None = None  # the last model evaluated below stop_at_accuracy
        self.kept: dict | None = None  # which model the stop kept, when stop_keep may pick an earlier one

    def run(self, model, step: int) -> dict:
        metrics, examples = evaluate(
            model, self.tokenizer, self.dataset, self.verifier, self.rewards,
            self.spec.max_new_tokens, self.spec.batch_size, self.spec.num_examples, self.extras.options(model),
        )  # fmt: skip
        self.ctx.metrics.log(self.ctx.name, step, "eval", metrics)
        self.history.append({"step": step, **metrics})
        self.examples = examples
        acc = metrics.get("accuracy")
        self.ctx.echo(f"  [{self.ctx.name}] step {step} eval accuracy={acc if acc is None else round(acc, 4)} "
                      f"({self.ctx.verifier_name}){reward_means(metrics)}")
        return metrics

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.spec.at_start and state.is_world_process_zero and state.global_step == 0:
            metrics = self.run(model, 0)  # the starting model's baseline
            if self.spec.stop_keep != "reached" and (metrics.get("accuracy") or 0.0) < self.spec.stop_at_accuracy:
                self.below = early_stop.Snapshot(model, 0, metrics)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.spec.every:
            return
        stop = False
        if state.is_world_process_zero:
            metrics = self.run(model, state.global_step)
            target = self.spec.stop_at_accuracy
            if target is not None and (metrics.get("accuracy") or 0.0) >= target:
                self.ctx.echo(f"  [{self.ctx.name}] accuracy {metrics['accuracy']:.3f} >= {target}: stopping")
                self.keep(model, state.global_step, metrics)
                stop = True
            elif target is not None and self.spec.stop_keep != "reached":
                self.below = early_stop.Snapshot(model, state.global_step, metrics)
        if dist.broadcast(stop):  # rank 0 evaluated; in a multi-process run every rank stops at this step
            self.stopped_at = state.global_step
            control.should_training_stop = True


    def keep(self, model, step: int, metrics: dict) -> None:
        """On stopping: put back the last model below the target when `eval.stop_keep` prefers it."""
        if self.spec.stop_keep == "reached":
            return
        below = self.below.metrics.get("accuracy") if self.below is not None else None
        choice = early_stop.choose(self.spec.stop_keep, self.spec.stop_at_accuracy, metrics["accuracy"], below)
        kept = self.below if choice == "below" else None
        if kept is not None:
            kept.restore(model)
        step_kept, accuracy = (kept.step, below) if kept else (step, metrics["accuracy"])
        self.kept = {"rule": self.spec.stop_keep, "step": step_kept, "accuracy": accuracy,
                     "eval": kept.metrics if kept else metrics}  # fmt: skip
        self.ctx.echo(f"  [{self.ctx.name}] keeping the step-{step_kept} model (accuracy {accuracy:.3f}; "
                      f"stop_keep: {self.spec.stop_keep})")


def run_trainer(ctx: StageContext, trainer_cls, config_cls, train, held_out, rewards=None, config_defaults=None,
                **trainer_kwargs):
    """The one training path every TRL-backed stage shares: model -> TRL config -> trainer (public
    constructor arguments only) -> train -> save. Returns (output ref, stage summary)."""
    model, tokenizer, save_ref, peft = starting_model(ctx)
    args = make_trainer_config(config_cls, ctx.stage, ctx.dir / "trainer", ctx.seed, **(config_defaults or {}))
    eval_rewards = rewards if rewards is not None else ctx.rewards()
    dist.on_main(at_stage_start, ctx, model, tokenizer, train, eval_rewards, args)  # with `check.enabled`
    eval_cb = EvalCallback(ctx, tokenizer, held_out, eval_rewards) if ctx.stage.eval.every and held_out else None
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[eval_cb] if eval_cb else None,
        **trainer_kwargs,
    )
    return train_and_save(ctx, trainer, tokenizer, save_ref, eval_cb)


def train_and_save(ctx: StageContext, trainer, tokenizer, save_ref: ModelRef, eval_cb: EvalCallback | None):
    """Train (continuing from `ctx.checkpoint` when resuming), save the model (or adapter), and return
    (output ref, stage summary)."""
    from transformers.trainer_callback import PrinterCallback

    dist.check_trainer(trainer.args, ctx.key)  # several processes: the trainer must sync them
    metrics_cb = MetricsCallback(ctx)
    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints a shorter line
    trainer.add_callback(metrics_cb)
    trainer.add_callback(CheckpointCallback(ctx, trainer, metrics_cb, eval_cb, ctx.resume_state))
    result = trainer.train(resume_from_checkpoint=str(ctx.checkpoint) if ctx.checkpoint else None)
    last_eval = eval_cb.history[-1]["step"] if eval_cb is not None and eval_cb.history else None
    if eval_cb is not None and dist.is_main() and last_eval != trainer.state.global_step and not eval_cb.kept:
        eval_cb.run(trainer.model, trainer.state.global_step)
    is_adapter = hasattr(trainer.model, "peft_config")
    out = save_trained(trainer, tokenizer, ctx.dir, save_ref, is_adapter)
    train = {k: v for k, v in metrics_cb.last.items()}
    train.update({"global_step": trainer.state.global_step, "train_loss": result.training_loss})
    summary = {"train": train, "timing": metrics_cb.timing, "output": out.__dict__}
    if eval_cb is not None and eval_cb.history:
        kept = eval_cb.kept  # the model saved is the one kept: its evaluation is the stage's result
        last = {"step": kept["step"], **kept["eval"]} if kept else eval_cb.history[-1]
        summary["eval"] = {**last, "verifier": ctx.verifier_name}  # which reward judged accuracy
        summary["eval_history"] = eval_cb.history
        summary["examples"] = eval_cb.examples
        summary["stopped_at_accuracy_step"] = eval_cb.stopped_at
        if kept:
            summary["stop_kept"] = {k: v for k, v in kept.items() if k != "eval"}
    return out, summary
