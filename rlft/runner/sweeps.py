"""Sweeps: one recipe run once per seed (one after another, or in parallel processes) into one folder; and
finding the runs a path holds.

    runs/<recipe>/sweep-<YYYYmmdd-HHMMSS>/     (or --run-dir DIR)
      sweep.json     recipe name, label, source, overrides, planned and finished seeds
      recipe.yaml    the resolved recipe every seed runs (its own seed set per run); more seeds run from it
      s<seed>/       an ordinary run folder per seed
      logs/          with --jobs: each seed's console output (s<seed>.log)

A sweep's label (the variant name in `rlft compare`) is the recipe name, with its overrides in brackets when
there are any, so sweeps of one recipe with different overrides compare as different variants.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from rlft.core.config import Recipe, to_dict
from rlft.core.distributed import expected_world_size
from rlft.core.recipe_text import parse_override
from rlft.core.runfiles import SUMMARY_KEYS, SWEEP_KEYS, read_json, read_yaml
from rlft.core.schema import SEED_MAX, ConfigError
from rlft.core.tracking import new_dir, write_json
from rlft.runner.pipeline import RunResult, run
from rlft.runner.recipe import load_recipe
from rlft.runner.seed_jobs import budget, run_parallel

SWEEP_FILE = "sweep.json"
RECIPE_FILE = "recipe.yaml"
MAX_SEEDS = 1000  # one run per seed, one after another: more is a typo, not a sweep


def parse_seeds(text: str) -> list[int]:
    """Seeds from `0-4` (inclusive), `0,2,5` or a mix like `0-2,7`; in the order given; at most MAX_SEEDS.

    >>> parse_seeds("0-4"), parse_seeds("3"), parse_seeds("0-1,7,9-10")
    ([0, 1, 2, 3, 4], [3], [0, 1, 7, 9, 10])
    >>> parse_seeds("4-1")
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: --seeds: '4-1' counts down; write the range as 1-4
    >>> parse_seeds("0-100000")
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: --seeds: '0-100000' names 100001 seeds; a sweep runs at most 1000
    >>> parse_seeds("4294967296")
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: --seeds: '4294967296' goes past 4294967295: seeds are 32-bit, in [0, 4294967295]
    """
    seeds: list[int] = []
    seen: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d{1,18})(?:-(\d{1,18}))?", part)
        if not m:
            raise ConfigError("--seeds", f"'{text}' is not a list of seeds like 0-4, 0,2,5 or 0-2,7")
        low, high = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if high < low:
            raise ConfigError("--seeds", f"'{part}' counts down; write the range as {high}-{low}")
        if high > SEED_MAX:
            raise ConfigError("--seeds", f"'{part}' goes past {SEED_MAX}: seeds are 32-bit, in [0, {SEED_MAX}]")
        if len(seeds) + high - low + 1 > MAX_SEEDS:  # checked before the range is made: 0-10**12 is refused at once
            count = len(seeds) + high - low + 1
            raise ConfigError("--seeds", f"'{text}' names {count} seeds; a sweep runs at most {MAX_SEEDS}")
        for seed in range(low, high + 1):
            if seed in seen:
                raise ConfigError("--seeds", f"'{text}' names seed {seed} twice")
            seen.add(seed)
            seeds.append(seed)
    return seeds


def default_label(name: str, overrides: dict) -> str:
    """The variant name of a sweep: the recipe name, with its overrides.

    >>> default_label("quickstart", {}), default_label("quickstart", {"stages.grpo.trainer.beta": 0.04})
    ('quickstart', 'quickstart[stages.grpo.trainer.beta=0.04]')
    """
    if not overrides:
        return name
    shown = ",".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in overrides.items())
    return f"{name}[{shown}]"


@dataclass
class SweepResult:
    """What `rlft.sweep` returns: the sweep folder and one RunResult per seed."""

    path: Path
    runs: list[RunResult]

    def __repr__(self) -> str:
        return f"SweepResult(path='{self.path}', seeds={[r.summary['seed'] for r in self.runs]})"


def new_sweep_dir(output_dir: str, recipe_name: str) -> Path:
    """runs/<recipe>/sweep-<YYYYmmdd-HHMMSS>, with a numeric suffix if that folder exists."""
    return new_dir(output_dir, recipe_name, "sweep-{time}")


def read_sweep(path: Path) -> dict:
    """A sweep's sweep.json, checked: its seeds are whole numbers."""
    file = Path(path) / SWEEP_FILE
    info = read_json(file, "the sweep's record", SWEEP_KEYS)
    for key in ("planned", "seeds"):
        bad = [s for s in info[key] if not isinstance(s, int) or isinstance(s, bool)]
        if bad:
            raise ConfigError("", f"the sweep's record: '{key}' should hold whole numbers, got {bad[0]!r}", str(file))
    return info


