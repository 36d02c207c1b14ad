"""A stage's checkpoints: what rlft adds to each (metrics.jsonl's length, callback state, trainer totals), how
a complete one is found again, and the callback that writes it for TRL trainers. rlft.runner.recovery decides
when a run resumes; its docstring says what makes a run resumable."""

from __future__ import annotations

import re
from pathlib import Path

from transformers import TrainerCallback

from rlft.core.runfiles import read_json
from rlft.core.schema import ConfigError, join
from rlft.core.tracking import sync, write_json

STATE_FILE = "rlft_state.json"


# Running totals TRL trainers keep in memory, not in their checkpoints: the loss sum behind `train_loss`,
# and the token count behind `num_tokens` (SFT, DPO, KTO, reward trainers).
TRAINER_COUNTERS = ("_total_loss_scalar", "_total_train_tokens")


CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


STATE_KEYS = {"resumable": bool, "metrics_bytes": int, "last": dict}


def step_of(path: Path) -> int | None:
    m = CHECKPOINT.match(path.name)
    return int(m.group(1)) if m else None


def read_state(checkpoint: Path) -> dict | None:
    """A checkpoint's rlft state, or None when it is missing or broken (the checkpoint is then not used)."""
    try:
        return read_json(checkpoint / STATE_FILE, "the checkpoint's state", STATE_KEYS)
    except ConfigError:
        return None


def newest_checkpoint(trainer_dir: Path) -> tuple[Path, dict] | None:
    """The newest complete checkpoint that training can continue from, with its rlft state."""
    if not trainer_dir.is_dir():
        return None
    folders = sorted((p for p in trainer_dir.iterdir() if p.is_dir() and step_of(p) is not None), key=step_of)
    for folder in reversed(folders):
        state = read_state(folder)
        if state is not None and state.get("resumable"):
            return folder, state
    return None


def stage_state(ctx, last: dict, eval_cb, resumable: bool, **extra) -> dict:
    """What rlft adds to a checkpoint (see the module docstring)."""
    sync(ctx.metrics.path)
    size = ctx.metrics.path.stat().st_size if ctx.metrics.path.exists() else 0
    state = {"resumable": resumable, "metrics_bytes": size, "last": last, **extra}
    if eval_cb is not None:
        state["eval"] = {"history": eval_cb.history, "examples": getattr(eval_cb, "examples", None),
                         "stopped_at": eval_cb.stopped_at}  # fmt: skip
    return state


def save_state(checkpoint: Path, step: int, state: dict) -> None:
    """Written last, atomically, once the checkpoint's files are on disk: from now on it counts as complete."""
    sync(checkpoint)
    write_json(checkpoint / STATE_FILE, {**state, "step": step})


def restore_eval(eval_cb, state: dict) -> None:
    if eval_cb is not None and "eval" in state:
        eval_cb.history = state["eval"]["history"]
        eval_cb.stopped_at = state["eval"]["stopped_at"]
        if state["eval"]["examples"] is not None:
            eval_cb.examples = state["eval"]["examples"]


class CheckpointCallback(TrainerCallback):
    """Completes each TRL checkpoint with rlft's state, and restores that state when a stage resumes.

    TRL restores the model, optimiser, schedule, RNG and step from its own files; the trainer's running
    totals (`TRAINER_COUNTERS`) are carried in rlft's state and put back once the trainer has reset them
    (it would otherwise average `train_loss` over the resumed steps only and count tokens from zero)."""

    def __init__(self, ctx, trainer, metrics_cb, eval_cb, state: dict | None = None):
        self.ctx, self.trainer, self.metrics_cb, self.eval_cb, self.state = ctx, trainer, metrics_cb, eval_cb, state
        if state is not None:
            metrics_cb.last.update(state["last"])
            restore_eval(eval_cb, state)

    def on_train_begin(self, args, state, control, **kwargs):
        if self.state is not None:
            for name, value in self.state["counters"].items():
                setattr(self.trainer, name, value)
            self.trainer._initial_global_step = 0  # train_loss: the mean over all steps, as without a resume

    def on_save(self, args, state, control, **kwargs):
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not state.is_world_process_zero or not checkpoint.is_dir():
            return
        resumable = (
            not control.should_training_stop
            and state.global_step < state.max_steps
            and not args.save_only_model
            and state.global_step % max(state.logging_steps, 1) == 0
        )
        counters = {n: getattr(self.trainer, n) for n in TRAINER_COUNTERS if hasattr(self.trainer, n)}
        save_state(checkpoint, state.global_step, stage_state(self.ctx, self.metrics_cb.last, self.eval_cb,
                                                              resumable, counters=counters))  # fmt: skip


def check_checkpointing(config_cls: type, stage, key: str) -> None:
    """TRL stages resume only from checkpoints taken at a logging step (see the module docstring)."""
    import dataclasses

    trainer = stage.trainer
    if "logging_strategy" not in {f.name for f in dataclasses.fields(config_cls)}:
        return  # rlft's PPO keeps its logging window in the checkpoint
    if trainer.get("save_strategy") not in ("steps", "SaveStrategy.STEPS"):
        return
    save, logging = trainer.get("save_steps", 500), trainer.get("logging_steps", 10)
    if isinstance(save, int) and isinstance(logging, int) and logging > 0 and save % logging:
        raise ConfigError(join(key, "trainer.save_steps"), f"must be a multiple of logging_steps ({logging}) "
                          f"so that a killed run can resume from its checkpoints, got {save}")  # fmt: skip
