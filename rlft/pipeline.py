"""Run a recipe: make the run folder, then each stage in order, handing models on by path; then report.
A killed run continues with `resume_run` (`rlft run --resume RUN_DIR`; see rlft/recovery.py)."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from rlft.config import Recipe, load_recipe, to_dict
from rlft.models import ModelRef
from rlft.tracking import MetricsLog, Timer, environment, new_run_dir, seed_everything, write_json


@dataclass
class RunResult:
    """What `rlft.run` returns: the run folder and its summary (the content of summary.json)."""

    path: Path
    summary: dict

    def __repr__(self) -> str:
        accs = {n: s.get("eval", {}).get("accuracy") for n, s in self.summary["stages"].items() if "eval" in s}
        return f"RunResult(path='{self.path}', accuracy={accs})"


def quiet_libraries() -> None:
    """Keep the console to rlft's progress lines: library warnings that do not concern a user of rlft."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # online_dpo documents that it is experimental
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    logging.getLogger("trl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")
    warnings.filterwarnings("ignore", category=FutureWarning)


def run(
    recipe: str | Path | Recipe | dict,
    overrides: dict | list[str] | None = None,
    run_dir: str | Path | None = None,
    rewards: list[Callable] | None = None,
    echo: Callable[[str], None] = print,
    use_cache: bool = True,
    resume: bool = False,
) -> RunResult:
    """Run a recipe end to end and return its folder and summary.

    `rewards` are Python callables with TRL's reward signature, added (weight 1) to every stage that
    scores completions: the notebook way to plug a reward without writing a module. `use_cache=False`
    retrains reward models from reward_models/ definitions instead of loading them from the cache.
    `resume=True` continues the run in `run_dir` (see rlft.recovery; `resume_run` also checks the recipe).
    """
    from rlft import alarms, recovery, report, stages
    from rlft.stages.common import StageContext

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        raise ValueError("overrides apply to a recipe file or mapping; edit the Recipe object instead")
    quiet_libraries()
    timer = Timer()
    if resume and not run_dir:
        raise ValueError("resume=True needs the run_dir to continue")
    path = Path(run_dir) if run_dir else new_run_dir(recipe.output_dir, recipe.name, recipe.seed)
    if resume and (path / "summary.json").is_file():
        echo(f"rlft: run {path} is complete; nothing to resume")
        return RunResult(path, json.loads((path / "summary.json").read_text()))
    path.mkdir(parents=True, exist_ok=True)
    if recipe.num_threads:
        import torch

        torch.set_num_threads(recipe.num_threads)
    if resume:  # config.yaml stays as the run started; env.json gains this process's environment
        env = json.loads((path / "env.json").read_text()) if (path / "env.json").is_file() else {}
        write_json(path / "env.json", {**env, "resumed": [*env.get("resumed", []), environment(recipe.seed)]})
    else:
        (path / "config.yaml").write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False))
        write_json(path / "env.json", environment(recipe.seed))
    metrics = MetricsLog(path / "metrics.jsonl")
    verb = "resuming" if resume else "recipe"
    echo(f"rlft: {verb} '{recipe.name}', seed {recipe.seed}, {len(recipe.stages)} stages -> {path}")

    outputs: dict[str, ModelRef] = {}
    summary = {"recipe": recipe.name, "seed": recipe.seed, "run_dir": str(path), "stages": {}}
    complete = resume  # the stages so far were all complete: the next may be too
    for name, stage in recipe.stages.items():
        if complete and recovery.is_complete(path / name):
            outputs[name], summary["stages"][name] = recovery.load_complete(path / name)
            echo(f"[{name}] complete: skipped")
            continue
        checkpoint = state = None
        if resume:  # an interrupted stage continues from its checkpoint; a later one starts afresh
            checkpoint, state = recovery.prepare(path, name, metrics.path, list(outputs), complete, echo)
            complete = False
        echo(f"[{name}] {stage.algorithm}")
        seed_everything(recipe.seed)
        stage_timer = Timer()
        ctx = StageContext(recipe, name, path, metrics, outputs, list(rewards or []), echo, use_cache,
                           checkpoint=checkpoint, resume_state=state)  # fmt: skip
        ref, stage_summary = stages.ALGORITHMS[stage.algorithm].run(ctx)
        outputs[name] = ref
        write_json(ctx.dir / "output.json", ref.__dict__)
        stage_summary = {"algorithm": stage.algorithm, "wall_s": stage_timer.seconds(), **stage_summary}
        stage_summary.update(alarms.review(ctx))  # reward-hacking alarms, the pre-run check's report
        summary["stages"][name] = stage_summary
        recovery.sync(ctx.dir)
        recovery.sync(metrics.path)
        write_json(ctx.dir / "summary.json", stage_summary)  # written last: the stage is complete
        echo(f"[{name}] done in {stage_summary['wall_s']:.1f}s")

    summary["wall_s"] = timer.seconds()
    report.write(path, summary, metrics.read())
    write_json(path / "summary.json", summary)
    echo(f"rlft: finished in {summary['wall_s']:.1f}s; run folder: {path}")
    return RunResult(path, summary)


def resume_run(run_dir: str | Path, recipe: str | Path | Recipe | dict | None = None,
               overrides: dict | list[str] | None = None, **kwargs) -> RunResult:
    """Continue the run in `run_dir`: completed stages are skipped, an interrupted one resumes from its last
    checkpoint. The recipe is the run's config.yaml; a recipe or overrides given must leave it unchanged
    (ConfigError naming the changed keys). `kwargs` as for `run` (rewards, echo, use_cache)."""
    from rlft.recovery import recipe_for

    return run(recipe_for(run_dir, recipe, overrides), run_dir=run_dir, resume=True, **kwargs)
