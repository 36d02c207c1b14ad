"""Run a recipe: make the run folder, then each stage in order, handing models on by path; then report.
A killed run continues with `resume_run` (`rlft run --resume RUN_DIR`; see rlft/runner/recovery.py)."""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from rlft.core import distributed as dist
from rlft.core import threads
from rlft.core.config import Recipe, to_dict
from rlft.core.runfiles import SUMMARY_KEYS, read_json
from rlft.core.tracking import (
    Timer,
    environment,
    new_run_dir,
    prepare_run_dir,
    seed_everything,
    sync,
    write_json,
    write_text,
    writing,
)
from rlft.envs.guard import surfacing
from rlft.eval import alarms
from rlft.models import ModelRef
from rlft.runner import recovery, report
from rlft.runner.recipe import load_recipe
from rlft.runner.recovery import recipe_for
from rlft.runner.reward_models import trained_path
from rlft.stages import ALGORITHMS
from rlft.stages.common import StageContext
from rlft.stages.distributed import check_launch


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
    overwrite: bool = False,
) -> RunResult:
    """Run a recipe end to end and return its folder and summary.

    `rewards` are Python callables with TRL's reward signature, added (weight 1) to every stage that
    scores completions: the notebook way to plug a reward without writing a module. `use_cache=False`
    retrains reward models from reward_models/ definitions instead of loading them from the cache.
    `resume=True` continues the run in `run_dir` (see rlft.runner.recovery; `resume_run` also checks the recipe).
    A `run_dir` that holds an earlier run is refused unless `overwrite=True` (which deletes it first).
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        raise ValueError("overrides apply to a recipe file or mapping; edit the Recipe object instead")
    quiet_libraries()
    check_launch(recipe)  # what this launch (vLLM, several processes) cannot run
    dist.setup(echo)  # several processes (torchrun, accelerate launch): rank 0 writes and prints
    echo = dist.main_echo(echo)
    timer = Timer()
    if resume and not run_dir:
        raise ValueError("resume=True needs the run_dir to continue")
    path = dist.broadcast(Path(run_dir) if run_dir else new_run_dir(recipe.output_dir, recipe.name, recipe.seed))
    if resume and (path / "summary.json").is_file():
        echo(f"rlft: run {path} is complete; nothing to resume")
        return RunResult(path, read_json(path / "summary.json", "the run's summary", SUMMARY_KEYS))
    dist.on_main(prepare_run_dir, path, resume, overwrite)
    try:
        with threads.live_run(recipe.num_threads, f"{recipe.name} -> {path}", echo) as check_threads:
            summary = run_stages(recipe, path, timer, resume, rewards, echo, use_cache, check_threads)
    except Exception as e:
        e.rlft_run_dir = path  # where the command line writes the traceback of an unexpected error
        raise
    echo(f"rlft: finished in {summary['wall_s']:.1f}s; run folder: {path}")
    return RunResult(path, summary)


def run_stages(recipe: Recipe, path: Path, timer: Timer, resume: bool, rewards: list[Callable] | None,
               echo: Callable[[str], None], use_cache: bool, check_threads: Callable[[], None]) -> dict:
    """Record the environment, run each stage (skipping complete ones when resuming), write the report and
    summary.json; returns the summary. `check_threads` warns when runs side by side oversubscribe the cores."""
    env_now = {**environment(recipe.seed), **dist.describe()}
    if resume and dist.is_main():  # config.yaml stays as the run started; env.json gains this process's environment
        env = read_json(path / "env.json", "the run's environment") if (path / "env.json").is_file() else {}
        write_json(path / "env.json", {**env, "resumed": [*env.get("resumed", []), env_now]})
    elif dist.is_main():
        write_text(path / "config.yaml", yaml.safe_dump(to_dict(recipe), sort_keys=False), "the resolved recipe")
        write_json(path / "env.json", env_now)
    metrics = dist.metrics_log(path / "metrics.jsonl")
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
            checkpoint, state = dist.on_main(recovery.prepare, path, name, metrics.path, list(outputs), complete, echo)
            complete = False
        check_threads()
        echo(f"[{name}] {stage.algorithm}")
        seed_everything(recipe.seed)
        stage_timer = Timer()
        trained = functools.partial(trained_path, seed=recipe.seed, output_dir=recipe.output_dir, use_cache=use_cache,
                                    echo=echo, run=run)
        ctx = StageContext(recipe, name, path, metrics, outputs, list(rewards or []), echo, trained,
                           checkpoint=checkpoint, resume_state=state)  # fmt: skip
        with writing(ctx.dir, f"stage '{name}' file", only_storage=True), surfacing():  # a full disk: WriteError
            try:  # naming the file; an environment's fault: EnvError
                result = ALGORITHMS[stage.algorithm].run(ctx)
            finally:
                ctx.close()  # its trackers, after the last evaluation the stage logs
        outputs[name] = ref = result.output
        stage_summary = {"algorithm": stage.algorithm, "wall_s": stage_timer.seconds(), **result.summary()}
        summary["stages"][name] = stage_summary = dist.on_main(finish_stage, ctx, ref, stage_summary)
        echo(f"[{name}] done in {stage_summary['wall_s']:.1f}s")

    summary["wall_s"] = timer.seconds()
    if dist.is_main():
        report.write(path, summary, metrics.read())
        write_json(path / "summary.json", summary)
    return summary


def finish_stage(ctx, ref: ModelRef, stage_summary: dict) -> dict:
    """Rank 0 completes a stage's folder: output.json, the alarms and pre-run check's report in the summary,
    then summary.json, written last (the stage is complete)."""
    write_json(ctx.dir / "output.json", ref.__dict__)
    stage_summary.update(alarms.review(ctx, ALGORITHMS[ctx.stage.algorithm]))  # alarms, the pre-run check
    sync(ctx.dir)
    sync(ctx.metrics.path)
    write_json(ctx.dir / "summary.json", stage_summary)
    return stage_summary


def resume_run(run_dir: str | Path, recipe: str | Path | Recipe | dict | None = None,
               overrides: dict | list[str] | None = None, **kwargs) -> RunResult:
    """Continue the run in `run_dir`: completed stages are skipped, an interrupted one resumes from its last
    checkpoint. The recipe is the run's config.yaml; a recipe or overrides given must leave it unchanged
    (ConfigError naming the changed keys). `kwargs` as for `run` (rewards, echo, use_cache)."""
    return run(recipe_for(run_dir, recipe, overrides), run_dir=run_dir, resume=True, **kwargs)
