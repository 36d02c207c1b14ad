"""Loading a recipe: its fields are built and checked by rlft.core.config; here come the checks that need the
registries (algorithms, tasks, rewards, reward models) and the TRL/peft config classes, so that `load_recipe`
(and `rlft validate`) refuse what a run would refuse, before anything trains. Reward-model definitions
(`reward_models/<name>.yaml`) load here too: a definition is a one-stage recipe checked the same way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rlft import data, rewards
from rlft.core import userpaths
from rlft.core.config import Recipe, RewardSpec, parse_recipe
from rlft.core.paths import beside, packaged, rewrite
from rlft.core.recipe_text import read_yaml
from rlft.core.schema import ConfigError, join, suggest
from rlft.rm import reward as rm
from rlft.stages import ALGORITHMS, Algorithm
from rlft.stages.validate import check_stage

DEFINITIONS_DIR = Path("reward_models")
DEFINITION_STAGE = "rm"  # the reward_model stage of a definition (its trained model is what recipes load)
MAX_MEMBERS = 16  # reward models of an ensemble definition (`ensemble: k`)
WARMUP_STAGE = "warmup"  # a definition's optional SFT of the reward model's base, before DEFINITION_STAGE


def load_recipe(source: str | Path | dict, overrides: dict[str, Any] | list[str] | None = None) -> Recipe:
    """Load, override and fully validate a recipe; raises ConfigError naming the file and dotted key."""
    return parse_recipe(source, overrides, check=check_recipe)


def rule_reward(spec: RewardSpec | None, key: str) -> None:
    """Verifiers and format judges are rule rewards: a reward model cannot decide `accuracy`."""
    if spec is not None and rm.is_reward_model(spec):
        raise ConfigError(join(key, "name"), "must be a rule reward, not a reward model")


def check_recipe(recipe: Recipe) -> None:
    """The checks that need the registries (algorithms, tasks, rewards) and the TRL/peft config classes."""
    if recipe.data is not None:
        rule_reward(recipe.data.verifier, "data.verifier")
    seen: dict[str, Algorithm] = {}  # earlier stages
    for name, stage in recipe.stages.items():
        key = join("stages", name)
        algo = ALGORITHMS.get(stage.algorithm)
        if algo is None:
            raise ConfigError(
                join(key, "algorithm"),
                f"unknown algorithm '{stage.algorithm}'{suggest(stage.algorithm, ALGORITHMS)}; "
                f"allowed: {', '.join(ALGORITHMS)}",
            )
        if stage.data is not None:
            rule_reward(stage.data.verifier, join(key, "data.verifier"))
        for judge in ("verifier", "format"):
            rule_reward(getattr(stage.eval, judge), join(key, f"eval.{judge}"))
        if stage.model.from_stage is not None and stage.model.from_stage not in seen:
            where = f"earlier stages: {', '.join(seen)}" if seen else "it is the first stage"
            raise ConfigError(
                join(key, "model.from_stage"), f"'{stage.model.from_stage}' names no earlier stage ({where})"
            )
        check_stage(algo, stage, key, recipe)
        source = seen.get(str(stage.model.from_stage))
        if stage.eval.kl and not algo.trains and not (source is not None and source.trains):
            raise ConfigError(join(key, "eval.kl"), "in an eval stage needs model.from_stage naming a training stage "
                              "(KL is measured to the model that stage started from)")
        reads_data = not recipe.rows_from_env(name)  # environments generate their own rows
        if reads_data:
            data_key = join(key, "data") if stage.data else "data"
            spec = recipe.stage_data(name)
            columns = data.check(spec, data_key, algo.data, held_out=not algo.trains, seed=recipe.seed)
            # policy_pairs in the recipe's shared data applies to the stages that can use it; in a stage's own
            # data it must belong to such a stage
            if stage.data and stage.data.policy_pairs and not algo.policy_pairs:
                raise ConfigError(join(data_key, "policy_pairs"), f"applies to "
                                  f"{', '.join(a.name for a in ALGORITHMS.values() if a.policy_pairs)} stages, "
                                  f"not '{stage.algorithm}'")  # fmt: skip
            if algo.policy_pairs and spec.policy_pairs and not stage.rewards:
                raise ConfigError(join(key, "rewards"), "policy_pairs ranks samples with the stage's rewards: add some")
        names: dict[str, str] = {}  # rewards/<name>/mean must not be shared by two rewards of a stage
        used = []  # (key, name, reward) of the rule rewards, checked against the columns of the data below
        for i, spec_i in enumerate(stage.rewards):
            at = join(join(key, "rewards"), i)
            if rm.is_reward_model(spec_i):
                rm.check_spec(spec_i.kwargs, at, [n for n, a in seen.items() if a.head == "reward"])
                members = ["one"]
                if "definition" in spec_i.kwargs:
                    name_at = join(at, "kwargs.definition")
                    members = member_stages(load_definition(spec_i.kwargs["definition"], recipe.seed, name_at))
                for option in ("combine", "uncertainty_weight"):
                    if option in spec_i.kwargs and len(members) == 1:
                        raise ConfigError(join(at, f"kwargs.{option}"), "applies to an ensemble: a reward_models/ "
                                          "definition with `ensemble: k` (k reward models whose scores combine)")
                rewards.check_timeout(spec_i, at)
                rewards.claim(names, rm.NAME, join(at, "name"), f"'{rm.NAME}'")
            else:
                used.append((at, spec_i.name, rewards.check(spec_i, at, names)))
        judges = {}  # the verifier in effect (eval.verifier, else data.verifier, else the task's) and eval.format
        generated = reads_data and (spec.task is not None or spec.reasoning_gym is not None)  # with their verifier
        if reads_data and (spec.verifier is not None or generated):
            at = join(data_key, "verifier" if spec.verifier is not None else "task" if spec.task is not None
                      else "reasoning_gym")
            verifier = data.verifier_spec(spec)
            judges["verifier"] = (at, verifier.name, rewards.check(verifier, at, timed=False))
        for judge in ("verifier", "format"):  # eval.verifier / eval.format: rule rewards, resolved like rewards
            if (judge_spec := getattr(stage.eval, judge)) is not None:
                at = join(key, f"eval.{judge}")
                judges[judge] = (at, judge_spec.name, rewards.check(judge_spec, at, timed=False))
        if reads_data:
            data.check_stage_reads(columns, used, list(judges.values()), evaluates=not algo.trains or
                                   bool(stage.eval.every), trains=algo.needs_rewards or bool(spec.policy_pairs))
        seen[name] = algo


def report_to_overrides(source: str | Path | dict, overrides: list[str], trackers: str) -> list[str]:
    """`rlft run --report-to tensorboard,trackio`: one override `stages.<name>.trainer.report_to=[...]` per stage
    that trains (the registry's `trains` flag), checked by `load_recipe` like any override.

    >>> report_to_overrides({"stages": {"s": {"algorithm": "sft", "model": "m"}, "e": {"algorithm": "eval",
    ...                      "model": {"from_stage": "s"}}}}, [], "tensorboard, trackio")
    ['stages.s.trainer.report_to=[tensorboard, trackio]']
    """
    names = [t.strip() for t in trackers.split(",") if t.strip()]
    if not names:
        raise ConfigError("--report-to", "name at least one tracker, e.g. --report-to tensorboard (or tensorboard,"
                          "trackio)")
    stages = [n for n, s in parse_recipe(source, overrides).stages.items()
              if s.algorithm in ALGORITHMS and ALGORITHMS[s.algorithm].trains]  # fmt: skip
    if not stages:
        raise ConfigError("--report-to", "applies to training stages; this recipe has none")
    return [f"stages.{name}.trainer.report_to=[{', '.join(names)}]" for name in stages]


# ---------------------------------------------------------------- reward-model definitions


def member_stages(definition: Recipe) -> list[str]:
    """The stages of a loaded definition whose models are its reward models (one, or an ensemble's members)."""
    return [name for name, stage in definition.stages.items() if ALGORITHMS[stage.algorithm].head == "reward"]


def definition_path(name: str) -> Path:
    """`arithmetic_bt` -> reward_models/arithmetic_bt.yaml in the working directory, else rlft's own
    reward_models/ (rlft.core.paths.packaged); a path to a .yaml file is taken as is (in a recipe file it is
    relative to the recipe, rlft.core.paths)."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    local = DEFINITIONS_DIR / f"{name}.yaml"
    shipped = [folder / f"{name}.yaml" for folder in packaged("reward_models")]
    return next((p for p in [local, *shipped] if p.is_file()), local)


def load_definition(name: str, seed: int, key: str = "") -> Recipe:
    """A reward-model definition as a validated Recipe: its `reward_model` stage, after an SFT stage of the
    reward model's base when the definition has a `warmup:` block; errors name the definition file and its key
    (`key`: where the recipe names the definition, for a file that is missing or cannot be read).

    A definition holds what a `reward_model` stage holds (model, data, lora, trainer, eval), a description, and
    optionally `num_threads`, `warmup:` (an `sft` stage's keys: model, trainer, eval, lora), which makes the
    reward model start from that SFT, and `ensemble: k`, k reward models trained alike on different data orders
    (stages rm, rm1, ...; rlft.rm.ensemble combines their scores). rlft.runner.reward_models.trained_path
    trains the whole definition once and caches it, so the second run of any recipe that uses it skips it all."""
    path = definition_path(name)
    if not path.is_file() and userpaths.missing(path) == "does not exist":
        known = sorted({p.stem for d in [DEFINITIONS_DIR, *packaged("reward_models")] for p in d.glob("*.yaml")})
        raise ConfigError(key, f"reward model definition '{path}' does not exist (known: {', '.join(known) or 'none'})")
    userpaths.check_file(path, key, "reward model definition", "give a .yaml file")
    raw = read_yaml(path)
    head = {"description": raw.pop("description", ""), "data": raw.pop("data", None)}
    if "num_threads" in raw:
        head["num_threads"] = raw.pop("num_threads")
    stages = {}
    if "warmup" in raw:
        warmup = raw.pop("warmup")
        if not isinstance(warmup, dict):
            raise ConfigError("warmup", "must be a mapping: the keys of an sft stage (model, trainer, eval, lora)",
                              str(path))
        if "model" in raw:
            raise ConfigError("model", "the reward model starts from its warm-up's model: give the model in "
                              "warmup: and remove it here", str(path))  # fmt: skip
        stages[WARMUP_STAGE] = {"algorithm": "sft", **warmup}
        raw["model"] = {"from_stage": WARMUP_STAGE}
    members = raw.pop("ensemble", 1)
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS:
        raise ConfigError("ensemble", f"must be a whole number of members from 1 to {MAX_MEMBERS}, got {members!r}",
                          str(path))
    stages[DEFINITION_STAGE] = {"algorithm": "reward_model", **raw}
    trainer = raw.get("trainer") or {}
    for i in range(1, members):  # the same training on another data order (and seed) per member
        base = trainer.get("seed", seed) if isinstance(trainer, dict) else seed
        order = {"seed": base + i, "data_seed": base + i}
        stages[f"{DEFINITION_STAGE}{i}"] = {"algorithm": "reward_model", **raw,
                                             "trainer": {**trainer, **order} if isinstance(trainer, dict) else trainer}
    recipe = {"name": f"rm-{path.stem}", **head, "seed": seed, "stages": stages}
    try:
        return load_recipe(rewrite(recipe, beside(path.parent)))  # its paths are relative to the definition file
    except ConfigError as e:
        key = re.sub(rf"^stages\.{DEFINITION_STAGE}\d*\.?", "", e.key).replace(f"stages.{WARMUP_STAGE}", "warmup", 1)
        raise ConfigError(key, e.message, str(path)) from None


def recipe_rows(recipe: str, stage: str | None = None, n: int = 32) -> list[dict]:
    """The first n training rows (as dicts) of a recipe stage's data; by default the first stage that has
    rewards."""
    loaded = load_recipe(recipe)
    if stage is None:
        stage = next((name for name, s in loaded.stages.items() if s.rewards), next(iter(loaded.stages)))
    elif stage not in loaded.stages:
        raise ConfigError("stage", f"recipe '{recipe}' has no stage '{stage}'; stages: {', '.join(loaded.stages)}")
    key = f"stages.{stage}.data" if loaded.stages[stage].data else "data"
    train, _ = data.load_splits(loaded.stage_data(stage), loaded.seed, key, "prompt")
    return train.select(range(min(n, len(train)))).to_list()

