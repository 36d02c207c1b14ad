"""The recipe schema: YAML -> typed `Recipe`, with dotted overrides and every check done before a run starts.

A recipe is an ordered mapping of named stages. YAML keys equal the dataclass field names below; a stage's
`trainer:` block is checked against the TRL config class of its algorithm and `lora:` against peft's
`LoraConfig`, so a typo fails at load time with the dotted key, never deep inside a library.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from rlft.core import paths, threads, userpaths
from rlft.core.expect import ExpectSpec
from rlft.core.reasoning_gym_spec import ReasoningGymSpec
from rlft.core.recipe_text import apply_overrides, parse_override, read_yaml
from rlft.core.schema import ConfigError, build, check_seed, join, positive

DEFAULT_MAX_TURNS = 10  # turns of an episode when `env: {max_turns: ...}` does not say (rlft.envs)
STAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
RUN_NAME = re.compile(r"^(?!.*\.\.)\w[\w .-]{0,99}$")  # one path component under output_dir


@dataclass
class TinyModel:
    """A small Llama built from scratch with a character-level tokenizer (offline, seconds to build)."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int | None = None  # default 4 * hidden_size
    max_position_embeddings: int = 128
    # "plain": short single-token roles; for stages with `env:`, "tool_calling": Qwen's turns and tool-call
    # format with one line per tool (short prompts), or "qwen2_5": TRL's Qwen2.5 template as it is.
    chat_template: Literal["plain", "tool_calling", "qwen2_5"] = "plain"

    def validate(self, key: str) -> None:
        for name in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "max_position_embeddings"):
            positive(getattr(self, name), join(key, name))
        positive(self.intermediate_size, join(key, "intermediate_size"))
        if self.hidden_size % self.num_heads:
            raise ConfigError(join(key, "num_heads"), f"must divide hidden_size ({self.hidden_size})")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(join(key, "num_kv_heads"), f"must divide num_heads ({self.num_heads})")


@dataclass
class ModelSpec:
    """Where a stage's starting model comes from: exactly one of `path`, `tiny` or `from_stage`."""

    path: str | None = None  # local folder or hub id, loaded with from_pretrained
    tiny: TinyModel | None = None
    from_stage: str | None = None
    merge_adapter: bool = True  # when the source is a LoRA adapter: merge it, or keep training it
    tokenizer: str | None = None  # defaults to the model's own
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    trust_remote_code: bool = False

    shorthand: ClassVar[str] = "path"

    def validate(self, key: str) -> None:
        given = [n for n in ("path", "tiny", "from_stage") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ConfigError(key, f"set exactly one of path, tiny, from_stage (got {', '.join(given) or 'none'})")
        if self.path is not None:
            check_model_path(self.path, join(key, "path"))
        if self.tokenizer is not None:
            check_model_path(self.tokenizer, join(key, "tokenizer"), "tokenizer")


def check_model_path(path: str, key: str, what: str = "model") -> None:
    """A path that exists is a local model or a finished run's stage folder (its output.json names the model);
    one that looks local (./, /, ~, ..) but is absent is an error; anything else is taken as a hub id and
    resolved by from_pretrained at load time."""
    if paths.stage_output(path, key) is not None:
        return
    if os.path.lexists(Path(path).expanduser()):  # there, if only as a link: it must lead to a readable folder
        userpaths.check_folder(path, key, f"{what} folder")
        return
    if path.startswith((".", "/", "~")) or path.count("/") > 1 or path.endswith("/"):
        raise ConfigError(key, f"{what} folder '{path}' does not exist (give a local folder or a hub id like Org/name)")


@dataclass
class DataSpec:
    """A built-in task (`task` + `kwargs`), reasoning-gym tasks (`reasoning_gym`), local files (`path`, optional
    `eval_path`) or a dataset from the hub (`hub`, optional `config`, `split`, `eval_split`, `columns`)."""

    task: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    reasoning_gym: ReasoningGymSpec | None = None  # rows from the reasoning-gym library (rlft.data.reasoning_gym)
    path: str | None = None
    eval_path: str | None = None
    hub: str | None = None  # a hub id (or a local copy of a dataset repository), read by datasets.load_dataset
    config: str | None = None  # hub: the dataset's configuration (load_dataset's `name`), e.g. main for openai/gsm8k
    split: str | None = None  # hub: the training split (default train)
    eval_split: str | None = None  # hub: the held-out split (without it, eval_size rows are split off `split`)
    columns: dict[str, str] = field(default_factory=dict)  # hub: its column -> rlft's ({question: prompt})
    train_size: int | None = None  # task: problems generated (default 5000); file: cap on rows (default all)
    eval_size: int | None = None  # held-out rows (task default 200; file without eval_path: split off)
    seed: int | None = None  # defaults to the recipe seed
    label_noise: float = 0.0  # preference data from a task: fraction of pairs (or KTO labels) flipped
    policy_pairs: int = 0  # dpo: > 0 ranks this many samples of the starting model per prompt (best vs worst)
    verifier: RewardSpec | None = None  # judges held-out accuracy in every stage (eval.verifier wins)

    def validate(self, key: str) -> None:
        if self.policy_pairs == 1 or self.policy_pairs < 0:
            raise ConfigError(join(key, "policy_pairs"), f"must be 0 (off) or >= 2 samples, got {self.policy_pairs}")
        if not 0 <= self.label_noise <= 1:
            raise ConfigError(join(key, "label_noise"), f"must be in [0, 1], got {self.label_noise}")
        if [self.task, self.reasoning_gym, self.path, self.hub].count(None) != 3:
            raise ConfigError(key, "set exactly one of task, reasoning_gym, path, hub")
        if self.reasoning_gym is not None and self.kwargs:
            raise ConfigError(join(key, "kwargs"), "are a built-in task's; a reasoning-gym task takes its settings "
                              "in reasoning_gym.config")  # fmt: skip
        if self.eval_path is not None and self.path is None:
            raise ConfigError(join(key, "eval_path"), "needs path (a task makes its own held-out split)")
        for name in ("config", "split", "eval_split", "columns"):
            if getattr(self, name) and self.hub is None:
                raise ConfigError(join(key, name), "applies to a dataset from the hub (data.hub)")
        targets = list(self.columns.values())
        for column, target in self.columns.items():
            if targets.count(target) > 1:
                raise ConfigError(join(join(key, "columns"), column), f"'{target}' is the target of several columns")
        positive(self.train_size, join(key, "train_size"))
        check_seed(self.seed, join(key, "seed"))
        positive(self.eval_size, join(key, "eval_size"), allow_zero=True)
        for name in ("path", "eval_path"):
            value = getattr(self, name)
            if value is not None:
                userpaths.check_file(value, join(key, name), "data file", "give a .jsonl, .json, .csv or .parquet "
                                     "file")


@dataclass
class RewardSpec:
    """One reward function: a built-in name or `package.module:function` / `file.py:function`, its weight,
    keyword arguments for a factory, and a time limit per call in seconds (None: none)."""

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)
    reasoning_gym: ReasoningGymSpec | None = None  # rows from the reasoning-gym library (rlft.data.reasoning_gym)
    timeout: float | None = None

    shorthand: ClassVar[str] = "name"


