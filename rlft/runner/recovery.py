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
import shutil
from pathlib import Path

import yaml

from rlft.core.config import Recipe, to_dict
from rlft.core.runfiles import read_json, read_yaml
from rlft.core.schema import ConfigError, join
from rlft.models import ModelRef
from rlft.runner.recipe import load_recipe
from rlft.stages.checkpoints import newest_checkpoint, step_of

MARKER = "summary.json"
STAGE_KEYS = {"algorithm": str, "wall_s": (int, float)}  # what the report reads from a stage's summary.json


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
