"""Data for stages: `datasets.Dataset`s with the canonical columns `prompt`, `completion` (SFT), `answer`.

Built-in tasks are conversational: `prompt` is `[{"role": "user", ...}]` and `completion` is
`[{"role": "assistant", ...}]`, which TRL's trainers and the tokenizer's chat template both understand.
Local JSONL/CSV/Parquet files and datasets from the hub (rlft.data.hub: `columns` says which of theirs are these)
may be conversational or plain text with the same column names. reasoning-gym rows (`rlft.data.reasoning_gym`)
are conversational too and add `task`, `task_config` and `metadata`.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from rlft.core.config import DataSpec, RewardSpec
from rlft.core.schema import ConfigError, join, suggest
from rlft.data import hub
from rlft.data import reasoning_gym as gym
from rlft.data.files import FILE_FORMATS, read_file
from rlft.data.files import conversational as file_is_conversational
from rlft.data.preferences import preference_rows, unpaired_rows
from rlft.data.tasks import TASKS, Task, sample_problems
from rlft.rewards.registry import lacks

DEFAULT_TRAIN_SIZE = 5000
DEFAULT_EVAL_SIZE = 200
FILE_VERIFIER = "numeric_match"  # local files without data.verifier: answers compared as numbers
# The columns each kind of training data needs in a local file (tasks generate them).
KINDS = {
    "prompt": ("prompt",),
    "sft": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "unpaired": ("prompt", "completion", "label"),
    "logged": ("prompt", "completion"),  # completions of mixed quality, scored by the stage's rewards (A-LoL)
}

__all__ = [
    "FILE_FORMATS",
    "TASKS",
    "Columns",
    "Task",
    "check",
    "check_reads",
    "check_stage_reads",
    "conversational",
    "load_splits",
    "read_file",
    "task_rows",
    "verifier_name",
    "verifier_spec",
]


def task_rows(problems: list[tuple[str, str]]) -> dict[str, list]:
    """Columns for a list of (prompt, answer) problems, in conversational form.

    >>> task_rows([("1+2=", "3")])["completion"]
    [[{'role': 'assistant', 'content': '3'}]]
    """
    return {
        "prompt": [[{"role": "user", "content": p}] for p, _ in problems],
        "completion": [[{"role": "assistant", "content": a}] for _, a in problems],
        "answer": [a for _, a in problems],
    }


def gym_rows(problems) -> dict[str, list]:
    """Columns for reasoning-gym problems (`gym.Problem`): a task's columns plus `task`, `task_config` and
    `metadata`, which the `reasoning_gym` reward reads to call each row's own verifier.

    >>> sorted(gym_rows([gym.Problem("1+2=", "3", "chain_sum", "{}", "{}")]))
    ['answer', 'completion', 'metadata', 'prompt', 'task', 'task_config']
    """
    rows = task_rows([(p.prompt, p.answer) for p in problems])
    return {**rows, **{c: [getattr(p, c) for p in problems] for c in gym.COLUMNS}}


def _gym_problems(spec: DataSpec, seed: int, key: str, kind: str):
    """(train, held-out) reasoning-gym problems of a spec, after checking that `kind` rows can be made."""
    at = join(key, "reasoning_gym")
    if not set(KINDS[kind]) <= {"prompt", "completion"}:  # what a generated problem and its answer make
        needs = ", ".join(KINDS[kind])
        raise ConfigError(at, f"gives prompt/completion rows; this stage trains on {kind} rows ({needs}), which a "
                          "built-in `task:` or files give")  # fmt: skip
    n_eval = DEFAULT_EVAL_SIZE if spec.eval_size is None else spec.eval_size
    train, held = gym.problems(spec.reasoning_gym, seed, spec.train_size or DEFAULT_TRAIN_SIZE, n_eval, at)
    gym.check_answers(train, "completion" in KINDS[kind], at)
    return train, held


def _task(spec: DataSpec, key: str) -> Task:
    task = TASKS.get(spec.task)
    if task is None:
        raise ConfigError(
            join(key, "task"), f"unknown task '{spec.task}'{suggest(spec.task, TASKS)}; allowed: {', '.join(TASKS)}"
        )
    params = task.parameters()
    for name in spec.kwargs:
        if name not in params:
            raise ConfigError(
                join(join(key, "kwargs"), name),
                f"unknown argument of task '{task.name}'{suggest(name, params)}; allowed: {', '.join(params)}",
            )
    try:
        inspect.signature(task.problem).bind(0, **spec.kwargs)
        task.size(**spec.kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(join(key, "kwargs"), str(e)) from None
    return task


class Columns(NamedTuple):
    """The columns of a stage's training rows and of its held-out rows (None: there are none), each with a
    label for messages: `data (file 'x.jsonl': prompt, completion)`."""

    train: tuple[str, ...]
    train_label: str
    held: tuple[str, ...] | None
    held_label: str


def _label(split: str, source: str, columns) -> str:
    return f"{split} ({source}: {', '.join(columns)})"


def _task_columns(kind: str) -> tuple[str, ...]:
    """The columns of a task's rows of `kind`, from the row builders themselves."""
    make = {"preference": preference_rows, "unpaired": unpaired_rows}.get(kind)
    return tuple(make([("1+1=", "2")], 0) if make else task_rows([("1+1=", "2")]))