@dataclass
class EvalSpec:
    """Greedy generation on the held-out split: used by the `eval` stage and, with `every`, during training."""

    every: int = 0  # training stages: evaluate every N optimizer steps (0: never during training)
    size: int | None = None  # held-out prompts used (default: the whole eval split)
    max_new_tokens: int = 16
    batch_size: int = 64
    num_examples: int = 3  # sample completions kept in the summary
    stop_at_accuracy: float | None = None  # training stages: stop once held-out accuracy reaches this
    stop_keep: Literal["reached", "below", "closest"] = "reached"  # the model kept then (stages/early_stop.py)
    min_accuracy: float | None = None  # reward_model stages: stop the run if held-out pairwise accuracy is lower
    verifier: RewardSpec | None = None  # judges `accuracy` and `pass@k` (default: the task's verifier)
    format: RewardSpec | None = None  # `format_compliance`: fraction of completions this reward scores >= 1
    num_samples: int = 0  # > 0: sample n completions per prompt for pass@k (costs n x the generation)
    pass_k: list[int] = field(default_factory=list)  # ks of pass@k (default [1, num_samples])
    temperature: float = 1.0  # sampling temperature of the pass@k samples
    entropy: bool = False  # per-token entropy along the greedy completions (one extra forward pass)
    kl: bool = False  # KL (k1) to the stage's starting model on the greedy completions (a second model)
    at_start: bool = False  # training stages: also evaluate before the first step (a baseline for alarms)

    def validate(self, key: str) -> None:
        positive(self.every, join(key, "every"), allow_zero=True)
        positive(self.size, join(key, "size"))
        positive(self.max_new_tokens, join(key, "max_new_tokens"))
        positive(self.batch_size, join(key, "batch_size"))
        positive(self.num_examples, join(key, "num_examples"), allow_zero=True)
        positive(self.num_samples, join(key, "num_samples"), allow_zero=True)
        positive(self.temperature, join(key, "temperature"))
        if self.pass_k and not self.num_samples:
            raise ConfigError(join(key, "pass_k"), "needs num_samples > 0 (the samples pass@k is estimated from)")
        for i, k in enumerate(self.pass_k):
            if not 1 <= k <= self.num_samples:
                raise ConfigError(join(join(key, "pass_k"), i), f"must be in [1, num_samples={self.num_samples}]")
        if self.min_accuracy is not None and not 0 <= self.min_accuracy <= 1:
            raise ConfigError(join(key, "min_accuracy"), f"must be in [0, 1], got {self.min_accuracy}")
        if self.stop_at_accuracy is not None:
            if not 0 < self.stop_at_accuracy <= 1:
                raise ConfigError(join(key, "stop_at_accuracy"), f"must be in (0, 1], got {self.stop_at_accuracy}")
            if not self.every:
                raise ConfigError(join(key, "stop_at_accuracy"), "needs every > 0 (how often to evaluate)")
        elif self.stop_keep != "reached":
            raise ConfigError(join(key, "stop_keep"), "needs stop_at_accuracy (the target it keeps a model near)")
        if self.at_start and not self.every:
            raise ConfigError(join(key, "at_start"), "needs every > 0 (evaluation during training)")

    @property
    def ks(self) -> list[int]:
        """The k of each logged pass@k: `pass_k`, by default 1 and num_samples; none without samples."""
        return sorted(set(self.pass_k)) if self.pass_k else sorted({1, self.num_samples}) if self.num_samples else []


