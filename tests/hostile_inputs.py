"""The hostile-input corpus: broken recipes, data files, models, rewards and a full disk, each with the words
its one-line error must contain. `tests/test_hostile_inputs.py` runs every case through `rlft run` and checks
exit code 2, a single `error: ...` line without a traceback, and that nothing in the run folder looks complete.

To add a case (every bug found in the wild should become one): append a `case(...)` to CASES with an id, one
line on what the input is, the recipe (a mapping from the helpers below, raw YAML text or bytes), the files
it needs and the words the message must contain: the file, key, line or row, and what is allowed. Cases on
the files of a finished or interrupted run (`rlft run --resume`, `rlft compare`) give their `command`.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from conftest import EVAL, GRPO, SFT, TINY, smoke_recipe

from rlft.core.config import to_dict
from rlft.core.recipe_text import apply_overrides
from rlft.runner.recipe import load_recipe

DROP = object()  # an override value that removes the key


@dataclass(frozen=True)
class Case:
    id: str
    what: str  # one line: what the input is
    expect: tuple[str, ...]  # words the error line must contain
    recipe: Any = None  # a mapping (written as YAML), YAML text or bytes
    files: dict[str, Any] = field(default_factory=dict)  # name -> text, bytes or maker(path, tiny_model_dir)
    args: tuple[str, ...] = ()  # key=value overrides on the command line
    recipe_path: str = "recipe.yaml"  # the recipe argument (a case may point at a missing file or a folder)
    fault: str | None = None  # a simulated failure while running (see test_hostile_inputs.FAULTS)
    runs: bool = False  # passes validation and fails once the stage starts (never after training)
    command: tuple[str, ...] = ()  # the whole command line instead of `run RECIPE ARGS --run-dir run`


def case(id: str, what: str, expect: tuple[str, ...] | str, recipe: Any = None, **kwargs) -> Case:
    return Case(id, what, (expect,) if isinstance(expect, str) else tuple(expect), recipe, **kwargs)


def edit(recipe: dict, changes: dict) -> dict:
    """A deep copy of `recipe` with dotted keys set (DROP removes one)."""
    out = copy.deepcopy(recipe)
    for dotted, value in changes.items():
        if value is DROP:
            *parents, last = dotted.split(".")
            node = out
            for part in parents:
                node = node[part]
            node.pop(last)
        else:
            apply_overrides(out, {dotted: copy.deepcopy(value)})
    return out


def pipeline(**changes) -> dict:
    """sft -> grpo -> eval on a built-in task; `changes` are dotted keys with `__` for dots."""
    base = smoke_recipe(sft=copy.deepcopy(SFT), grpo={**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}},
                        eval={**EVAL, "model": {"from_stage": "grpo"}})
    return edit(base, {k.replace("__", "."): v for k, v in changes.items()})


def on_file(algorithm: str = "sft", path: str = "data.jsonl", **changes) -> dict:
    """One stage of `algorithm` on a tiny model, trained on a local file."""
    stage = {"algorithm": algorithm, "model": copy.deepcopy(TINY), "trainer": {"max_steps": 1}}
    if algorithm == "grpo":
        stage = {**copy.deepcopy(GRPO), "model": copy.deepcopy(TINY)}
    if algorithm == "eval":
        stage = {**EVAL, "model": copy.deepcopy(TINY)}
    base = {"name": "hostile", "seed": 0, "data": {"path": path}, "stages": {"s": stage}}
    return edit(base, {k.replace("__", "."): v for k, v in changes.items()})


def eval_only(**changes) -> dict:
    """One eval stage of a tiny model on 4 held-out problems: the fastest recipe that runs."""
    base = smoke_recipe(e={"algorithm": "eval", "model": copy.deepcopy(TINY), "eval": {"max_new_tokens": 2}})
    base["data"]["eval_size"] = 4
    return edit(base, {k.replace("__", "."): v for k, v in changes.items()})


def jsonl(rows: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


ROWS = [{"prompt": f"{i}+1=", "completion": str(i + 1), "answer": str(i + 1)} for i in range(20)]


def rows_with(index: int, **values) -> str:
    """ROWS as JSONL with row `index` changed (a value of DROP removes the column)."""
    rows = copy.deepcopy(ROWS)
    for k, v in values.items():
        if v is DROP:
            rows[index].pop(k)
        else:
            rows[index][k] = v
    return jsonl(rows)


def million_rows_one_broken(path: Path, _tiny: Path) -> None:
    """10^6 rows, line 999,991 cut short (a missing brace): written in one call, about 40 MB."""
    good = json.dumps({"prompt": "12+34=", "completion": "46"}) + "\n"
    path.write_text(good * 999_990 + '{"prompt": "1+1=", "completion": "2"\n' + good * 9)


def frame(columns: dict, kind: str) -> Callable[[Path, Path], None]:
    """A maker writing `columns` as CSV or Parquet with pandas."""

    def make(path: Path, _tiny: Path) -> None:
        import pandas as pd

        df = pd.DataFrame(columns)
        if kind == "csv":
            df.to_csv(path, index=False)
        else:
            df.to_parquet(path)

    return make


def model_without_chat_template(path: Path, tiny: Path) -> None:
    """The tiny model and tokenizer with the chat template removed (like a base model's tokenizer)."""
    shutil.copytree(tiny, path)
    (path / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (path / "tokenizer_config.json").write_text(json.dumps(config))


def empty_folder(path: Path, _tiny: Path) -> None:
    path.mkdir()


def fifo(path: Path, _tiny: Path) -> None:
    """A named pipe with no writer: opening it to read would wait forever."""
    os.mkfifo(path)


def link(target: str) -> Callable[[Path, Path], None]:
    """A maker of a symlink to `target` (its own name: a loop; a missing name: a broken link)."""

    def make(path: Path, _tiny: Path) -> None:
        os.symlink(target, path)

    return make


def run_folder(finished: bool = True, **files) -> Callable[[Path, Path], None]:
    """A maker of the folder an eval_only() run leaves (one stage `e`), complete or with its stage done but
    not the run; `files` (`e__output_json` for e/output.json) replace or add files in it, None removes one."""

    def make(path: Path, tiny: Path) -> None:
        stage = {"algorithm": "eval", "wall_s": 0.5, "eval": {"accuracy": 0.5}}
        content = {
            "config.yaml": yaml.safe_dump(to_dict(load_recipe(eval_only())), sort_keys=False),
            "env.json": json.dumps({"seed": 0}), "metrics.jsonl": jsonl([{"stage": "e", "step": 0, "split": "eval"}]),
            "e/output.json": json.dumps({"base": str(tiny), "adapters": [], "tokenizer": None}),
            "e/summary.json": json.dumps(stage),
        }  # fmt: skip
        if finished:
            content["summary.json"] = json.dumps({"recipe": "smoke", "seed": 0, "stages": {"e": stage}})
        content.update({".".join(k.replace("__", "/").rsplit("_", 1)): v for k, v in files.items()})
        for name, text in content.items():
            if text is not None:
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                (path / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    return make


def sweep_folder(sweep: str | None = None, **run_files) -> Callable[[Path, Path], None]:
    """A maker of a sweep folder with one finished seed (s0, a run_folder with `run_files`); `sweep` replaces
    its sweep.json."""

    def make(path: Path, tiny: Path) -> None:
        run_folder(**run_files)(path / "s0", tiny)
        default = json.dumps({"recipe": "smoke", "label": "smoke", "planned": [0], "seeds": [0]})
        (path / "sweep.json").write_text(default if sweep is None else sweep)

    return make


def resume(what: str, expect, **files) -> Case:
    """`rlft run --resume old` of a run whose stage is done (a finished run where `summary.json` is given)."""
    return case(f"resume-{what}", f"--resume: {what}", expect, files={"old": run_folder(finished="summary_json" in
                files, **files)}, command=("run", "--resume", "old"))  # fmt: skip


def compare(what: str, expect, maker=None, **files) -> Case:
    """`rlft compare old` of a finished run (or what `maker` makes)."""
    return case(f"compare-{what}", f"compare: {what}", expect, files={"old": maker or run_folder(**files)},
                command=("compare", "old", "--out", "cmp", "--reps", "10"))


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))  # 9**9 strings
GOOD = jsonl(ROWS)
PREFS = jsonl([{"prompt": "1+1=", "chosen": "2", "rejected": "3"}] * 2)
REWARD = "def shaped(completions, **kwargs):\n    return [1.0 for _ in completions]\n\nLIMIT = 3\n"
# user code that misbehaves: exits, raises or returns None as a factory, shrinks its input, never returns
MISBEHAVING = """import sys
import time


def quitter(completions, **kwargs):
    sys.exit(0)


def shrinker(completions, **kwargs):
    completions.pop()
    return [1.0 for _ in completions]


def sleeper(completions, **kwargs):
    time.sleep(3600)


def numeric_match(completions, **kwargs):
    return [0.0 for _ in completions]


def raising_factory(**kwargs):
    return {}["scale"]


def empty_factory(**kwargs):
    pass
"""
NO_ANSWER = jsonl([{"prompt": r["prompt"], "completion": r["completion"]} for r in ROWS])
DECLARED = "def graded(completions, difficulty, **kwargs):\n    return [1.0 for _ in completions]\n\n\n" \
    "graded.columns = ('difficulty',)\n"
YAML_OK = "name: hostile\nstages:\n  e: {algorithm: eval, model: {tiny: {hidden_size: 32}}}\n"

CASES = [
    # ---------------------------------------------------------------- the recipe file itself
    case("yaml-unclosed", "a flow list never closed", ("recipe.yaml", "not valid YAML", "line 1, column 14"),
         "stages: [oops"),
    case("yaml-tab", "a tab used for indentation", ("not valid YAML", "line 2", "cannot start any token"),
         "stages:\n\tsft: {}\n"),
    case("yaml-duplicate-stage", "two stages named sft: YAML would keep only the second",
         ("line 4, column 3", "key 'sft' appears twice"),
         "data: {task: arithmetic}\nstages:\n  sft: {algorithm: eval, model: a}\n  sft: {algorithm: eval, model: b}\n"),
    case("yaml-duplicate-seed", "seed given twice", "key 'seed' appears twice", "seed: 0\nseed: 1\n" + YAML_OK),
    case("yaml-list", "the recipe is a YAML list", ("a recipe is a YAML mapping", "got list"), "- a\n- b\n"),
    case("yaml-scalar", "the recipe is one string", ("a recipe is a YAML mapping", "got str"), "just some text\n"),
    case("yaml-empty", "an empty recipe file", ("recipe.yaml", "is empty"), ""),
    case("yaml-comments-only", "a recipe of comments only", "is empty", "# to do\n"),
    case("yaml-not-utf8", "a Latin-1 byte in the recipe", ("not UTF-8", "0xe9", "offset 16, line 1"),
         b"description: caf\xe9\n" + YAML_OK.encode()),
    case("yaml-python-tag", "a PyYAML tag that would run a command", ("not valid YAML", "python/object/apply"),
         "seed: !!python/object/apply:os.system [echo hi]\n"),
    case("recipe-missing", "the recipe path names no file", "recipe file 'nope.yaml' does not exist",
         recipe_path="nope.yaml"),
    case("recipe-folder", "the recipe path is a folder", "recipe file '.' is a folder", recipe_path="."),
    case("no-stages", "a recipe without stages", "stages: is required", "name: x\nseed: 0\n"),
    case("stages-empty", "an empty stages mapping", "at least one stage", "stages: {}\n"),
    case("stages-list", "stages written as a list", "stages: expected a mapping", "stages: [sft, grpo]\n"),
    case("stage-scalar", "a stage that is a number", "stages.sft: expected a mapping, got 3", "stages: {sft: 3}\n"),
    case("stage-name-dot", "a stage name with a dot", ("stages.a.b", "no dots"),
         "stages:\n  a.b: {algorithm: eval, model: x}\n"),
    # ---------------------------------------------------------------- wrong types
    case("seed-text", "seed: zero", ("seed: expected an integer", "'zero'"), pipeline(seed="zero")),
    case("max-steps-text", "max_steps: ten", ("stages.sft.trainer.max_steps", "expected an integer"),
         pipeline(stages__sft__trainer__max_steps="ten")),
    case("lr-yaml11", "3e-4, which YAML 1.1 reads as a string", ("stages.sft.trainer.learning_rate", "3.0e-4"),
         "stages:\n  sft:\n    algorithm: sft\n    model: {tiny: {}}\n    trainer: {learning_rate: 3e-4}\n"),
    case("lr-nan", "learning_rate: .nan", ("stages.sft.trainer.learning_rate", "NaN"),
         pipeline(stages__sft__trainer__learning_rate=float("nan"))),
    case("lora-r-float", "a fractional LoRA rank", ("stages.sft.lora.r", "expected an integer"),
         pipeline(stages__sft__lora={"r": 0.5})),
    case("bool-text", "eval.entropy: maybe", ("stages.eval.eval.entropy", "expected true or false"),
         pipeline(stages__eval__eval__entropy="maybe")),
    case("batch-bool", "a batch size of true", ("per_device_train_batch_size", "expected an integer, got True"),
         pipeline(stages__sft__trainer__per_device_train_batch_size=True)),
    case("rewards-scalar", "rewards as a string, not a list", ("stages.grpo.rewards", "expected a list"),
         pipeline(stages__grpo__rewards="numeric_match")),
    case("weight-text", "a reward weight of 'heavy'", ("stages.grpo.rewards[0].weight", "expected a number"),
         pipeline(stages__grpo__rewards=[{"name": "numeric_match", "weight": "heavy"}])),
    case("model-number", "model: 42", ("stages.sft.model", "expected a mapping or a path string"),
         pipeline(stages__sft__model=42)),
    case("task-kwargs-list", "data.kwargs as a list", ("data.kwargs", "expected a mapping"),
         pipeline(data__kwargs=[1, 2])),
    case("algorithm-null", "algorithm: null", ("stages.sft.algorithm", "expected a string"),
         pipeline(stages__sft__algorithm=None)),
    case("algorithm-missing", "a stage without an algorithm", ("stages.sft.algorithm", "is required"),
         pipeline(stages__sft__algorithm=DROP)),
    case("threads-float", "num_threads: 1.5", ("num_threads", "expected an integer"), pipeline(num_threads=1.5)),
    # ---------------------------------------------------------------- unknown keys, at every level
    case("key-top", "an unknown top-level key", ("colour", "unknown key", "allowed:"), pipeline(colour="red")),
    case("key-stage", "a typo in a stage key", ("stages.sft.modle", "did you mean 'model'"),
         pipeline(stages__sft__modle={"path": "x"})),
    case("key-model", "a typo in the model block", ("stages.sft.model.paht", "did you mean 'path'"),
         pipeline(stages__sft__model={"paht": "x"})),
    case("key-tiny", "a typo in the tiny model", ("stages.sft.model.tiny.hiden_size", "did you mean 'hidden_size'"),
         pipeline(stages__sft__model__tiny__hiden_size=8)),
    case("key-data", "a typo in the data block", ("data.tsk", "did you mean 'task'"), pipeline(data__tsk="x")),
    case("key-task-kwargs", "a task argument the task lacks", ("data.kwargs.base", "unknown argument", "allowed:"),
         pipeline(data__kwargs__base=3)),
    case("key-trainer", "a TRL field misspelt", ("stages.sft.trainer.lerning_rate", "did you mean 'learning_rate'"),
         pipeline(stages__sft__trainer__lerning_rate=0.1)),
    case("key-lora", "a LoRA field peft lacks", ("stages.sft.lora.rank", "LoraConfig"),
         pipeline(stages__sft__lora={"rank": 8})),
    case("key-eval", "a typo in the eval block", ("stages.eval.eval.evry", "allowed:"),
         pipeline(stages__eval__eval__evry=5)),
    case("key-alarms", "a typo in the alarms block", ("stages.grpo.alarms.reward_rize", "did you mean 'reward_rise'"),
         pipeline(stages__grpo__alarms__reward_rize=0.1)),
    case("key-check", "a typo in the check block", ("stages.grpo.check.promts", "did you mean 'prompts'"),
         pipeline(stages__grpo__check__promts=4)),
    case("key-reward", "a typo in a reward entry", ("stages.grpo.rewards[0].wieght", "did you mean 'weight'"),
         pipeline(stages__grpo__rewards=[{"name": "numeric_match", "wieght": 2}])),
    case("key-reward-kwargs", "a keyword the reward factory lacks",
         ("stages.grpo.rewards[0]", "max_len", "takes kwargs: max_completion_len"),
         pipeline(stages__grpo__rewards=[{"name": "soft_overlong", "kwargs": {"max_len": 3}}])),
    case("key-verifier", "a typo inside eval.verifier", ("stages.eval.eval.verifier.kwarg", "allowed:"),
         pipeline(stages__eval__eval__verifier={"name": "numeric_match", "kwarg": {}})),
    case("unknown-algorithm", "algorithm: ppo2", ("stages.sft.algorithm", "allowed: sft, grpo"),
         pipeline(stages__sft__algorithm="ppo2")),
    case("unknown-reward", "a misspelt built-in reward", ("stages.grpo.rewards[0].name", "numeric_match"),
         pipeline(stages__grpo__rewards=["numeric_mtch"])),
    case("unknown-task", "a task that does not exist", ("data.task", "unknown task", "allowed:"),
         pipeline(data__task="sorting")),
    # ---------------------------------------------------------------- negative or zero sizes
    case("train-size-zero", "data.train_size: 0", ("data.train_size", "must be > 0"), pipeline(data__train_size=0)),
    case("eval-size-negative", "data.eval_size: -5", ("data.eval_size", "must be >= 0"),
         pipeline(data__eval_size=-5)),
    case("hidden-zero", "a tiny model of width 0", ("stages.sft.model.tiny.hidden_size", "must be > 0"),
         pipeline(stages__sft__model__tiny__hidden_size=0)),
    case("layers-negative", "-1 layers", ("stages.sft.model.tiny.num_layers", "must be > 0"),
         pipeline(stages__sft__model__tiny__num_layers=-1)),
    case("eval-batch-zero", "eval.batch_size: 0", ("stages.eval.eval.batch_size", "must be > 0"),
         pipeline(stages__eval__eval__batch_size=0)),
    case("max-new-tokens-negative", "eval.max_new_tokens: -1", ("stages.eval.eval.max_new_tokens", "must be > 0"),
         pipeline(stages__eval__eval__max_new_tokens=-1)),
    case("max-steps-zero", "max_steps: 0 (TRL would train 3 epochs)", ("stages.sft.trainer.max_steps", "-1"),
         pipeline(stages__sft__trainer__max_steps=0)),
    case("batch-zero", "per_device_train_batch_size: 0",
         ("stages.sft.trainer.per_device_train_batch_size", "must be >= 1"),
         pipeline(stages__sft__trainer__per_device_train_batch_size=0)),
    case("batch-negative", "per_device_train_batch_size: -8", ("per_device_train_batch_size", "got -8"),
         pipeline(stages__grpo__trainer__per_device_train_batch_size=-8)),
    case("lr-negative", "a negative learning rate", ("stages.sft.trainer.learning_rate", "must be >= 0"),
         pipeline(stages__sft__trainer__learning_rate=-0.1)),
    case("generations-zero", "num_generations: 0 (GRPOConfig divided by it)",
         ("stages.grpo.trainer.num_generations", "must be >= 2"), pipeline(stages__grpo__trainer__num_generations=0)),
    case("completion-length-zero", "max_completion_length: 0",
         ("stages.grpo.trainer.max_completion_length", "must be >= 1"),
         pipeline(stages__grpo__trainer__max_completion_length=0)),
    case("temperature-zero", "sampling at temperature 0", ("stages.grpo.trainer.temperature", "must be > 0"),
         pipeline(stages__grpo__trainer__temperature=0.0)),
    case("accumulation-zero", "gradient_accumulation_steps: 0",
         ("stages.sft.trainer.gradient_accumulation_steps", "must be >= 1"),
         pipeline(stages__sft__trainer__gradient_accumulation_steps=0)),
    case("lora-rank-zero", "a LoRA rank of 0", ("stages.sft.lora.r", "must be >= 1"),
         pipeline(stages__sft__lora={"r": 0})),
    case("threads-zero", "num_threads: 0", ("num_threads", "must be > 0"), pipeline(num_threads=0)),
    case("check-k-one", "a pre-run check with one sample per prompt", ("stages.grpo.check.k", "must be >= 2"),
         pipeline(stages__grpo__check__k=1)),
    # ---------------------------------------------------------------- what the run builds, built while validating
    case("seed-negative", "seed: -1 (NumPy refuses it when the run seeds)", ("seed", "[0, 4294967295]", "got -1"),
         pipeline(seed=-1)),
    case("seed-huge", "seed: 2**32", ("seed", "a 32-bit seed", "got 4294967296"), pipeline(seed=2**32)),
    case("data-seed-negative", "data.seed: -3", ("data.seed", "[0, 4294967295]"), pipeline(data__seed=-3)),
    case("trainer-seed-huge", "trainer.seed: 2**40", ("stages.sft.trainer.seed", "a 32-bit seed"),
         pipeline(stages__sft__trainer__seed=2**40)),
    case("seeds-huge", "--seeds past 2**32 - 1", ("--seeds", "goes past 4294967295"), pipeline(),
         args=("--seeds", "4294967295-4294967296")),
    case("adam-beta", "adam_beta1: 1.5, which torch's AdamW refuses at the first step",
         ("stages.sft.trainer", "Invalid beta parameter at index 0: 1.5", "adam_beta1"),
         pipeline(stages__sft__trainer__adam_beta1=1.5)),
    case("optim-missing-package", "an optimizer whose package is not installed",
         ("stages.sft.trainer", "optim: adamw_bnb_8bit", "bitsandbytes"),
         pipeline(stages__sft__trainer__optim="adamw_bnb_8bit")),
    case("eval-strategy", "eval_strategy: steps, with no eval set handed to TRL",
         ("stages.sft.trainer.eval_strategy", "allowed: 'no'", "eval.every"),
         pipeline(stages__sft__trainer__eval_strategy="steps")),
    case("report-to-unknown", "report_to names a tracker transformers does not know",
         ("stages.sft.trainer.report_to", "wandbb is not supported", "tensorboard"),
         pipeline(stages__sft__trainer__report_to=["wandbb"])),
    case("report-to-missing", "report_to names a tracker that is not installed (tensorboard and trackio are, "
         "with rlft[dev])", ("stages.grpo.trainer.report_to", "requires wandb"),
         pipeline(stages__grpo__trainer__report_to="wandb")),
    case("lora-targets-none", "LoRA target_modules that match no module of the tiny model",
         ("stages.sft.lora.target_modules", "qproj", "not found", "q_proj, up_proj, v_proj"),
         pipeline(stages__sft__lora={"target_modules": ["qproj"]})),
    case("lora-targets-from-stage", "LoRA targets missing from the model a later stage starts from",
         ("stages.grpo.lora.target_modules", "attn", "o_proj"),
         pipeline(stages__grpo__lora={"target_modules": "attn"})),
    case("lora-targets-path", "LoRA targets missing from a local model folder",
         ("stages.sft.lora.target_modules", "c_attn", "k_proj"),
         pipeline(stages__sft__model="m", stages__sft__lora={"target_modules": ["c_attn"]}),
         files={"m": lambda path, tiny: shutil.copytree(tiny, path)}),
    case("lora-targets-number", "LoRA target_modules: 5", ("stages.sft.lora.target_modules", "list of str", "got 5"),
         pipeline(stages__sft__lora={"target_modules": 5})),
    case("tiny-too-large", "a tiny model whose training state exceeds the memory",
         ("stages.sft.model.tiny", "parameters need about", "GiB", "make the model smaller"),
         pipeline(stages__sft__model__tiny__hidden_size=65536, stages__sft__model__tiny__num_heads=4)),
    # ---------------------------------------------------------------- non-finite and absurd values
    case("lr-inf", "learning_rate: .inf (trains to NaN)", ("stages.sft.trainer.learning_rate", "finite", "inf"),
         pipeline(stages__sft__trainer__learning_rate=float("inf"))),
    case("temperature-inf", "eval.temperature: .inf (pass@k of noise)",
         ("stages.eval.eval.temperature", "must be a finite number, got inf"),
         pipeline(stages__eval__eval__temperature=float("inf"), stages__eval__eval__num_samples=2)),
    case("weight-minus-inf", "a reward weight of -.inf", ("stages.grpo.rewards[0].weight", "finite", "-inf"),
         pipeline(stages__grpo__rewards=[{"name": "numeric_match", "weight": float("-inf")}])),
    case("reward-kwargs-inf", "a reward factory argument of .inf",
         ("stages.grpo.rewards[0].kwargs.max_completion_len", "finite"),
         pipeline(stages__grpo__rewards=[{"name": "soft_overlong", "kwargs": {"max_completion_len": float("inf")}}])),
    case("lora-dropout-nan", "lora_dropout: .nan", ("stages.sft.lora.lora_dropout", "finite", "NaN"),
         pipeline(stages__sft__lora={"lora_dropout": float("nan")})),
    case("trainer-nested-inf", "an infinity inside a trainer mapping",
         ("stages.sft.trainer.lr_scheduler_kwargs.power", "finite"),
         pipeline(stages__sft__trainer__lr_scheduler_kwargs={"power": float("inf")})),
    case("task-kwargs-inf", "a task argument of .inf", ("data.kwargs.digits", "finite"),
         pipeline(data__kwargs__digits=float("inf"))),
    case("max-new-tokens-huge", "eval.max_new_tokens: 100000000 (generates for minutes)",
         ("stages.eval.eval.max_new_tokens", "<= 128", "max_position_embeddings"),
         pipeline(stages__eval__eval__max_new_tokens=100_000_000)),
    case("completion-length-huge", "max_completion_length past the model's context",
         ("stages.grpo.trainer.max_completion_length", "<= 128"),
         pipeline(stages__grpo__trainer__max_completion_length=100_000)),
    case("max-new-tokens-unknown-model", "eval.max_new_tokens past rlft's ceiling, for a hub id not on this machine",
         ("stages.eval.eval.max_new_tokens", "<= 32768", "rlft's ceiling"),
         pipeline(stages__eval__model="NoSuchOrg/no-such-model", stages__eval__eval__max_new_tokens=10**8)),
    case("threads-huge", "num_threads: 10000 on a machine of a few cores",
         ("num_threads", "10000 threads", "allowed: 1 to"),
         pipeline(num_threads=10000)),
    case("diverged-sft", "learning_rate: 1.0e+30: finite, but the gradients turn NaN at the second step",
         ("stages.s.trainer", "training diverged: grad_norm is nan at step 2", "lower learning_rate"),
         on_file(stages__s__trainer={"max_steps": 6, "logging_steps": 1, "learning_rate": 1e30}),
         files={"data.jsonl": GOOD},
         runs=True),
    case("diverged-grpo", "a GRPO stage whose learning rate sends the weights to NaN",
         ("stages.s.trainer", "training diverged", "nan at step"),
         on_file("grpo", stages__s__trainer__learning_rate=1e30, stages__s__trainer__max_steps=4,
                 stages__s__rewards=[{"name": "random_reward", "kwargs": {"p": 0.5}}]),
         files={"data.jsonl": GOOD}, runs=True),
    case("diverged-ppo", "rlft's PPO with a learning rate that sends the losses to NaN",
         ("stages.s.trainer", "training diverged", "loss/", "max_grad_norm 1.0"),
         on_file("grpo", stages__s__algorithm="ppo", stages__s__trainer={"max_steps": 4, "logging_steps": 1,
                 "learning_rate": 1e30, "per_device_train_batch_size": 4, "max_completion_length": 4}),
         files={"data.jsonl": GOOD}, runs=True),
    # ---------------------------------------------------------------- num_generations must divide the batch
    case("generations-3-of-8", "3 completions per prompt from a round of 8",
         ("stages.grpo.trainer.num_generations", "must divide the 8", "allowed: 2, 4, 8"),
         pipeline(stages__grpo__trainer__num_generations=3)),
    case("generations-accumulated", "batch 2 x 3 accumulation steps = 6 completions, num_generations 4",
         ("num_generations", "per_device_train_batch_size 2 x steps_per_generation 3", "allowed: 2, 3, 6"),
         pipeline(stages__grpo__trainer__per_device_train_batch_size=2,
                  stages__grpo__trainer__gradient_accumulation_steps=3)),
    case("generations-rloo", "RLOO with 5 completions per prompt from a round of 6",
         ("stages.s.trainer.num_generations", "must divide the 6", "allowed: 2, 3, 6"),
         on_file("grpo", stages__s__algorithm="rloo", stages__s__trainer__per_device_train_batch_size=6,
                 stages__s__trainer__num_generations=5), files={"data.jsonl": GOOD}),
    # ---------------------------------------------------------------- data files
    case("data-missing", "data.path names no file", ("data.path", "data file 'missing.jsonl' does not exist"),
         on_file(path="missing.jsonl")),
    case("eval-path-missing", "data.eval_path names no file", ("data.eval_path", "'held.jsonl' does not exist"),
         on_file(data__eval_path="held.jsonl"), files={"data.jsonl": GOOD}),
    case("data-folder", "data.path is a folder", ("data.path", "data file 'rows.jsonl' is a folder; give a .jsonl"),
         on_file(path="rows.jsonl"),
         files={"rows.jsonl": empty_folder}),
    case("data-empty", "a 0-byte data file", ("data.path", "'data.jsonl' is empty (0 bytes)"), on_file(),
         files={"data.jsonl": ""}),
    case("data-blank-lines", "a JSONL file of blank lines", ("data.path", "has no rows"), on_file(),
         files={"data.jsonl": "\n\n  \n"}),
    case("data-not-utf8", "a Latin-1 byte on line 3 of a JSONL file",
         ("data.path", "not UTF-8", "0xe9", "offset 68 (line 2, column 16)"), on_file(),
         files={"data.jsonl": GOOD.encode().replace(b'"1+1=', b'"caf\xe9 1+1=', 1)}),
    case("csv-not-utf8", "a Latin-1 CSV file", ("data.path", "'data.csv' is not UTF-8", "line 3"),
         on_file(path="data.csv"), files={"data.csv": b"prompt,completion\n1+1=,2\ncaf\xe9,3\n"}),
    case("data-missing-column", "rows without a completion column",
         ("data.path", "lacks column(s) completion", "it has: prompt"), on_file(),
         files={"data.jsonl": jsonl([{"prompt": "1+1="}])}),
    case("csv-missing-column", "a CSV file with a question column instead of prompt",
         ("'data.csv' lacks column(s) prompt", "it has: question"), on_file(path="data.csv"),
         files={"data.csv": "question,completion\n1+1=,2\n"}),
    case("data-missing-column-later", "line 6 lacks its completion",
         ("'data.jsonl' line 6, row 5", "lacks column(s) completion"), on_file(),
         files={"data.jsonl": rows_with(5, completion=DROP)}),
    case("data-empty-string", "an empty prompt on line 8", ("'data.jsonl' line 8, row 7", "'prompt' is empty"),
         on_file(), files={"data.jsonl": rows_with(7, prompt="")}),
    case("data-whitespace", "a completion of spaces", ("line 3, row 2", "'completion' is empty (only whitespace)"),
         on_file(), files={"data.jsonl": rows_with(2, completion="   ")}),
    case("data-number-prompt", "a prompt that is a number", ("line 5, row 4", "'prompt' is 7 (a number)",
         "expected a non-empty string or a list of {role, content} messages"), on_file(),
         files={"data.jsonl": rows_with(4, prompt=7)}),
    case("data-null-prompt", "a null prompt", ("line 1, row 0", "'prompt' is empty (null)"), on_file(),
         files={"data.jsonl": rows_with(0, prompt=None)}),
    case("data-dict-prompt", "a prompt that is a mapping", ("line 2, row 1", "(a mapping)"), on_file(),
         files={"data.jsonl": rows_with(1, prompt={"text": "1+1="})}),
    case("data-message-no-role", "a message without a role", ("line 4, row 3", "message 0", "\"role\": one of"),
         on_file(), files={"data.jsonl": rows_with(3, prompt=[{"content": "1+1="}])}),
    case("data-empty-messages", "an empty list of messages", ("line 2, row 1", "an empty list of messages"),
         on_file(), files={"data.jsonl": rows_with(1, prompt=[])}),
    case("data-mixed-column", "prompts as strings, then as messages on line 10",
         ("line 10, row 9", "but earlier rows hold a string"), on_file(),
         files={"data.jsonl": rows_with(9, prompt=[{"role": "user", "content": "9+1="}],
                                        completion=[{"role": "assistant", "content": "10"}])}),
    case("data-mixed-row", "a message-list prompt with a string completion",
         ("line 1, row 0", "'completion' is a string but 'prompt' is a list of messages"), on_file(),
         files={"data.jsonl": jsonl([{"prompt": [{"role": "user", "content": "1+1="}], "completion": "2"}])}),
    case("data-array-line", "a JSONL line that is an array", ("line 1, row 0", "expected a JSON object"),
         on_file(), files={"data.jsonl": '["1+1=", "2"]\n'}),
    case("data-truncated", "a JSONL file cut off mid-line (a crashed writer)", ("'data.jsonl' line 20, row 19",
         "not valid JSON at column 41 (Unterminated string"), on_file(), files={"data.jsonl": GOOD[:-12]}),
    case("data-million-rows", "10^6 rows with one malformed line near the end",
         ("data.path", "'data.jsonl' line 999991, row 999990", "not valid JSON at the end of the line"), on_file(),
         files={"data.jsonl": million_rows_one_broken}),
    case("csv-empty-cell", "a CSV row with an empty completion cell",
         ("'data.csv' row 1", "'completion' is empty (null)"), on_file(path="data.csv"),
         files={"data.csv": "prompt,completion\n1+1=,2\n2+2=,\n"}),
    case("csv-whitespace-prompt", "a CSV prompt cell of spaces (numbers in a CSV are text: fine)",
         ("'data.csv' row 1", "'prompt' is empty (only whitespace)"), on_file(path="data.csv"),
         files={"data.csv": frame({"prompt": ["1+1=", "   "], "completion": [2, 4]}, "csv")}),
    case("csv-extra-field", "a CSV row with more cells than the header (an unquoted comma)",
         ("cannot read 'data.csv' as csv", "Expected 2 fields in line 3, saw 3"), on_file(path="data.csv"),
         files={"data.csv": "prompt,completion\n1+1=,2\nsay 1,2,3\n"}),
    case("parquet-number-prompt", "a Parquet prompt column of integers",
         ("'data.parquet' row 0", "'prompt' is 5 (a number)"), on_file(path="data.parquet"),
         files={"data.parquet": frame({"prompt": [5, 6], "completion": ["a", "b"]}, "parquet")}),
    case("parquet-corrupt", "a .parquet file that is not Parquet",
         ("data.path", "cannot read 'data.parquet' as parquet", "magic bytes"), on_file(path="data.parquet"),
         files={"data.parquet": b"PAR1 but not really"}),
    case("json-array-bad-row", "a JSON array file whose third prompt is a number",
         ("'data.json' row 2", "'prompt' is 3 (a number)"), on_file(path="data.json"),
         files={"data.json": json.dumps([{"prompt": "a", "completion": "b"}] * 2
                                        + [{"prompt": 3, "completion": "c"}])}),
    # ---------------------------------------------------------------- files that are not what they seem
    case("data-fifo", "data.path is a named pipe, which would block the reader",
         ("data.path", "data file 'data.jsonl' is a named pipe (FIFO), not a file", "waits for a writer"),
         on_file(), files={"data.jsonl": fifo}),
    case("eval-path-fifo", "data.eval_path is a named pipe", ("data.eval_path", "'held.jsonl' is a named pipe"),
         on_file(data__eval_path="held.jsonl"), files={"data.jsonl": GOOD, "held.jsonl": fifo}),
    case("data-symlink-loop", "data.path is a symlink to itself", ("data.path", "'data.jsonl' is a symlink loop"),
         on_file(), files={"data.jsonl": link("data.jsonl")}),
    case("data-broken-symlink", "data.path is a symlink to a file that is gone",
         ("data.path", "is a broken symlink (it points to 'gone.jsonl'"), on_file(),
         files={"data.jsonl": link("gone.jsonl")}),
    case("data-unreadable", "a data file the user may not read (simulated: tests run as root)",
         ("data.path", "data file 'data.jsonl' cannot be read: permission denied"), on_file(),
         files={"data.jsonl": GOOD}, fault="unreadable:data.jsonl"),
    case("csv-header-only", "a CSV file with a header line and no rows",
         ("data.path", "'data.csv' has a header line (prompt, completion) but no rows"), on_file(path="data.csv"),
         files={"data.csv": "prompt,completion\n"}),
    case("csv-blank-lines", "a CSV file of blank lines", ("'data.csv' has only blank lines", "a header line"),
         on_file(path="data.csv"), files={"data.csv": "\n \n"}),
    case("recipe-fifo", "the recipe is a named pipe nothing writes to", ("pipe.yaml", "is empty"),
         files={"pipe.yaml": fifo}, recipe_path="pipe.yaml"),
    case("recipe-symlink-loop", "the recipe is a symlink to itself", "recipe file 'loop.yaml' is a symlink loop",
         files={"loop.yaml": link("loop.yaml")}, recipe_path="loop.yaml"),
    case("recipe-unreadable", "a recipe the user may not read (simulated)",
         "recipe file 'recipe.yaml' cannot be read: permission denied", pipeline(), fault="unreadable:recipe.yaml"),
    case("reward-file-fifo", "a reward .py file that is a named pipe",
         ("stages.grpo.rewards[0].name", "file 'pipe.py' is a named pipe (FIFO)"),
         pipeline(stages__grpo__rewards=["pipe.py:shaped"]), files={"pipe.py": fifo}),
    case("reward-file-folder", "a reward .py path that is a folder",
         ("stages.grpo.rewards[0].name", "file 'pkg.py' is a folder"),
         pipeline(stages__grpo__rewards=["pkg.py:shaped"]), files={"pkg.py": empty_folder}),
    case("verifier-file-loop", "a data.verifier .py file that is a symlink loop",
         ("data.verifier.name", "file 'loop.py' is a symlink loop"), pipeline(data__verifier="loop.py:shaped"),
         files={"loop.py": link("loop.py")}),
    case("model-path-file", "model.path names a file, not a folder",
         ("stages.e.model.path", "model folder 'weights.bin' is a file, not a folder"),
         eval_only(stages__e__model={"path": "weights.bin"}), files={"weights.bin": b"\0" * 8}),
    case("model-symlink-loop", "model.path is a symlink to itself",
         ("stages.e.model.path", "model folder 'm' is a symlink loop"),
         eval_only(stages__e__model={"path": "m"}), files={"m": link("m")}),
    case("tokenizer-fifo", "model.tokenizer is a named pipe",
         ("stages.e.model.tokenizer", "tokenizer folder 'tok' is a named pipe (FIFO), not a folder"),
         eval_only(stages__e__model__tokenizer="tok"), files={"tok": fifo}),
    case("rm-definition-folder", "a reward-model definition path that is a folder",
         ("stages.grpo.rewards[0]", "reward model definition", "'rm.yaml' is a folder"),
         pipeline(stages__grpo__rewards=[{"name": "reward_model", "kwargs": {"definition": "rm.yaml"}}]),
         files={"rm.yaml": empty_folder}),
    case("data-extension", "a .txt data file", ("data.path", "unknown extension", "allowed: .jsonl, .json, .csv"),
         on_file(path="data.txt"), files={"data.txt": GOOD}),
    case("kto-label-text", "a KTO label of 'yes'", ("line 1, row 0", "'label' is 'yes' (a string)", "true or false"),
         on_file("kto"), files={"data.jsonl": jsonl([{"prompt": "1+1=", "completion": "2", "label": "yes"}])}),
    case("alol-variant", "an A-LoL variant the paper does not have",
         ("stages.s.trainer.variant", "'alol_kl' is not allowed", "'alol', 'alol_seq', 'alol_ref_free'"),
         on_file("alol", stages__s__rewards=["numeric_match"], stages__s__trainer={"max_steps": 1,
                                                                                  "variant": "alol_kl"}),
         files={"data.jsonl": GOOD}),
    case("alol-nothing-to-learn", "logged completions that all score the same, so no advantage is positive",
         ("stages.s.rewards", "no row has a positive advantage"),
         on_file("alol", stages__s__rewards=["numeric_match"]),
         files={"data.jsonl": jsonl([{"prompt": f"{i}+1=", "completion": str(i + 1), "answer": str(i + 1)}
                                     for i in range(8)])}, runs=True),
    case("dpo-rejected-empty", "a DPO pair with an empty rejected answer", ("line 3, row 2", "'rejected' is empty"),
         on_file("dpo"), files={"data.jsonl": PREFS + jsonl([{"prompt": "2+2=", "chosen": "4", "rejected": ""}])}),
    case("eval-size-too-big", "eval_size as large as the file", ("data.eval_size", "less than the 20 rows"),
         on_file(data__eval_size=20), files={"data.jsonl": GOOD}),
    case("eval-without-held-out", "an eval stage on a file with no held-out rows",
         ("data", "an eval stage needs held-out rows", "eval_path"), on_file("eval"), files={"data.jsonl": GOOD}),
    # ---------------------------------------------------------------- columns that rewards and verifiers read
    case("reward-column-absent", "accuracy on a file without answer or solution (every reward would be None)",
         ("stages.s.rewards[0]", "reward 'accuracy' reads column 'solution' or 'answer', which the data (file "
          "'data.jsonl': prompt, completion) does not have"), on_file("grpo", stages__s__rewards=["accuracy"]),
         files={"data.jsonl": NO_ANSWER}),
    case("default-reward-column-absent", "numeric_match on a file without answer",
         ("stages.s.rewards[0]", "reward 'numeric_match' reads column 'answer' or 'solution'"), on_file("grpo"),
         files={"data.jsonl": NO_ANSWER}),
    case("code-tests-on-task", "code_tests on arithmetic problems, which carry no tests",
         ("stages.grpo.rewards[0]", "reads column 'test_cases' or 'tests' or 'verification_info'",
          "the data (task 'arithmetic': prompt, completion, answer)"), pipeline(stages__grpo__rewards=["code_tests"])),
    case("code-tests-column-kwarg", "code_tests told to read a column the file lacks",
         ("stages.s.rewards[0]", "reward 'code_tests' reads column 'unit_tests'"),
         on_file("grpo", stages__s__rewards=[{"name": "code_tests", "kwargs": {"column": "unit_tests"}}]),
         files={"data.jsonl": GOOD}),
    case("route-column-absent", "route by a column the file lacks, with no default",
         ("stages.s.rewards[0]", "reward 'route' reads column 'kind'"),
         on_file("grpo", stages__s__rewards=[{"name": "route", "kwargs": {"routes": {"m": "numeric_match"},
                                                                            "column": "kind"}}]),
         files={"data.jsonl": GOOD}),
    case("gate-nested-column", "a gate whose objective reads answer, on a file without it",
         ("stages.s.rewards[0]", "reward 'gate' reads column 'solution' or 'answer'"),
         on_file("grpo", stages__s__rewards=[{"name": "gate", "kwargs": {"objective": "accuracy",
                                                                           "judge": "format_strict"}}]),
         files={"data.jsonl": NO_ANSWER}),
    case("kimi-length-column", "kimi_length judging correctness by accuracy, on a file without answer",
         ("stages.s.rewards[0]", "reward 'kimi_length' reads column 'solution' or 'answer'"),
         on_file("grpo", stages__s__rewards=[{"name": "kimi_length", "kwargs": {"unit": "chars"}}]),
         files={"data.jsonl": NO_ANSWER}),
    case("json-schema-column", "json_schema without a schema, on a file without a schema column",
         ("stages.s.rewards[0]", "reward 'json_schema' reads column 'schema'"),
         on_file("grpo", stages__s__rewards=[{"name": "json_schema", "kwargs": {}}]), files={"data.jsonl": GOOD}),
    case("user-reward-columns", "a user reward that declares the column it reads (fn.columns)",
         ("stages.s.rewards[0]", "reward 'user.py:graded' reads column 'difficulty'", "prompt, completion, answer"),
         on_file("grpo", stages__s__rewards=["user.py:graded"]), files={"data.jsonl": GOOD, "user.py": DECLARED}),
    case("held-out-column-absent", "training rows have answer, the held-out file does not, evaluated in training",
         ("stages.s.rewards[0]", "the held-out data (file 'held.jsonl': prompt, completion)"),
         on_file("grpo", data__eval_path="held.jsonl", stages__s__eval__every=1),
         files={"data.jsonl": GOOD, "held.jsonl": NO_ANSWER}),
    case("eval-verifier-column", "eval.verifier exact_match on held-out rows without answer",
         ("stages.s.eval.verifier", "reward 'exact_match' reads column 'answer' or 'solution'",
          "held-out data (file 'held.jsonl'"), on_file("eval", data__eval_path="held.jsonl",
                                                      stages__s__eval__verifier="exact_match"),
         files={"data.jsonl": GOOD, "held.jsonl": NO_ANSWER}),
    case("data-verifier-column", "data.verifier gsm8k_match on a file without answer, split for held-out rows",
         ("data.verifier", "reward 'gsm8k_match' reads column 'answer' or 'solution'",
          "held-out data (file 'data.jsonl': prompt, completion)"),
         on_file("eval", data__eval_size=5, data__verifier="gsm8k_match"), files={"data.jsonl": NO_ANSWER}),
    case("policy-pairs-column", "dpo ranking its samples by numeric_match on pairs without answer",
         ("stages.s.rewards[0]", "the data (file 'data.jsonl': prompt, chosen, rejected)"),
         on_file("dpo", data__policy_pairs=2, stages__s__rewards=["numeric_match"]), files={"data.jsonl": PREFS}),
    # ---------------------------------------------------------------- models and tokenizers
    case("model-missing", "a model folder that does not exist", ("stages.e.model.path", "'./no/such/model'"),
         eval_only(stages__e__model={"path": "./no/such/model"})),
    case("tokenizer-missing", "a tokenizer folder that does not exist",
         ("stages.e.model.tokenizer", "tokenizer folder './no/tok' does not exist"),
         eval_only(stages__e__model__tokenizer="./no/tok")),
    case("model-both", "a model given as path and tiny", ("stages.e.model", "exactly one of path, tiny, from_stage"),
         eval_only(stages__e__model__path="x")),
    case("from-later-stage", "from_stage names a later stage",
         ("stages.sft.model.from_stage", "names no earlier stage"),
         pipeline(stages__sft__model={"from_stage": "eval"})),
    case("model-empty-folder", "a model folder with no files",
         ("stages.e.model", "cannot load 'empty_model'", "no config.json"),
         eval_only(stages__e__model={"path": "empty_model"}), files={"empty_model": empty_folder}, runs=True),
    case("model-hub-absent", "a hub id that is not in the offline cache",
         ("stages.e.model", "cannot load 'nobody-xyz/no-such-model'"),
         eval_only(stages__e__model={"path": "nobody-xyz/no-such-model"}), runs=True),
    case("no-chat-template", "a tokenizer without a chat template on conversational task data",
         ("stages.e.model", "has no chat template", "set model.tokenizer"),
         eval_only(stages__e__model={"path": "base_model"}), files={"base_model": model_without_chat_template},
         runs=True),
    # ---------------------------------------------------------------- reward modules
    case("reward-import-raises", "a reward file that raises when imported",
         ("stages.grpo.rewards[0].name", "importing 'bad_reward.py' failed", "RuntimeError: no GPU here"),
         pipeline(stages__grpo__rewards=["bad_reward.py:shaped"]),
         files={"bad_reward.py": "raise RuntimeError('no GPU here')\n"}),
    case("reward-syntax-error", "a reward file with a syntax error", ("importing 'broken.py' failed", "SyntaxError"),
         pipeline(stages__grpo__rewards=["broken.py:shaped"]), files={"broken.py": "def shaped(:\n"}),
    case("reward-module-absent", "a reward package that is not installed",
         ("stages.grpo.rewards[0].name", "cannot import module 'no_such_pkg_xyz.rewards'"),
         pipeline(stages__grpo__rewards=["no_such_pkg_xyz.rewards:fn"])),
    case("reward-function-absent", "a misspelt function in a reward file", ("has no 'shapd'", "did you mean 'shaped'"),
         pipeline(stages__grpo__rewards=["my_rewards.py:shapd"]), files={"my_rewards.py": REWARD}),
    case("reward-not-callable", "a reward that is a constant", ("'my_rewards.py:LIMIT' is not callable"),
         pipeline(stages__grpo__rewards=["my_rewards.py:LIMIT"]), files={"my_rewards.py": REWARD}),
    case("reward-file-absent", "a reward file that does not exist", ("file 'gone.py' does not exist"),
         pipeline(stages__grpo__rewards=["gone.py:shaped"])),
    # ---------------------------------------------------------------- reward code that misbehaves (os._exit cannot
    # be caught in-process and is out of scope)
    case("reward-import-exits", "a reward file that calls sys.exit(0) when imported",
         ("stages.grpo.rewards[0].name", "importing 'exits.py' failed", "called sys.exit(0)"),
         pipeline(stages__grpo__rewards=["exits.py:shaped"]), files={"exits.py": "import sys\nsys.exit(0)\n"}),
    case("reward-factory-raises", "a reward factory that raises KeyError",
         ("stages.grpo.rewards[0].name", "factory 'user.py:raising_factory' raised KeyError: 'scale'"),
         pipeline(stages__grpo__rewards=[{"name": "user.py:raising_factory", "kwargs": {"size": 1}}]),
         files={"user.py": MISBEHAVING}),
    case("reward-factory-none", "a reward factory that returns None",
         ("stages.grpo.rewards[0].name", "factory 'user.py:empty_factory' returned None",
          "a factory returns the reward function"),
         pipeline(stages__grpo__rewards=[{"name": "user.py:empty_factory", "kwargs": {"size": 1}}]),
         files={"user.py": MISBEHAVING}),
    case("reward-duplicate-name", "a user reward named like the built-in beside it (one rewards/<name>/mean)",
         ("stages.grpo.rewards[1].name", "'user.py:numeric_match' is named 'numeric_match'",
          "stages.grpo.rewards[0].name ('numeric_match')", "rewards/numeric_match/mean"),
         pipeline(stages__grpo__rewards=["numeric_match", "user.py:numeric_match"]), files={"user.py": MISBEHAVING}),
    case("reward-timeout-negative", "a reward time limit below zero",
         ("stages.grpo.rewards[0].timeout", "positive number of seconds", "-1"),
         pipeline(stages__grpo__rewards=[{"name": "numeric_match", "timeout": -1}])),
    case("verifier-timeout", "a time limit on eval.verifier, which is not guarded",
         ("stages.eval.eval.verifier.timeout", "applies to a stage's rewards only"),
         pipeline(stages__eval__eval__verifier={"name": "numeric_match", "timeout": 5})),
    case("reward-exits-in-call", "a reward that calls sys.exit(0) while training",
         ("reward 'quitter', sample 0 of 8", "called sys.exit(0)"),
         on_file("grpo", stages__s__rewards=["user.py:quitter"]), files={"data.jsonl": GOOD, "user.py": MISBEHAVING},
         runs=True),
    case("reward-mutates", "a reward that pops a completion from the list it is given",
         ("reward 'shrinker'", "returned 7 scores for 8 completions"),
         on_file("grpo", stages__s__rewards=["user.py:shrinker"]), files={"data.jsonl": GOOD, "user.py": MISBEHAVING},
         runs=True),
    case("verifier-exits", "a user eval.verifier that calls sys.exit(0) while scoring",
         ("reward 'quitter', sample 0 of 4", "called sys.exit(0)"),
         eval_only(stages__e__eval__verifier="user.py:quitter"), files={"user.py": MISBEHAVING}, runs=True),
    case("reward-hangs", "a reward that never returns, given a 0.5 s limit",
         ("reward 'sleeper' did not return within 0.5 s", "on a batch of 8 completions"),
         on_file("grpo", stages__s__rewards=[{"name": "user.py:sleeper", "timeout": 0.5}]),
         files={"data.jsonl": GOOD, "user.py": MISBEHAVING}, runs=True),
    # ---------------------------------------------------------------- a full disk while saving (simulated)
    case("disk-full-model", "ENOSPC while saving the trained model",
         ("cannot write the stage's model 'run/s/model'", "No space left on device (ENOSPC)", "--resume"),
         on_file(stages__s__trainer__per_device_train_batch_size=4, stages__s__trainer__logging_steps=1),
         files={"data.jsonl": GOOD}, fault="model", runs=True),
    case("disk-full-init", "ENOSPC while saving the tiny starting model",
         ("cannot write the tiny model 'run/e/init'", "No space left on device"), eval_only(), fault="init", runs=True),
    case("disk-full-marker", "ENOSPC while writing the stage's summary.json",
         ("cannot write 'run/e/summary.json'", "No space left on device"), eval_only(), fault="summary.json",
         runs=True),
    case("disk-full-output", "ENOSPC while writing the stage's output.json",
         ("cannot write 'run/e/output.json'", "ENOSPC"), eval_only(), fault="output.json", runs=True),
    case("disk-full-metrics", "ENOSPC while appending to metrics.jsonl",
         ("cannot write the metrics log 'run/metrics.jsonl'", "ENOSPC"), eval_only(), fault="metrics.jsonl",
         runs=True),
    case("disk-full-config", "ENOSPC while writing the resolved recipe at the start",
         ("cannot write the resolved recipe 'run/config.yaml'", "ENOSPC"), eval_only(), fault="config.yaml",
         runs=True),
    # ---------------------------------------------------------------- command-line overrides
    case("override-no-equals", "an override without '='", "override 'seed' is not of the form key=value",
         pipeline(), args=("seed",)),
    case("override-under-scalar", "an override below a scalar", ("seed", "not a mapping: cannot set 'seed.x'"),
         pipeline(), args=("seed.x=1",)),
    case("override-typo", "an override with a misspelt trainer key",
         ("stages.grpo.trainer.max_step", "did you mean 'max_steps'"), pipeline(),
         args=("stages.grpo.trainer.max_step=5",)),
    case("override-stage-typo", "an override naming a misspelt stage", ("stages.grpoo.trainer.max_steps",
         "no stage 'grpoo'", "did you mean 'grpo'"), pipeline(), args=("stages.grpoo.trainer.max_steps=5",)),
    case("override-stage-part", "an override adding part of a stage that does not exist",
         ("no stage 'extra'", "stages: sft, grpo, eval"), pipeline(), args=("stages.extra.algorithm=eval",)),
    case("override-duplicate-key", "a key twice in an override's value, as refused in a file",
         ("stages.sft.trainer", "key 'max_steps' appears twice"), pipeline(),
         args=("stages.sft.trainer={max_steps: 1, max_steps: 2}",)),
    case("override-bomb", "an override value of aliases expanding to billions", ("data.kwargs",
         "expands to more than 100,000"), pipeline(), args=("data.kwargs={" + BOMB.replace("\n", ", ") + "}",)),
    case("override-deep", "an override nested 20,000 brackets deep", ("seed", "nested too deeply"), pipeline(),
         args=("seed=" + "[" * 20_000,)),
    case("seeds-too-many", "--seeds 0-100000", ("--seeds", "100001 seeds", "at most 1000"), pipeline(),
         args=("--seeds", "0-100000")),
    # ---------------------------------------------------------------- YAML features: merges, aliases, depth
    case("yaml-merge-checked", "a stage merged from another (<<: *a) is checked like any other",
         ("stages.b.algorithm", "unknown algorithm 'evl'", "did you mean 'eval'"),
         "data: {task: arithmetic}\nstages:\n  a: &a {algorithm: eval, model: {tiny: {hidden_size: 32}}}\n"
         "  b: {<<: *a, algorithm: evl}\n"),
    case("yaml-merge-duplicate", "a key twice beside a merge", "key 'model' appears twice",
         "stages:\n  a: &a {algorithm: eval, model: x}\n  b: {<<: *a, model: y, model: z}\n"),
    case("yaml-bomb", "aliases of aliases expanding to 9**9 strings (billion laughs)",
         ("recipe.yaml", "expands to more than 100,000"), BOMB + YAML_OK),
    case("yaml-self-alias", "a list that contains itself", "expands to more than 100,000",
         "loop: &l [1, *l]\n" + YAML_OK),
    case("yaml-deep", "20,000 nested brackets", ("recipe.yaml", "nested too deeply"), "stages: " + "[" * 20_000),
    # ---------------------------------------------------------------- the files of an earlier run
    resume("config-empty", ("old/config.yaml", "the run's resolved recipe is empty"), config_yaml=""),
    resume("config-garbage", ("old/config.yaml", "not UTF-8"), config_yaml=b"\x00\xff\xfe\x80"),
    resume("config-list", ("old/config.yaml", "should be a mapping, got list"), config_yaml="- a\n- b\n"),
    resume("config-broken", ("old/config.yaml", "not valid YAML", "line 1"), config_yaml="stages: [oops"),
    resume("summary-empty", ("old/summary.json", "the run's summary is empty"), summary_json=""),
    resume("summary-garbage", ("old/summary.json", "not valid JSON at line 1"), summary_json="{seed: 0"),
    resume("summary-no-seed", ("old/summary.json", "has no 'seed'"),
           summary_json=json.dumps({"recipe": "smoke", "stages": {}})),
    resume("output-empty", ("old/e/output.json", "model reference is empty"), e__output_json=""),
    resume("output-list", ("old/e/output.json", "should be a mapping, got list"), e__output_json="[1, 2]"),
    resume("output-no-base", ("old/e/output.json", "has no 'base'"), e__output_json='{"adapters": []}'),
    resume("output-extra-key", ("old/e/output.json", "unknown key 'merged'", "allowed: base"),
           e__output_json=json.dumps({"base": "m", "adapters": [], "tokenizer": None, "merged": True})),
    resume("stage-summary-garbage", ("old/e/summary.json", "the stage's summary is not valid JSON"),
           e__summary_json=b"\x7bPK\x03\x04"),
    resume("stage-summary-type", ("old/e/summary.json", "'algorithm' should be string, got 3"),
           e__summary_json=json.dumps({"algorithm": 3, "wall_s": 1.0})),
    resume("env-broken", ("old/env.json", "the run's environment is not valid JSON"), env_json="{"),
    case("resume-a-file", "--resume names a file", "'old' is not a run folder", files={"old": "text"},
         command=("run", "--resume", "old")),
    compare("summary-empty", ("old/summary.json", "is empty"), summary_json=""),
    compare("summary-garbage", ("old/summary.json", "not UTF-8"), summary_json=b"\xff\xd8\xff\xe0"),
    compare("summary-list", ("old/summary.json", "should be a mapping, got list"), summary_json="[0.5]"),
    compare("summary-no-seed", ("old/summary.json", "has no 'seed'"),
            summary_json=json.dumps({"recipe": "smoke", "stages": {}})),
    compare("summary-seed-text", ("old/summary.json", "'seed' should be int, got 'one'"),
            summary_json=json.dumps({"recipe": "smoke", "seed": "one", "stages": {}})),
    compare("unfinished", ("old", "has not finished", "rlft run --resume old"), run_folder(finished=False)),
    compare("metrics-broken", ("old/metrics.jsonl", "line 2 is not valid JSON"),
            metrics_jsonl=jsonl([{"stage": "e", "step": 0}]) + '{"stage": "e", "st\n'),
    compare("sweep-broken", ("old/sweep.json", "the sweep's record is not valid JSON"), sweep_folder("{,}")),
    compare("sweep-no-label", ("old/sweep.json", "has no 'label'"),
            sweep_folder(json.dumps({"planned": [0], "seeds": [0]}))),
    compare("sweep-seed-text", ("old/sweep.json", "whole numbers, got 'a'"),
            sweep_folder(json.dumps({"label": "x", "planned": [0], "seeds": ["a"]}))),
    compare("sweep-run-broken", ("old/s0/summary.json", "has no 'stages'"),
            sweep_folder(summary_json=json.dumps({"recipe": "smoke", "seed": 0}))),
    case("compare-out-file", "compare --out names a file", ("--out", "'cmp' is a file"),
         files={"old": run_folder(), "cmp": "text"}, command=("compare", "old", "--out", "cmp")),
    # run folders: a new run never mixes its files with another's, and a name cannot leave output_dir
    case("rundir-finished-run", "--run-dir holds a finished run", ("--run-dir", "already holds a finished run",
         "rlft run --resume old", "--overwrite"), eval_only(), files={"old": run_folder()},
         command=("run", "recipe.yaml", "--run-dir", "old")),
    case("rundir-unfinished-run", "--run-dir holds an interrupted run", ("--run-dir", "an unfinished run"),
         eval_only(), files={"old": run_folder(finished=False)}, command=("run", "recipe.yaml", "--run-dir", "old")),
    case("rundir-foreign-overwrite", "--overwrite on a folder of someone's files", ("--run-dir", "not a run's",
         "never deletes"), eval_only(), files={"old": lambda p, _: (p.mkdir(), (p / "thesis.tex").write_text("x"))},
         command=("run", "recipe.yaml", "--run-dir", "old", "--overwrite")),
    case("rundir-is-file", "--run-dir names a file", ("--run-dir", "'old' is a file, not a folder"), eval_only(),
         files={"old": "text"}, command=("run", "recipe.yaml", "--run-dir", "old")),
    case("name-escapes", "a recipe name that climbs out of output_dir", ("name", "'../escaped'",
         "cannot name a run folder"), eval_only(name="../escaped")),
    case("name-absolute", "a recipe name that is an absolute path", ("name", "cannot name a run folder"),
         eval_only(name="/tmp/elsewhere")),
    case("overwrite-sweep", "--overwrite with --seeds", ("--overwrite", "a sweep always starts a new folder"),
         eval_only(), command=("run", "recipe.yaml", "--seeds", "0-1", "--overwrite")),
    case("jobs-zero", "--jobs 0", ("--jobs", "must be at least 1, got 0"), eval_only(),
         command=("run", "recipe.yaml", "--seeds", "0-1", "--jobs", "0")),
    case("jobs-without-seeds", "--jobs without --seeds", ("--jobs", "applies to a sweep"), eval_only(),
         command=("run", "recipe.yaml", "--jobs", "2")),
]