class Rows(NamedTuple):
    """The rows of local files or a hub dataset, with the words messages name them by."""

    train: object  # datasets.Dataset
    held: object | None  # the held-out rows of `eval_path` / `eval_split`, else None
    source: str  # "file 'x.jsonl'", "hub dataset 'openai/gsm8k' config main split train"
    held_source: str
    quoted: str  # the training rows inside a sentence: "'x.jsonl'"
    held_option: str  # the option that gives held-out rows


def _rows(spec: DataSpec, key: str, required: tuple[str, ...]) -> Rows:
    """Read and check the rows of local files (`path`, `eval_path`) or a hub dataset (`hub`, `eval_split`)."""
    if spec.hub is not None:
        train, held = hub.read(spec, key, required)
        where = hub.name(spec, spec.split or hub.DEFAULT_SPLIT)
        return Rows(train, held, where, hub.name(spec, spec.eval_split or ""), where, "eval_split (a split of the "
                    "dataset)")  # fmt: skip
    train = read_file(spec.path, join(key, "path"), required)
    held = read_file(spec.eval_path, join(key, "eval_path"), required) if spec.eval_path else None
    return Rows(train, held, f"file '{spec.path}'", f"file '{spec.eval_path}'", f"'{spec.path}'", "eval_path (a file)")


def check(spec: DataSpec, key: str, kind: str = "prompt", held_out: bool = False, seed: int = 0) -> Columns:
    """Validate a data spec (files are read to check the columns `kind` needs; reasoning-gym rows are drawn
    with the data seed, else `seed`, as the run draws them) and return the columns its rows will have.
    `held_out`: the stage evaluates, so a file needs `eval_path` or an `eval_size` it can split off."""
    required = KINDS[kind]
    if held_out and (spec.task is not None or spec.reasoning_gym is not None) and spec.eval_size == 0:
        raise ConfigError(join(key, "eval_size"), "an eval stage needs held-out rows: must be > 0, got 0")
    if spec.reasoning_gym is not None:
        train, _ = _gym_problems(spec, spec.seed if spec.seed is not None else seed, key, kind)
        columns = tuple(gym_rows(train[:1]))
        names = ", ".join(dict.fromkeys(t.name for _, t in spec.reasoning_gym.tasks(key)))
        label = _label("data", f"reasoning-gym '{names}'", columns)
        return Columns(columns, label, columns if spec.eval_size != 0 else None, f"held-out {label}")
    if spec.task is not None:
        task = _task(spec, key)
        n = (spec.train_size or DEFAULT_TRAIN_SIZE) + (DEFAULT_EVAL_SIZE if spec.eval_size is None else spec.eval_size)
        if n > task.size(**spec.kwargs):
            raise ConfigError(
                join(key, "train_size"),
                f"train_size + eval_size = {n} exceeds the {task.size(**spec.kwargs)} distinct problems of "
                f"task '{task.name}' with these kwargs",
            )
        columns = _task_columns(kind)
        label = _label("data", f"task '{task.name}'", columns)
        return Columns(columns, label, columns if spec.eval_size != 0 else None, f"held-out {label}")
    source = _rows(spec, key, required)
    rows, columns = len(source.train), tuple(source.train.column_names)
    label = _label("data", source.source, columns)
    result = Columns(columns, label, columns if spec.eval_size else None, f"held-out {label}")
    if source.held is not None:
        held = tuple(source.held.column_names)
        result = result._replace(held=held, held_label=_label("held-out data", source.held_source, held))
    elif spec.eval_size and spec.eval_size >= rows:
        raise ConfigError(join(key, "eval_size"), f"must be less than the {rows} rows of {source.quoted} "
                          f"(they are split into training and held-out rows), got {spec.eval_size}")  # fmt: skip
    elif held_out and not spec.eval_size:
        raise ConfigError(key, f"an eval stage needs held-out rows: set {source.held_option} or eval_size (rows "
                          f"split off {source.quoted})")  # fmt: skip
    return result


