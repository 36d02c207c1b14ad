"""What every training stage shares: its context, the starting model, the callback that logs metrics, and the
one training path of TRL-backed stages (run_trainer -> train_and_save). The TRL config is built by
rlft.stages.trainer_config, held-out evaluation during training by rlft.stages.heldout."""

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
from rlft.models import ModelRef, build_tiny_model, folder_problem, load_model, load_tokenizer, lora_config
from rlft.rm import reward as rm
from rlft.stages import ALGORITHMS, environment
from rlft.stages.checkpoints import CheckpointCallback
from rlft.stages.distributed import save_trained
from rlft.stages.eval_extras import start_ref
from rlft.stages.heldout import EvalCallback, generation_eval
from rlft.stages.precheck import at_stage_start
from rlft.stages.result import StageResult
from rlft.stages.trackers import Trackers, run_names
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
    trackers: Trackers | None = None  # the trackers `trainer.report_to` names, open while the stage runs

    def log(self, step: int, split: str, metrics: dict) -> dict:
        """One record into metrics.jsonl and, while the stage reports to trackers, into them under the same
        names (`<split>/<key>`, rlft.stages.trackers); returns the record."""
        record = self.metrics.log(self.name, step, split, metrics)
        if self.trackers is not None:
            self.trackers.log(step, record)
        return record

    def close(self) -> None:
        """The stage has ended (or failed): its trackers write what they hold and close."""
        if self.trackers is not None:
            self.trackers.close()

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
    if ctx.stage.model.tiny is not None:
        dist.on_main(build_tiny_model, ctx.stage.model.tiny, ctx.dir / "init", ctx.seed)  # the others wait for it
    return start_ref(ctx.recipe, ctx.outputs, ctx.run_dir, ctx.name)  # a folder, a hub id or a run's stage


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


def run_trainer(ctx: StageContext, trainer_cls, config_cls, train, held_out, rewards=None, config_defaults=None,
                prepare=None, **trainer_kwargs):
    """The one training path every TRL-backed stage shares: model -> TRL config -> trainer (public
    constructor arguments only) -> train -> save. Returns the stage's result. `prepare(tokenizer)`, when given,
    makes the training rows once the starting model's tokenizer is loaded (pre-tokenized data)."""
    model, tokenizer, save_ref, peft = starting_model(ctx)
    if prepare is not None:
        train = prepare(tokenizer)
    args = make_trainer_config(config_cls, ctx.stage, ctx.dir / "trainer", ctx.seed, **tracker_names(ctx),
                               **(config_defaults or {}))
    eval_rewards = rewards if rewards is not None else ctx.rewards()
    dist.on_main(at_stage_start, ctx, model, tokenizer, train, eval_rewards, args)  # with `check.enabled`
    eval_cb = generation_eval(ctx, tokenizer, held_out, eval_rewards)
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


def tracker_names(ctx: StageContext) -> dict:
    """The recipe and `<run folder>/<stage>`: the project and run the trackers file a stage under (trackio)."""
    return run_names(ctx.run_dir, ctx.name, ctx.recipe.name)


def train_and_save(ctx: StageContext, trainer, tokenizer, save_ref: ModelRef, eval_cb: EvalCallback | None,
                   final_eval: bool = True):
    """Train (continuing from `ctx.checkpoint` when resuming), save the model (or adapter), and return the
    stage's result. `final_eval=False`: the stage evaluates its final model itself (a reward model's report)."""
    from transformers.trainer_callback import PrinterCallback

    dist.check_trainer(trainer.args, ctx.key)  # several processes: the trainer must sync them
    metrics_cb = MetricsCallback(ctx)
    ctx.trackers = Trackers.adopt(trainer)  # the trainer's trackers also take rlft's evaluations
    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints a shorter line
    trainer.add_callback(metrics_cb)
    trainer.add_callback(CheckpointCallback(ctx, trainer, metrics_cb, eval_cb, ctx.resume_state))
    result = trainer.train(resume_from_checkpoint=str(ctx.checkpoint) if ctx.checkpoint else None)
    if eval_cb is not None and final_eval:
        eval_cb.finish(trainer.model, trainer.state.global_step)
    is_adapter = hasattr(trainer.model, "peft_config")
    out = save_trained(trainer, tokenizer, ctx.dir, save_ref, is_adapter)
    train = {k: v for k, v in metrics_cb.last.items()}
    train.update({"global_step": trainer.state.global_step, "train_loss": result.training_loss})
    done = StageResult(out, train=train, timing=metrics_cb.timing)
    return eval_cb.record(done) if eval_cb is not None else done