@dataclass
class EnvironmentSpec:
    """A stage's multi-turn environment (rlft.envs; docs/environments.md): a built-in by name or a class as
    `package.module:Class` / `file.py:Class`, its `rows` kwargs and turn budget. Without `data:`, the stage's
    rows come from the environment: `train_size` episodes from the data seed, `eval_size` from the next."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    reasoning_gym: ReasoningGymSpec | None = None  # rows from the reasoning-gym library (rlft.data.reasoning_gym)
    max_turns: int = DEFAULT_MAX_TURNS
    tools: list[str] | None = None  # the class's tools the model gets (default all): remove one as an ablation
    reward: bool = True  # get_reward() is a training reward; false: the stage's rewards only (a control run)
    train_size: int = 1000
    eval_size: int = 100
    seed: int | None = None  # defaults to the recipe seed

    shorthand: ClassVar[str] = "name"

    def validate(self, key: str) -> None:
        positive(self.max_turns, join(key, "max_turns"))
        positive(self.train_size, join(key, "train_size"))
        positive(self.eval_size, join(key, "eval_size"), allow_zero=True)


@dataclass
class AlarmSpec:
    """Reward-hacking alarms, checked after a training stage on its logged metrics: warnings on the console,
    in summary.json (`stages.X.alarms`) and in report.md (rlft.eval.alarms; docs/evaluation.md)."""

    enabled: bool = True
    reward_rise: float = 0.05  # train reward rose by at least this (mean of the last vs the first third) ...
    accuracy_drop: float = 0.05  # ... while held-out accuracy fell by at least this (first vs last evaluation)
    clipped_ratio: float = 0.5  # completions cut at the length limit (latest train or eval value) >= this
    entropy_drop: float = 0.5  # entropy fell by at least this fraction of its first logged value

    def validate(self, key: str) -> None:
        positive(self.reward_rise, join(key, "reward_rise"), allow_zero=True)
        positive(self.accuracy_drop, join(key, "accuracy_drop"), allow_zero=True)
        for name in ("clipped_ratio", "entropy_drop"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(join(key, name), f"must be in (0, 1], got {getattr(self, name)}")


@dataclass
class CheckSpec:
    """Pre-run check of an RL stage's starting model (`rlft check RECIPE` runs it any time): k samples per
    prompt on a slice of the training data, scored by the stage's rewards and the verifier (rlft.eval.precheck)."""

    enabled: bool = False  # run it at the start of the stage and warn
    require_signal: bool = False  # also stop the run when the model cannot learn (implies enabled)
    prompts: int = 32  # training prompts sampled
    k: int | None = None  # samples per prompt (default: the trainer's num_generations, else 8)
    max_zero_variance: float = 0.9  # more groups than this fraction with one reward for all: no signal

    def validate(self, key: str) -> None:
        positive(self.prompts, join(key, "prompts"))
        if self.k is not None and self.k < 2:
            raise ConfigError(join(key, "k"), f"must be >= 2 (a group needs two samples to vary), got {self.k}")
        if not 0 <= self.max_zero_variance <= 1:
            raise ConfigError(join(key, "max_zero_variance"), f"must be in [0, 1], got {self.max_zero_variance}")


