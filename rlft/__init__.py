"""rlft: RL fine-tuning recipes for language models on the Hugging Face stack.

    import rlft
    result = rlft.run("recipes/quickstart.yaml", overrides={"seed": 1})
    result.summary["stages"]["eval_grpo"]["eval"]["accuracy"], result.path
    a = rlft.sweep("recipes/quickstart.yaml", seeds="0-4")
    b = rlft.sweep("recipes/quickstart.yaml", seeds="0-4", overrides={"stages.grpo.trainer.beta": 0.04})
    rlft.compare([a.path, b.path])["results"]["final_accuracy"]["pairs"]
"""

from rlft.core.threads import set_wait_policy

set_wait_policy()  # before anything imports torch: OpenMP threads that sleep when idle (rlft/core/threads.py)

from rlft.core import __version__  # noqa: E402
from rlft.core.schema import ConfigError  # noqa: E402


def __getattr__(name: str):
    """`rlft.Recipe` and `rlft.load_recipe` load on first use, so that `import rlft.rewards` (a leaf) stays free
    of the trainers, data and torch."""
    if name == "Recipe":
        from rlft.core.config import Recipe

        return Recipe
    if name == "load_recipe":
        from rlft.runner.recipe import load_recipe

        return load_recipe
    raise AttributeError(f"module 'rlft' has no attribute '{name}'")


def run(recipe, overrides=None, run_dir=None, rewards=None, echo=print, use_cache=True, overwrite=False):
    """Run a recipe (path, mapping or Recipe) and return a RunResult(path, summary); see rlft.runner.pipeline.run.
    A `run_dir` holding an earlier run is refused unless `overwrite=True` deletes it first."""
    from rlft.runner.pipeline import run as _run

    return _run(recipe, overrides=overrides, run_dir=run_dir, rewards=rewards, echo=echo, use_cache=use_cache,
                overwrite=overwrite)


def resume(run_dir, recipe=None, overrides=None, rewards=None, echo=print, use_cache=True):
    """Continue a killed run: completed stages are skipped, the interrupted one resumes from its last checkpoint;
    a recipe or overrides that change config.yaml are refused. See rlft.runner.pipeline.resume_run and
    rlft.runner.recovery."""
    from rlft.runner.pipeline import resume_run

    return resume_run(run_dir, recipe, overrides, rewards=rewards, echo=echo, use_cache=use_cache)


def sweep(recipe, seeds, overrides=None, sweep_dir=None, label=None, rewards=None, echo=print, use_cache=True,
          jobs=1):
    """Run a recipe once per seed (a list or "0-4") into one sweep folder; returns SweepResult(path, runs).
    `jobs=N` runs N seeds at a time in separate processes (threads: cores / N each). See rlft.runner.sweeps.sweep."""
    from rlft.runner.sweeps import sweep as _sweep

    return _sweep(recipe, seeds, overrides=overrides, sweep_dir=sweep_dir, label=label, rewards=rewards, echo=echo,
                  use_cache=use_cache, jobs=jobs)


def compare(paths, metrics=None, labels=None, out=None, **options):
    """Compare run and sweep folders across seeds (IQM, bootstrap intervals, P(X > Y), profiles; AdaStop with
    adaptive=True); writes compare.md, compare.json and plots/, returns compare.json's content.
    See rlft.analysis.comparison.compare for the options."""
    from rlft.analysis.comparison import compare as _compare

    return _compare(list(paths), metrics=metrics, labels=labels, out=out, **options)


__all__ = ["ConfigError", "Recipe", "__version__", "compare", "load_recipe", "resume", "run", "sweep"]
