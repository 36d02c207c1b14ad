"""rlft: RL fine-tuning recipes for language models on the Hugging Face stack.

    import rlft
    result = rlft.run("recipes/quickstart.yaml", overrides={"seed": 1})
    result.summary["stages"]["eval_grpo"]["eval"]["accuracy"], result.path
"""

from rlft.config import Recipe, load_recipe
from rlft.schema import ConfigError

__version__ = "0.1.0"


def run(recipe, overrides=None, run_dir=None, rewards=None, echo=print, use_cache=True):
    """Run a recipe (path, mapping or Recipe) and return a RunResult(path, summary); see rlft.pipeline.run."""
    from rlft.pipeline import run as _run

    return _run(recipe, overrides=overrides, run_dir=run_dir, rewards=rewards, echo=echo, use_cache=use_cache)


__all__ = ["ConfigError", "Recipe", "load_recipe", "run"]
