"""The `reward_model` reward of a recipe: `{name: reward_model, kwargs: {...}}` with exactly one source, an
earlier `reward_model` stage (`from_stage`), a reward_models/ definition (`definition`; an ensemble when the
definition has `ensemble: k`) or a saved folder (`path`); `normalize`, `batch_size`, and for ensembles `combine`
(mean, min, uncertainty) and `uncertainty_weight` (rlft.rm.ensemble)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rlft.core import paths, userpaths
from rlft.core.schema import ConfigError, check_keys, join
from rlft.models import path_ref
from rlft.rm.ensemble import COMBINE, EnsembleReward
from rlft.rm.score import RewardModelReward

NAME = "reward_model"  # the reward's name in a recipe: `rewards: [{name: reward_model, kwargs: {...}}]`
SOURCES = ("from_stage", "definition", "path")
SPEC_KEYS = (*SOURCES, "normalize", "batch_size", "combine", "uncertainty_weight")
paths.REWARD_PATHS[NAME] = {"path": "folder", "definition": "yaml"}  # resolved against the recipe's folder


def is_reward_model(spec) -> bool:
    """Whether a reward spec (rlft.core.config.RewardSpec) names a trained reward model rather than a rule
    reward of rlft.rewards."""
    return spec.name == NAME


def check_spec(kwargs: dict, key: str, reward_stages: list[str]) -> None:
    """Validate `{name: reward_model, kwargs: {...}}`: exactly one of from_stage (one of `reward_stages`, the
    earlier stages that train a reward model), definition (loaded and checked by rlft.runner.recipe) or path
    (an existing folder)."""
    check_keys(kwargs, SPEC_KEYS, join(key, "kwargs"), "the reward_model reward")
    if sum(s in kwargs for s in SOURCES) != 1:
        raise ConfigError(join(key, "kwargs"), "set exactly one of from_stage, definition, path")
    if kwargs.get("combine", "mean") not in COMBINE:
        raise ConfigError(join(key, "kwargs.combine"), f"must be one of {', '.join(COMBINE)} (how an ensemble's "
                          f"members' scores combine), got {kwargs['combine']!r}")
    weight = kwargs.get("uncertainty_weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
        raise ConfigError(join(key, "kwargs.uncertainty_weight"), f"must be a number >= 0, got {weight!r}")
    if "from_stage" in kwargs:
        stage = kwargs["from_stage"]
        if stage not in reward_stages:
            raise ConfigError(
                join(key, "kwargs.from_stage"),
                f"'{stage}' is not an earlier reward_model stage (earlier ones: {', '.join(reward_stages) or 'none'})",
            )
    elif "path" in kwargs:
        userpaths.check_folder(kwargs["path"], join(key, "kwargs.path"), "reward model folder")


def build(kwargs: dict, outputs: dict, trained: Callable[[str], Path | list[Path]] | None = None):
    """The reward callable for a validated spec; `outputs` maps stage names to their ModelRef; `trained` gives
    the model folder of a reward_models/ definition (a list for an ensemble), trained first unless cached
    (rlft.runner.reward_models)."""
    if "definition" in kwargs:
        if trained is None:
            raise ValueError("a reward model definition needs the pipeline that trains it (rlft.run)")
        path = trained(kwargs["definition"])
        if isinstance(path, list):
            return EnsembleReward(path, kwargs.get("normalize", False), kwargs.get("batch_size", 64),
                                  kwargs.get("combine", "mean"), kwargs.get("uncertainty_weight", 1.0))
    else:
        path = outputs[kwargs["from_stage"]].base if "from_stage" in kwargs else path_ref(kwargs["path"]).base
    return RewardModelReward(path, kwargs.get("normalize", False), kwargs.get("batch_size", 64))