def read_sweep_recipe(path: Path) -> dict:
    return read_yaml(Path(path) / RECIPE_FILE, "the sweep's resolved recipe")


def _resolved(recipe: Recipe) -> dict:
    """The recipe as plain data without its seed and its `expect:` claims (which train nothing, so that claims
    written after a measurement still reuse its runs): what every run of a sweep shares."""
    data = yaml.safe_load(yaml.safe_dump(to_dict(recipe), sort_keys=False))
    data.pop("seed", None)
    data.pop("expect", None)
    return data


def start(recipe, overrides: dict | list[str] | None = None, sweep_dir=None, label: str | None = None,
          rewards: list[Callable] | None = None, jobs: int = 1, echo: Callable[[str], None] = print) -> Path:
    """Create a sweep folder (or check that an existing one holds this very recipe) and return it. With `jobs`
    > 1 every seed runs with the thread budget of its process (`num_threads`, unless an override sets it), which
    the sweep's recipe.yaml records, so seeds added later run with it too."""
    if expected_world_size() > 1:  # every rank would make its own timestamped sweep folder
        raise ConfigError("--seeds", "sweeps run one process per seed; launch one multi-process run per seed "
                          "instead (--run-dir picks its folder), e.g. in a shell loop")
    if isinstance(overrides, list):
        overrides = dict(parse_override(o) for o in overrides)
    overrides = dict(overrides or {})
    if isinstance(recipe, Recipe) and overrides:
        raise ValueError("overrides apply to a recipe file or mapping; edit the Recipe object instead")
    if "seed" in overrides:
        raise ConfigError("seed", "a sweep sets the seed of each run: give the seeds with --seeds, not seed=")
    if jobs < 1:
        raise ConfigError("--jobs", f"must be at least 1, got {jobs}")
    if jobs > 1 and rewards:
        raise ConfigError("--jobs", "Python reward functions (rewards=[...]) cannot be sent to other processes: use "
                          "jobs=1, or name the reward in the recipe as package.module:function or file.py:function")
    loaded = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, overrides)
    if jobs > 1 and "num_threads" not in overrides:
        threads = budget(jobs)
        if loaded.num_threads != threads:
            echo(f"rlft: {jobs} seeds at a time, {threads} thread(s) each: every run of this sweep gets num_threads="
                 f"{threads} (the recipe says {loaded.num_threads or 'none'}; set num_threads=... to choose)")
        loaded = dataclasses.replace(loaded, num_threads=threads)
    path = Path(sweep_dir) if sweep_dir else new_sweep_dir(loaded.output_dir, loaded.name)
    resolved = _resolved(loaded)
    if (path / SWEEP_FILE).exists():
        if read_sweep_recipe(path) != resolved:
            raise ConfigError("--run-dir", f"{path} is a sweep of a different recipe or overrides")
        return path
    if path.exists() and any(path.iterdir()):
        raise ConfigError("--run-dir", f"{path} exists and is not a sweep folder")
    path.mkdir(parents=True, exist_ok=True)
    (path / RECIPE_FILE).write_text(yaml.safe_dump(resolved, sort_keys=False))
    source = str(recipe) if isinstance(recipe, (str, Path)) else None
    write_json(path / SWEEP_FILE, {
        "recipe": loaded.name, "label": label or default_label(loaded.name, overrides), "source": source,
        "overrides": overrides, "python_rewards": [getattr(f, "__name__", repr(f)) for f in rewards or []],
        "planned": [], "seeds": [], "started": datetime.now().isoformat(timespec="seconds"),
    })  # fmt: skip
    return path


