"""Rows from reasoning-gym's seeded task generators (optional: `pip install 'rlft[tasks]'`), one task or a
weighted mixture, each row scored by its own task's verifier (the `reasoning_gym` reward).

The held-out split is drawn first, then the training rows, from one stream of problems: task `j` of the spec
generates from a seed derived from the data seed and `j` (most reasoning-gym tasks make item `i` from
`Random(seed + i)`, so seeds 0 and 1 would share most problems; derived seeds do not), and a mixture picks
each problem's task by weight with `Random(data seed)`. Held-out prompts are distinct, and a training problem
whose prompt is in the held-out split is skipped, so the splits never overlap; training prompts may repeat
where a task has few distinct problems. The held-out split depends only on the seed, the tasks and `eval_size`, not on
`train_size`. Validation draws the same rows the run trains on (kept for the run in the same process).
"""

from __future__ import annotations

import difflib
import functools
import json
import random
import textwrap
from dataclasses import fields
from typing import NamedTuple

from rlft.core.reasoning_gym_spec import GymTask, ReasoningGymSpec
from rlft.core.schema import ConfigError, join, suggest
from rlft.rewards.guard import Timeout, limited
from rlft.rewards.reasoning_gym import INSTALL, available, encode

VERIFIER = "reasoning_gym"  # the reward that judges every row, whatever its task
COLUMNS = ("task", "task_config", "metadata")  # what a row carries beside prompt, completion and answer
NOT_TASKS = {"composite": "reasoning-gym's own mixture: write `mixture:` here instead, which keeps each row's verifier"}
PROBLEM_SECONDS = 60  # a limit per generated problem (the slowest tasks take about 1.3 s: knight_swap)
RLFT_SETTINGS = {"seed": "the data seed (data.seed, else the recipe's seed)", "size": "train_size and eval_size"}


class Problem(NamedTuple):
    """One generated row: the question, the reference answer (None for tasks whose verifier checks a
    solution instead), the task's name and settings (JSON) and the entry's metadata (`encode`d JSON)."""

    prompt: str
    answer: str | None
    task: str
    task_config: str
    metadata: str


def library(key: str):
    """The reasoning_gym module, or a ConfigError at `key` naming the extra that installs it."""
    if not available():
        raise ConfigError(key, f"reasoning-gym tasks need the reasoning-gym package: {INSTALL}")
    import reasoning_gym

    return reasoning_gym


def task_names() -> list[str]:
    """Every task reasoning-gym registers, except its own composite (see NOT_TASKS)."""
    from reasoning_gym.factory import DATASETS

    return sorted(n for n in DATASETS if n not in NOT_TASKS)


def settings(name: str) -> list[str]:
    """The generator settings of a task that a recipe may set: its config class's fields but seed and size."""
    from reasoning_gym.factory import DATASETS

    return [f.name for f in fields(DATASETS[name][1]) if f.name not in RLFT_SETTINGS]


def generator(task: GymTask, key: str, seed: int, size: int):
    """Task `task`'s generator with rlft's seed and size; an unknown name or setting, or settings the task
    refuses, is a ConfigError at the key that says so."""
    rg = library(key)
    names = task_names()
    if task.name not in names:
        why = NOT_TASKS.get(task.name)
        close = difflib.get_close_matches(task.name, names, n=5, cutoff=0.6)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise ConfigError(join(key, "name"), why or f"unknown reasoning-gym task '{task.name}'{hint}; `rlft list "
                          f"tasks` lists all {len(names)}")  # fmt: skip
    allowed = settings(task.name)
    for name in task.config:
        if name in RLFT_SETTINGS:
            raise ConfigError(join(join(key, "config"), name), f"is set by rlft from {RLFT_SETTINGS[name]}")
        if name not in allowed:
            raise ConfigError(join(join(key, "config"), name), f"unknown setting of task '{task.name}'"
                              f"{suggest(name, allowed)}; allowed: {', '.join(allowed) or 'none'}")  # fmt: skip
    try:
        return rg.create_dataset(task.name, **task.config, seed=seed, size=size)
    except Exception as e:  # the tasks check their settings with assert, ValueError or TypeError
        raise ConfigError(
            join(key, "config"), f"task '{task.name}' refuses these settings: {type(e).__name__}: {e}"
        ) from None


