"""Crash and resume: continue a run killed at any moment with `rlft run --resume RUN_DIR`.

What makes a run resumable, in the order things are written:
- A stage is complete when `<stage>/summary.json` exists. The pipeline writes it last, after the model and
  `output.json`, each under a temporary name and renamed; a stage folder without it is interrupted.
- A checkpoint (`trainer: {save_strategy: steps, save_steps: N}`) is complete when `checkpoint-N/rlft_state.json`
  exists: rlft writes it after TRL (or rlft's PPO) has written everything else. It holds what the trainer's
  own checkpoint lacks: how long metrics.jsonl was at that step, the callbacks' state (last logged metrics,
  held-out evaluation history and examples) and the trainer's running totals (`train_loss`, `num_tokens`).
  Markers are written after the files they vouch for are fsynced, so they hold after a power loss too.
- metrics.jsonl is append-only; on resume it is cut back to its length at the checkpoint (or at the start
  of the interrupted stage), so no record is duplicated and none of a completed stage is touched.

On resume, completed stages are loaded and skipped; the first incomplete stage continues from its newest
complete, resumable checkpoint (its other files are removed first) or restarts cleanly; later stages start.
With the same seed, machine and thread count, the final metrics equal those of an uninterrupted run.

Simplifications: a TRL checkpoint is resumable only at a logging step (TRL keeps the running loss and GRPO's
metric window in memory between logs), so `save_steps` must be a multiple of `logging_steps`; a checkpoint
taken where training was ending (max_steps, stop_at_accuracy) is not resumed from: the stage replays from
the checkpoint before it. Rewards that keep state of their own (random_reward) restart with the process.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import yaml
from transformers import TrainerCallback

from rlft.config import Recipe, load_recipe, to_dict
from rlft.models import ModelRef
from rlft.runfiles import read_json, read_yaml
from rlft.schema import ConfigError, join
from rlft.tracking import write_json

STATE_FILE = "rlft_state.json"
# Running totals TRL trainers keep in memory, not in their checkpoints: the loss sum behind `train_loss`,
# and the token count behind `num_tokens` (SFT, DPO, KTO, reward trainers).
TRAINER_COUNTERS = ("_total_loss_scalar", "_total_train_tokens")
MARKER = "summary.json"
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
STAGE_KEYS = {"algorithm": str, "wall_s": (int, float)}  # what the report reads from a stage's summary.json
STATE_KEYS = {"resumable": bool, "metrics_bytes": int, "last": dict}


# ---------------------------------------------------------------- the recipe


def changed_keys(old, new, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain-data trees.

    >>> changed_keys({"seed": 0, "stages": {"a": {"x": 1}}}, {"seed": 0, "stages": {"a": {"x": 2, "y": 3}}})
    ['stages.a.x', 'stages.a.y']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [k for k in new if k not in old]
        return [k for key in keys for k in changed_keys(old.get(key), new.get(key), join(prefix, key))]
    return [] if old == new else [prefix or "<recipe>"]


def plain(recipe: Recipe) -> dict:
    """The resolved recipe as config.yaml holds it (through YAML, so that both sides compare alike)."""
    return yaml.safe_load(yaml.safe_dump(to_dict(recipe), sort_keys=False))


def saved_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError("--resume", f"'{run_dir}' is not a run folder (it has no config.yaml)")
    return read_yaml(path, "the run's resolved recipe")


def recipe_for(run_dir: str | Path, recipe=None, overrides=None) -> Recipe:
    """The recipe a resumed run continues with: config.yaml, or the recipe given, which must equal it.
    Overrides that change anything are refused with the changed dotted keys."""
    run_dir = Path(run_dir)
    saved = saved_config(run_dir)
    if isinstance(recipe, Recipe):
        if overrides:
            raise ValueError("overrides apply to a recipe file or mapping; edit the Recipe object instead")
        loaded = recipe
    else:
        loaded = load_recipe(copy.deepcopy(saved) if recipe is None else recipe, overrides)  # overrides edit in place
    changed = changed_keys(saved, plain(loaded))
    if changed:
        old, new = saved, plain(loaded)
        shown = "; ".join(f"{k}: {lookup(old, k)!r} -> {lookup(new, k)!r}" for k in changed)
        raise ConfigError("--resume", f"the recipe differs from the one '{run_dir}' was started with "
                          f"(config.yaml) at {', '.join(changed)} ({shown}); resume with the same recipe "
                          "and overrides, or start a new run")  # fmt: skip
    return loaded


def lookup(tree, dotted: str):
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


# ---------------------------------------------------------------- stages


def is_complete(stage_dir: Path) -> bool:
    return (stage_dir / MARKER).is_file() and (stage_dir / "output.json").is_file()


def load_complete(stage_dir: Path) -> tuple[ModelRef, dict]:
    """A completed stage's output reference and summary, as the pipeline wrote them."""
    return ModelRef.load(stage_dir / "output.json"), read_json(stage_dir / MARKER, "the stage's summary", STAGE_KEYS)


def prepare(run_dir: Path, name: str, metrics_path: Path, kept_stages: list[str], use_checkpoint: bool,
            echo=print) -> tuple[Path | None, dict | None]:
    """Make an interrupted stage's folder ready to run again; returns (checkpoint, its state) or (None, None).

    With a resumable checkpoint, everything else in the folder goes (a half-saved model, newer partial
    checkpoints) and metrics.jsonl is cut back to its length at that checkpoint. Without one, the folder and
    the stage's records go. `kept_stages` are the completed stages whose records stay."""
    stage_dir = run_dir / name
    found = newest_checkpoint(stage_dir / "trainer") if use_checkpoint else None
    if found is None:
        if stage_dir.exists():
            echo(f"[{name}] interrupted before a usable checkpoint: restarting the stage")
            shutil.rmtree(stage_dir)
        truncate(metrics_path, stage_start(metrics_path, kept_stages))
        return None, None
    checkpoint, state = found
    for entry in stage_dir.iterdir():
        if entry.name != "trainer":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for entry in (stage_dir / "trainer").iterdir():  # newer or partial (.tmp) checkpoints
        step = step_of(entry)
        if entry.name.startswith("checkpoint-") and (step is None or step > step_of(checkpoint)):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    truncate(metrics_path, state["metrics_bytes"])
    echo(f"[{name}] resuming from {checkpoint.name}")
    return checkpoint, state


# ---------------------------------------------------------------- checkpoints


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


def sync(path: Path) -> None:
    """fsync a file, or every file under a folder: what a completion marker vouches for survives power loss."""
    if not path.exists():
        return
    for file in [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file()):
        with file.open("rb") as f:
            os.fsync(f.fileno())


# ---------------------------------------------------------------- metrics.jsonl


def stage_start(path: Path, kept_stages: list[str]) -> int:
    """Byte offset of the first record not of a kept stage (or of a torn last line)."""
    if not path.exists():
        return 0
    offset = 0
    with path.open("rb") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                return offset
            if not line.endswith(b"\n") or not isinstance(record, dict) or record.get("stage") not in kept_stages:
                return offset
            offset += len(line)
    return offset


def truncate(path: Path, size: int) -> None:
    """Cut metrics.jsonl back to `size` bytes (one system call: a crash leaves it whole, old or new)."""
    if not path.exists():
        return
    if path.stat().st_size < size:
        raise ConfigError("--resume", f"{path} is shorter than when the checkpoint was taken; was it edited?")
    os.truncate(path, size)