@dataclass
class Stage:
    """One step of a pipeline: an algorithm applied to a model and data, leaving a model or metrics."""

    algorithm: str
    model: ModelSpec
    data: DataSpec | None = None  # defaults to the recipe's `data`
    rewards: list[RewardSpec] = field(default_factory=list)
    lora: dict[str, Any] | None = None  # peft LoraConfig fields; absent = full fine-tuning
    trainer: dict[str, Any] = field(default_factory=dict)  # fields of the algorithm's TRL config class
    eval: EvalSpec = field(default_factory=EvalSpec)
    alarms: AlarmSpec = field(default_factory=AlarmSpec)  # training stages: reward-hacking warnings
    check: CheckSpec = field(default_factory=CheckSpec)  # grpo, rloo, ppo, online_dpo: pre-run check
    env: EnvironmentSpec | None = None  # a multi-turn environment the model plays through tool calls


@dataclass
class Recipe:
    """A named, seeded pipeline of stages run in order."""

    stages: dict[str, Stage]
    name: str | None = None  # defaults to the file name
    description: str = ""
    seed: int = 0
    data: DataSpec | None = None  # default data for stages without their own
    num_threads: int | None = None  # torch intra-op threads (default: torch's choice)
    output_dir: str = "runs"
    expect: ExpectSpec | None = None  # the result promised over seeds, checked by `rlft verify` (core/expect.py)

    def validate(self, key: str) -> None:
        if not self.stages:
            raise ConfigError("stages", "a recipe needs at least one stage")
        if self.expect is not None and self.expect.gain_over is not None and self.expect.gain_over not in self.stages:
            raise ConfigError("expect.gain_over", f"'{self.expect.gain_over}' names no stage of this recipe "
                              f"(stages: {', '.join(self.stages)})")
        positive(self.num_threads, "num_threads")
        threads.check_threads(self.num_threads, "num_threads")
        check_seed(self.seed, "seed")
        if self.name is not None and not RUN_NAME.match(self.name):
            raise ConfigError("name", f"{self.name!r} cannot name a run folder: use up to 100 letters, digits, spaces, "
                              "'.', '_' and '-', starting with a letter, digit or '_' (no '/', no '..')")
        for name in self.stages:
            if not STAGE_NAME.match(str(name)):
                raise ConfigError(join("stages", name), "stage names are letters, digits, _ and - (no dots)")

    def rows_from_env(self, name: str) -> bool:
        """Whether a stage's rows come from its environment: it has `env:` and no `data:` of its own."""
        return self.stages[name].env is not None and self.stages[name].data is None

    def stage_data(self, name: str) -> DataSpec:
        """The data a stage uses: its own, else the recipe's."""
        data = self.stages[name].data or self.data
        if data is None:
            raise ConfigError(join(join("stages", name), "data"), "this stage needs data (here or at the top level)")
        return data


# ---------------------------------------------------------------- loading


def parse_recipe(source: str | Path | dict, overrides: dict[str, Any] | list[str] | None = None,
                 check: Callable[[Recipe], None] | None = None) -> Recipe:
    """Read, override and build a recipe, checking every field; `check` adds the checks that need the registries
    (rlft.runner.recipe.load_recipe passes them). Raises ConfigError naming the file and dotted key."""
    if isinstance(overrides, list):
        overrides = dict(parse_override(o) for o in overrides)
    label = "<recipe>" if isinstance(source, dict) else str(source)
    try:
        raw = dict(source) if isinstance(source, dict) else read_yaml(source)
        piped = not isinstance(source, dict) and userpaths.is_pipe(source)  # `<(...)`: no folder, no name
        if not isinstance(source, dict):  # the file's paths are relative to its folder; overrides' to the shell's
            folder = Path.cwd() if piped else Path(source).parent
            paths.rewrite(raw, paths.beside(folder), skip=overrides or {})
        raw = apply_overrides(raw, dict(overrides or {}))
        if raw.get("name") is None and not isinstance(source, dict) and not piped:
            raw["name"] = Path(source).stem
        recipe = build(Recipe, raw)
        recipe.name = recipe.name or "recipe"
        if check is not None:
            check(recipe)
    except ConfigError as e:
        raise (e.with_source(label) if e.source is None else e) from None
    return recipe




def to_dict(recipe: Recipe) -> dict:
    """The resolved recipe as plain data (what `config.yaml` in a run folder holds), local paths absolute so
    that it means the same from any folder (`rlft run --resume RUN`)."""
    return paths.rewrite(dataclasses.asdict(recipe), paths.absolute)