def run_seed(path: Path, seed: int, rewards: list[Callable] | None = None, echo: Callable[[str], None] = print,
             use_cache: bool = True) -> RunResult:
    """Run one more seed of a sweep from its recipe.yaml into s<seed>/ and record it in sweep.json."""
    info = read_sweep(path)
    if seed in info["seeds"]:
        raise ConfigError("--seeds", f"seed {seed} is already in the sweep {path}")
    if info.get("python_rewards") and not rewards:
        raise ConfigError("", f"the sweep {path} used Python reward functions {info['python_rewards']}; "
                          "pass them again (rewards=[...]) to run more seeds")
    recipe = load_recipe(read_sweep_recipe(path), {"seed": seed})
    result = run(recipe, run_dir=path / f"s{seed}", rewards=rewards, echo=echo, use_cache=use_cache)
    record(path, seed)
    return result


def record(path: Path, seed: int) -> None:
    """Add a finished seed to sweep.json."""
    info = read_sweep(path)
    info["seeds"].append(seed)
    info["planned"] = sorted(set(info["planned"]) | {seed})
    write_json(path / SWEEP_FILE, info)


def run_seeds(path: Path, seeds: list[int], jobs: int = 1, rewards: list[Callable] | None = None,
              echo: Callable[[str], None] = print, use_cache: bool = True) -> list[RunResult]:
    """Run more seeds of a sweep: one after another in this process, or `jobs` at a time in their own processes
    (rlft/runner/seed_jobs.py). Seeds that fail do not stop the others; then one ConfigError names each failure."""
    if jobs == 1:
        return [run_seed(path, s, rewards, echo, use_cache) for s in seeds]
    info = read_sweep(path)
    clash = sorted(set(seeds) & set(info["seeds"]))
    if clash:
        raise ConfigError("--seeds", f"seed {clash[0]} is already in the sweep {path}")
    if info.get("python_rewards"):
        raise ConfigError("--jobs", f"the sweep {path} used Python reward functions {info['python_rewards']}, "
                          "which cannot be sent to other processes: run its seeds with jobs=1")
    failed = run_parallel(path, RECIPE_FILE, seeds, jobs, use_cache, echo, lambda seed: record(path, seed))
    if failed:
        done = [s for s in seeds if s not in failed]
        raise ConfigError("--seeds", "; ".join(f"seed {s} failed: {why}" for s, why in failed.items())
                          + f"; seeds {done or 'none'} finished and are in {path / SWEEP_FILE}")
    return [RunResult(path / f"s{s}", read_json(path / f"s{s}" / "summary.json", "the run's summary", SUMMARY_KEYS))
            for s in seeds]  # fmt: skip