def check_reads(key: str, name: str, reward, columns: tuple[str, ...], label: str) -> None:
    """Refuse a reward (or verifier) that reads a column the rows lack: it would score every row None."""
    group = lacks(reward, columns)
    if group is not None:
        raise ConfigError(
            key, f"reward '{name}' reads column {' or '.join(map(repr, group))}, which the {label} does not have"
        )


def check_stage_reads(columns: Columns, rewards: list, judges: list, trains: bool, evaluates: bool) -> None:
    """Check what a stage's rewards and judges read against its rows. `rewards`, `judges`: (key, name, reward)
    of the stage's rewards (on training rows when `trains` uses them, and on held-out rows) and of the
    verifier and format judge (held-out rows only); `evaluates`: the stage scores held-out rows."""
    for key, name, reward in rewards if trains else []:
        check_reads(key, name, reward, columns.train, columns.train_label)
    for key, name, reward in [*rewards, *judges] if evaluates and columns.held is not None else []:
        check_reads(key, name, reward, columns.held, columns.held_label)


def load_splits(spec: DataSpec, seed: int, key: str = "data", kind: str = "prompt"):
    """(train, held-out) datasets for a spec; the held-out one is None when a file gives none.

    `kind` is what the rows must hold: `sft` (prompt, completion), `preference` (prompt, chosen, rejected),
    `unpaired` (prompt, completion, label), `logged` (prompt, completion: mixed quality) or just `prompt`;
    a task's rows also carry `answer`, so the
    held-out split serves both evaluation by generation and, for preferences, pairwise accuracy. The same
    spec and seed always give the same rows, so every stage of a recipe sees the same split.
    """
    from datasets import Dataset

    required = KINDS[kind]
    seed = spec.seed if spec.seed is not None else seed
    if spec.reasoning_gym is not None:
        train, held = _gym_problems(spec, seed, key, kind)
        return Dataset.from_dict(gym_rows(train)), Dataset.from_dict(gym_rows(held)) if held else None
    if spec.task is not None:
        task = _task(spec, key)
        n_eval = DEFAULT_EVAL_SIZE if spec.eval_size is None else spec.eval_size
        train, held = sample_problems(task, spec.kwargs, spec.train_size or DEFAULT_TRAIN_SIZE, n_eval, seed)
        # logged rows of a task: half correct answers, half plausible mistakes (the unpaired rows)
        make = {"preference": preference_rows, "unpaired": unpaired_rows, "logged": unpaired_rows}.get(kind)
        if make is None:
            make = lambda problems, *_: task_rows(problems)  # noqa: E731
        held_rows = make(held, seed + 1, 0.0) if held else None  # held-out pairs are never flipped
        train_set = Dataset.from_dict(make(train, seed, spec.label_noise))
        return train_set, Dataset.from_dict(held_rows) if held_rows else None
    source = _rows(spec, key, required)
    train, held = source.train, source.held
    if held is None and spec.eval_size:
        if spec.eval_size >= len(train):
            raise ConfigError(join(key, "eval_size"), f"{spec.eval_size} >= the {len(train)} rows of {source.quoted}")
        parts = train.train_test_split(test_size=spec.eval_size, seed=seed, shuffle=True)
        train, held = parts["train"], parts["test"]
    if spec.train_size is not None:
        train = train.select(range(min(spec.train_size, len(train))))
    return train, held


def verifier_spec(spec: DataSpec) -> RewardSpec:
    """The reward that decides correctness for this data: `data.verifier`, else the task's verifier (for
    reasoning-gym, each row's task's own: the `reasoning_gym` reward), else numeric_match for files (it
    compares numbers: `46` equals `46.0` and `05815` equals `5815`; set `data.verifier: exact_match` for
    answers that are strings).

    >>> verifier_spec(DataSpec(path="x.jsonl")).name, verifier_spec(DataSpec(task="arithmetic")).name
    ('numeric_match', 'numeric_match')
    >>> verifier_spec(DataSpec(path="x.jsonl", verifier=RewardSpec("exact_match"))).name
    'exact_match'
    """
    if spec.verifier is not None:
        return spec.verifier
    if spec.reasoning_gym is not None:
        return RewardSpec(gym.VERIFIER)
    return RewardSpec(TASKS[spec.task].verifier if spec.task is not None else FILE_VERIFIER)


def verifier_name(spec: DataSpec) -> str:
    """The name of `verifier_spec(spec)`: what summaries and console lines say judged accuracy."""
    return verifier_spec(spec).name


def conversational(spec: DataSpec) -> bool:
    """Whether a stage's rows are message lists, which need the tokenizer's chat template: generated rows (a
    task's, reasoning-gym's) always are; a file's or a hub dataset's are when its first `prompt` is a list."""
    if spec.hub is not None:
        return hub.conversational(spec)
    return spec.path is None or file_is_conversational(spec.path)