def task_seed(seed: int, position: int) -> int:
    """The generator seed of the task at `position` of a spec, for data seed `seed`.

    >>> task_seed(0, 0) == task_seed(0, 0), task_seed(0, 0) != task_seed(1, 0), task_seed(0, 0) != task_seed(0, 1)
    (True, True, True)
    """
    return random.Random(f"rlft/reasoning_gym/{seed}/{position}").randrange(2**32)


def problems(spec: ReasoningGymSpec, seed: int, n_train: int, n_eval: int, key: str):
    """(training problems, held-out problems) for a spec: lists of `Problem` (see the module's docstring)."""
    library(key)  # before the cache: a missing package is reported however often the rows were drawn
    tasks = spec.tasks(key)
    text = json.dumps([(k, t.name, t.config, t.weight) for k, t in tasks], sort_keys=True)
    return _draw(text, seed, n_train, n_eval, key)


@functools.lru_cache(maxsize=4)
def _draw(tasks_json: str, seed: int, n_train: int, n_eval: int, key: str):
    tasks = [(k, GymTask(name, config, weight)) for k, name, config, weight in json.loads(tasks_json)]
    budget = 2 * (n_train + n_eval) + 100  # draws allowed: room for repeated prompts, and each generator's size
    gens = [generator(task, k, task_seed(seed, j), budget) for j, (k, task) in enumerate(tasks)]
    configs = [json.dumps(task.config, sort_keys=True) for _, task in tasks]
    weights = [task.weight for _, task in tasks]
    rng, used = random.Random(seed), [0] * len(tasks)
    held: dict[str, Problem] = {}
    train: list[Problem] = []
    for _ in range(budget):
        if len(held) == n_eval and len(train) == n_train:
            break
        j = rng.choices(range(len(tasks)), weights)[0] if len(tasks) > 1 else 0
        (k, task), index = tasks[j], used[j]
        used[j] += 1
        try:
            entry = limited(gens[j].__getitem__, PROBLEM_SECONDS, (index,))
            row = Problem(entry["question"], entry["answer"], task.name, configs[j], encode(entry["metadata"]))
        except Timeout:
            raise ConfigError(k, f"task '{task.name}' did not make problem {index} within {PROBLEM_SECONDS} s: some "
                              "generators search until they find a problem their settings allow, and these settings "
                              "may allow none (base_conversion with min_base equal to max_base)") from None  # fmt: skip
        except Exception as e:
            raise ConfigError(k, f"task '{task.name}' failed making problem {index}: {type(e).__name__}: {e}") from None
        if len(held) < n_eval:
            held.setdefault(row.prompt, row)
        elif row.prompt not in held:
            train.append(row)
    else:
        if len(held) < n_eval or len(train) < n_train:
            raise ConfigError(key, f"{budget} draws gave "
                              f"{len(held)} distinct held-out problems (eval_size {n_eval}) and {len(train)} "
                              f"training problems unseen there (train_size {n_train}): these settings have too few "
                              "distinct problems; lower train_size or eval_size, or widen the settings")  # fmt: skip
    return tuple(train), tuple(held.values())


def check_answers(rows, trains_on_answers: bool, key: str) -> None:
    """SFT trains on the reference answer (`trains_on_answers`: the stage's rows need a completion): refuse rows
    of tasks that have none (their verifier checks a solution of the model's, as in graph colouring)."""
    missing = sorted({r.task for r in rows if r.answer is None})
    if trains_on_answers and missing:
        raise ConfigError(
            key,
            f"task '{missing[0]}' gives no reference answer to train on, so an sft stage "
            "cannot use it; train it with an RL stage (its verifier checks the model's own solution)",
        )


def listing() -> list[str]:
    """The lines `rlft list tasks` prints for reasoning-gym."""
    if not available():
        return [f"  reasoning_gym: not installed ({INSTALL})"]
    names = task_names()
    return [
        f"  reasoning_gym: {len(names)} tasks (data: {{reasoning_gym: {{name: TASK, config: {{...}}}}}} or "
        f"{{reasoning_gym: {{mixture: [{{name, weight, config}}, ...]}}}}); verifier: {VERIFIER}",
        *textwrap.wrap(", ".join(names), 116, initial_indent="    ", subsequent_indent="    "),
    ]
