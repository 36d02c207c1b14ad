"""The checks a stage's block must pass for its algorithm, run by rlft.runner.recipe before anything trains:
the options the algorithm's flags allow, its `env:` block, its `trainer:` and `lora:` blocks (by building the
TRL/peft configs) and its starting model's skeleton (rlft.stages.builds)."""

from __future__ import annotations

from rlft.core.config import AlarmSpec, CheckSpec, EvalSpec, Stage
from rlft.core.schema import ConfigError, join
from rlft.stages import ALGORITHMS, Algorithm, environment, having
from rlft.stages.builds import check_model
from rlft.stages.trainer_config import check_lora, check_trainer

# eval: keys that only generation reads; a reward model's evaluation ignores them, so they are refused there
GENERATION_ONLY = ("format", "num_samples", "pass_k", "temperature", "entropy", "kl", "num_examples", "batch_size")


def check_stage(algo: Algorithm, stage: Stage, key: str, recipe) -> None:
    """Field-level checks that depend on the algorithm (runs the TRL/peft config constructors and builds
    the trainer's optimizer and the starting model's skeleton, rlft.stages.builds)."""
    if stage.env is not None and not algo.environments:
        takes = ", ".join(a.name for a in ALGORITHMS.values() if a.environments)
        raise ConfigError(join(key, "env"), f"applies to {takes} stages, not '{algo.name}'")
    if algo.needs_rewards and not stage.rewards and stage.env is None:  # an environment may pay the reward
        raise ConfigError(join(key, "rewards"), f"algorithm '{algo.name}' needs at least one reward")
    if not algo.trains:
        for name in ("lora", "trainer"):
            if getattr(stage, name):
                raise ConfigError(join(key, name), f"is not used by algorithm '{algo.name}'; remove it")
        for name in ("every", "stop_at_accuracy", "stop_keep", "at_start"):
            if getattr(stage.eval, name) != getattr(EvalSpec(), name):
                raise ConfigError(join(key, f"eval.{name}"), f"applies to training stages, not '{algo.name}'")
    for name, default in (("alarms", AlarmSpec()), ("check", CheckSpec())):
        if getattr(stage, name) != default and not algo.rl:
            raise ConfigError(join(key, name), f"applies to {', '.join(having('rl'))} stages, not '{algo.name}'")
    if stage.env is not None:
        config_cls = algo.load().config_class() if algo.trains else None
        fields = config_cls.__dataclass_fields__ if config_cls else {}
        length = fields["max_completion_length"].default if "max_completion_length" in fields else None
        # TRL's trainers count tool results against max_completion_length; a config may say it does not
        environment.check(stage, key, length, algo.trains, getattr(config_cls, "counts_tool_results", True),
                          algo.imitates)
    if not algo.trains:
        check_model(recipe, stage, key, algo.trains, algo.head)
        return
    if algo.head == "reward":  # measured on held-out pairs (rlft.stages.reward_model), never by generating
        for name in GENERATION_ONLY:
            if getattr(stage.eval, name) != getattr(EvalSpec(), name):
                raise ConfigError(join(key, f"eval.{name}"), f"applies to stages that generate; a "
                                  f"'{algo.name}' stage is evaluated by pairwise accuracy on held-out pairs")
    if stage.eval.min_accuracy is not None and algo.head != "reward":
        raise ConfigError(join(key, "eval.min_accuracy"), f"applies to {', '.join(having('head', 'reward'))} "
                          "stages only")
    check_trainer(algo.load().config_class(), stage, key)
    check_lora(stage, key)
    check_model(recipe, stage, key, algo.trains, algo.head)


