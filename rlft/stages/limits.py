"""Allowed ranges of the `trainer:` and `lora:` fields a recipe sets most.

TRL's and peft's config dataclasses accept a batch size of 0, a negative learning rate, `max_steps: 0`, a
sampling temperature of 0 or a LoRA rank of 0, and then fail deep inside training (GRPOConfig even divides
by zero while it is built). These are refused when the recipe is loaded, with the dotted key, the value and
the range. Only fields the config class has are checked, so one table serves every algorithm.
"""

from __future__ import annotations

import dataclasses
import math
import os

from rlft.core.schema import ConfigError, join

# field -> (lowest, lowest allowed itself?, highest or None, what the field is, for the message)
TRAINER_LIMITS = {
    "per_device_train_batch_size": (1, True, None, "rows per device per step"),
    "per_device_eval_batch_size": (1, True, None, "rows per device per evaluation step"),
    "gradient_accumulation_steps": (1, True, None, "micro-batches per optimizer step"),
    "num_generations": (2, True, None, "completions per prompt: a group needs two to compare"),
    "generation_batch_size": (1, True, None, "completions per generation round"),
    "steps_per_generation": (1, True, None, "optimizer steps per generation round"),
    "num_iterations": (1, True, None, "updates per generation round"),
    "max_completion_length": (1, True, None, "tokens generated per completion"),
    "max_prompt_length": (1, True, None, "prompt tokens kept"),
    "max_length": (1, True, None, "tokens per training sequence"),
    "num_train_epochs": (0, False, None, "passes over the data"),
    "num_ppo_epochs": (1, True, None, "passes over each rollout batch"),
    "num_mini_batches": (1, True, None, "minibatches per pass"),
    "learning_rate": (0, True, None, "the optimizer's step size"),
    "weight_decay": (0, True, None, "decoupled weight decay"),
    "max_grad_norm": (0, True, None, "gradient clipping norm (0: off)"),
    "warmup_steps": (0, True, None, "warm-up steps"),
    "beta": (0, True, None, "the KL (or DPO) coefficient"),
    "temperature": (0, False, None, "the sampling temperature"),
    "top_p": (0, False, 1, "nucleus sampling mass"),
    "save_steps": (1, True, None, "steps between checkpoints"),
    "eval_steps": (1, True, None, "steps between evaluations"),
}
LORA_LIMITS = {
    "r": (1, True, None, "the LoRA rank"),
    "lora_alpha": (0, False, None, "the LoRA scale numerator"),
    "lora_dropout": (0, True, 1, "dropout on the LoRA input"),
}


def check_limits(values: dict, limits: dict, fields: set[str], key: str) -> None:
    """Refuse a number in `values` outside its range in `limits` (fields the config class lacks are skipped;
    their unknown-key error comes from elsewhere). `max_steps` is -1 (train by epochs) or at least 1."""
    steps = values.get("max_steps")
    if "max_steps" in fields and type(steps) is int and steps != -1 and steps < 1:
        raise ConfigError(join(key, "max_steps"), f"must be >= 1 (or -1: train for num_train_epochs), got {steps}")
    for name, (low, inclusive, high, what) in limits.items():
        value = values.get(name)
        if name not in fields or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        too_low = value < low or (value == low and not inclusive) or math.isnan(value)
        too_high = high is not None and value > high
        if too_low or too_high:
            lower = f"{'>=' if inclusive else '>'} {low}"
            allowed = f"{lower} and <= {high}" if high is not None else lower
            raise ConfigError(join(key, name), f"must be {allowed} ({what}), got {value!r}")


def check_groups(config_cls: type, values: dict, key: str) -> None:
    """GRPO and RLOO split each generation round into groups of `num_generations` completions of one prompt,
    so `num_generations` must divide the round's size. TRL says so about `generation_batch_size`, a number
    the recipe usually does not set; this names the fields it comes from and the values that would work."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}
    if "num_generations" not in defaults:
        return

    def get(name):
        return values.get(name, defaults.get(name))

    n = get("num_generations")
    if type(n) is not int or n < 2 or get("generation_batch_size") is not None:
        return  # check_limits speaks about n; TRL's own message names a generation_batch_size the recipe set
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batch = get("per_device_train_batch_size")
    steps = get("steps_per_generation") or get("gradient_accumulation_steps")
    if type(batch) is not int or type(steps) is not int:
        return
    size = batch * steps * world
    if size % n:
        how = f"per_device_train_batch_size {batch} x steps_per_generation {steps}"
        how += f" x {world} processes" if world > 1 else ""
        fits = ", ".join(str(d) for d in range(2, size + 1) if size % d == 0) or "none: make the batch >= 2"
        raise ConfigError(join(key, "num_generations"), f"must divide the {size} completions of a generation round "
                          f"({how}), got {n}; allowed: {fits}")  # fmt: skip
