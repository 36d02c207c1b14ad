"""A stage's TRL config: device-safe defaults under the recipe's `trainer:` block, and the checks that refuse a
`trainer:` or `lora:` block before a run (unknown keys, wrong types, values the config classes or rlft's limits
refuse, and what the built config implies: optimizer, trackers, evaluation schedule)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from rlft.core.config import Stage
from rlft.core.schema import ConfigError, check_keys, check_seed, convert, join
from rlft.models import lora_config
from rlft.stages.builds import check_built
from rlft.stages.checkpoints import check_checkpointing
from rlft.stages.limits import LORA_LIMITS, TRAINER_LIMITS, check_groups, check_limits


def device_defaults(trainer: dict) -> dict:
    """TRL configs default to bf16 and gradient checkpointing, which fail or waste time on a CPU; on a GPU
    checkpointing stays on under its current name (`gradient_checkpointing` is a deprecated alias)."""
    cuda = torch.cuda.is_available()
    defaults = {"bf16": cuda and torch.cuda.is_bf16_supported(), "use_cpu": not cuda}
    if "gradient_checkpointing" not in trainer:
        defaults["activation_checkpointing"] = cuda
    return defaults


def check_trainer(config_cls: type, stage: Stage, key: str) -> None:
    """Reject `trainer:` keys the TRL config class does not have, and values its own checks refuse."""
    allowed = {f.name for f in dataclasses.fields(config_cls) if f.init}
    check_keys(stage.trainer, allowed, join(key, "trainer"), config_cls.__name__)
    check_value_types(config_cls, stage.trainer, join(key, "trainer"))
    for name in ("seed", "data_seed"):
        check_seed(stage.trainer.get(name), join(join(key, "trainer"), name))
    check_limits(stage.trainer, TRAINER_LIMITS, allowed, join(key, "trainer"))
    check_groups(config_cls, stage.trainer, join(key, "trainer"))
    check_checkpointing(config_cls, stage, key)
    for managed in ("output_dir",):
        if managed in stage.trainer:
            raise ConfigError(join(join(key, "trainer"), managed), "is set by rlft (the stage's folder in the run)")
    try:
        args = make_trainer_config(config_cls, stage, Path("/tmp/rlft-validate"), seed=0)
    except ConfigError as e:  # rlft's own config classes (PPOConfig) name the field: give it its full dotted key
        raise ConfigError(join(join(key, "trainer"), e.key), e.message) from None
    except (ValueError, TypeError, ArithmeticError) as e:  # GRPOConfig divides by some of these values
        raise ConfigError(join(key, "trainer"), f"{config_cls.__name__} refuses these settings: {e}") from None
    check_built(args, join(key, "trainer"))  # the optimizer, trackers and evaluation schedule it implies


SIMPLE_TYPES = (int, float, bool, str, type(None))


def check_value_types(cls: type, values: dict, key: str, lists: bool = False) -> None:
    """Type-check values whose dataclass annotation is made of int/float/bool/str/None/Literal, and with
    `lists` lists of those (dataclasses do not check types themselves: `max_steps: "ten"` or `target_modules: 5`
    would otherwise fail deep inside training). TRL's configs take a scalar for some fields typed as lists
    (online DPO's `beta`), so lists are checked for peft's LoraConfig only."""
    import types
    import typing

    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: skip the type check, keep the key check
        return

    def simple(tp) -> bool:
        return tp in SIMPLE_TYPES or typing.get_origin(tp) is typing.Literal

    for name, value in values.items():
        tp = hints.get(name)
        members = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
        if tp is not None and all(simple(m) or (lists and typing.get_origin(m) is list
                                                and all(map(simple, typing.get_args(m)))) for m in members):
            convert(value, tp, join(key, name))


def check_lora(stage: Stage, key: str) -> None:
    if stage.lora is None:
        return
    from peft import LoraConfig

    allowed = {f.name for f in dataclasses.fields(LoraConfig) if f.init}
    check_keys(stage.lora, allowed, join(key, "lora"), "LoraConfig")
    check_value_types(LoraConfig, stage.lora, join(key, "lora"), lists=True)
    check_limits(stage.lora, LORA_LIMITS, allowed, join(key, "lora"))
    try:
        lora_config(stage.lora)
    except (ValueError, TypeError) as e:
        raise ConfigError(join(key, "lora"), f"LoraConfig refuses these settings: {e}") from None


def make_trainer_config(config_cls: type, stage: Stage, out_dir: Path, seed: int, **defaults):
    """The TRL config: device-safe defaults, then the stage's defaults, then the recipe's `trainer:` block."""
    args = {
        "output_dir": str(out_dir),
        "seed": seed,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 10,
        "disable_tqdm": True,
        **device_defaults(stage.trainer),
        **defaults,
        **stage.trainer,
    }
    return config_cls(**args)