def sweep(recipe, seeds: list[int] | str, overrides: dict | list[str] | None = None, sweep_dir=None,
          label: str | None = None, rewards: list[Callable] | None = None, echo: Callable[[str], None] = print,
          use_cache: bool = True, jobs: int = 1) -> SweepResult:
    """Run a recipe once per seed into one sweep folder (see the module docstring): one after the other, or
    `jobs` seeds at a time in separate processes whose threads add up to the cores."""
    seeds = parse_seeds(seeds) if isinstance(seeds, str) else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError("--seeds", f"need distinct seeds, got {seeds}")
    path = start(recipe, overrides, sweep_dir, label, rewards, jobs, echo)
    info = read_sweep(path)
    clash = sorted(set(seeds) & set(info["seeds"]))
    if clash:
        raise ConfigError("--seeds", f"seed {clash[0]} is already in the sweep {path}")
    info["planned"] = sorted(set(info["planned"]) | set(seeds))
    write_json(path / SWEEP_FILE, info)
    echo(f"rlft: sweep '{info['label']}', seeds {seeds}{f', {jobs} at a time' if jobs > 1 else ''} -> {path}")
    runs = run_seeds(path, seeds, jobs, rewards, echo, use_cache)
    echo(f"rlft: sweep finished: {final_scores(runs)}; compare with: rlft compare {path}")
    return SweepResult(path, runs)


def final_accuracy(summary: dict) -> tuple[str | None, float | None]:
    """(stage, accuracy) of the last stage that measured held-out accuracy; (None, None) if none did.

    >>> final_accuracy({"stages": {"sft": {"eval": {"accuracy": 0.5}}, "grpo": {}, "t": {"eval": {"accuracy": 0.7}}}})
    ('t', 0.7)
    """
    found = [(n, s["eval"]["accuracy"]) for n, s in summary.get("stages", {}).items()
             if isinstance(s.get("eval"), dict) and s["eval"].get("accuracy") is not None]
    return found[-1] if found else (None, None)


def final_scores(runs) -> str:
    """The sweep's closing line: each seed's final held-out accuracy, or, for recipes that play episodes
    instead, the last stage's held-out success.

    >>> class R:
    ...     def __init__(self, seed, stages): self.summary = {"seed": seed, "stages": stages}
    >>> final_scores([R(0, {"rl": {"episodes": {"env/success": 0.5}}}), R(1, {"rl": {"episodes": {}}})])
    'final held-out success s0=0.5, s1=None'
    >>> final_scores([R(0, {"t": {"eval": {"accuracy": 0.7}}})])
    'final accuracy s0=0.7'
    """
    accuracies = [final_accuracy(r.summary)[1] for r in runs]
    if any(a is not None for a in accuracies):
        what, scores = "final accuracy", accuracies
    else:
        what = "final held-out success"
        scores = [next((s["episodes"].get("env/success") for s in reversed(r.summary["stages"].values())
                        if s.get("episodes")), None) for r in runs]
    return what + " " + ", ".join(f"s{r.summary['seed']}={v}" for r, v in zip(runs, scores, strict=True))


@dataclass
class Run:
    """One finished run found under a path given to `rlft compare`."""

    path: Path
    label: str
    seed: int
    summary: dict


def _load_run(path: Path, label: str | None) -> Run:
    summary = read_json(path / "summary.json", "the run's summary", SUMMARY_KEYS)
    if label is None:
        label = read_sweep(path.parent)["label"] if (path.parent / SWEEP_FILE).exists() else summary["recipe"]
    return Run(path, label, summary["seed"], summary)


def find_runs(path, label: str | None = None) -> list[Run]:
    """The finished runs a path holds: a run folder (summary.json) or a sweep folder (sweep.json)."""
    path = Path(path)
    if (path / SWEEP_FILE).exists():
        info = read_sweep(path)
        label = label or info["label"]
        return [_load_run(path / f"s{s}", label) for s in info["seeds"] if (path / f"s{s}" / "summary.json").exists()]
    if (path / "summary.json").exists():
        return [_load_run(path, label)]
    if (path / "config.yaml").is_file():
        raise ConfigError("", f"{path} is a run that has not finished (it has no summary.json); finish it with "
                          f"rlft run --resume {path}, or leave it out")
    what = "does not exist" if not path.exists() else "is neither a run folder (summary.json) nor a sweep (sweep.json)"
    raise ConfigError("", f"{path} {what}")
