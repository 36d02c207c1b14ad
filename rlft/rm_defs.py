"""Reward-model definitions (`reward_models/<name>.yaml`), trained once and cached.

A definition holds what a `reward_model` stage holds (model, data, lora, trainer, eval) plus a
description. A recipe uses it as `{name: reward_model, kwargs: {definition: arithmetic_bt}}`; the first run
trains it with rlft's own pipeline into `<output_dir>/.cache/reward_models/<name>-<hash>/`, where the hash
covers the resolved definition and the seed, so every later recipe that needs the same reward model loads
it instead of training again (`rlft run --no-cache` retrains).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rlft import userpaths
from rlft.paths import beside, packaged, rewrite
from rlft.schema import ConfigError

DEFINITIONS_DIR = Path("reward_models")
STAGE = "rm"


def definition_path(name: str) -> Path:
    """`arithmetic_bt` -> reward_models/arithmetic_bt.yaml in the working directory, else rlft's own
    reward_models/ (rlft.paths.packaged); a path to a .yaml file is taken as is (in a recipe file it is
    relative to the recipe, rlft.paths)."""
    if name.endswith((".yaml", ".yml")):
        return Path(name)
    local = DEFINITIONS_DIR / f"{name}.yaml"
    shipped = [folder / f"{name}.yaml" for folder in packaged("reward_models")]
    return next((p for p in [local, *shipped] if p.is_file()), local)


def load_definition(name: str, seed: int, key: str = ""):
    """The definition as a validated one-stage Recipe; errors name the definition file and its key (`key`: where
    the recipe names the definition, for a file that is missing or cannot be read)."""
    from rlft.config import load_recipe
    from rlft.recipe_text import read_yaml

    path = definition_path(name)
    if not path.is_file() and userpaths.missing(path) == "does not exist":
        known = sorted({p.stem for d in [DEFINITIONS_DIR, *packaged("reward_models")] for p in d.glob("*.yaml")})
        raise ConfigError(key, f"reward model definition '{path}' does not exist (known: {', '.join(known) or 'none'})")
    userpaths.check_file(path, key, "reward model definition", "give a .yaml file")
    raw = read_yaml(path)
    description, data = raw.pop("description", ""), raw.pop("data", None)
    recipe = {"name": f"rm-{path.stem}", "description": description, "seed": seed, "data": data,
              "stages": {STAGE: {"algorithm": "reward_model", **raw}}}  # fmt: skip
    try:
        return load_recipe(rewrite(recipe, beside(path.parent)))  # its paths are relative to the definition file
    except ConfigError as e:
        key = e.key.removeprefix(f"stages.{STAGE}.").removeprefix(f"stages.{STAGE}")
        raise ConfigError(key, e.message, str(path)) from None


def cache_dir(recipe, output_dir: str) -> Path:
    """Where a definition's trained model lives: named by definition and a hash of everything it used."""
    from rlft.config import to_dict

    resolved = json.dumps(to_dict(recipe), sort_keys=True, default=str)
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    return Path(output_dir) / ".cache" / "reward_models" / f"{recipe.name.removeprefix('rm-')}-{digest}"


def trained_path(name: str, seed: int, output_dir: str, use_cache: bool = True, echo=print) -> Path:
    """The folder of the trained reward model for a definition: from the cache, or trained now.

    A cache entry counts only once its summary.json exists (the pipeline writes it last), so an
    interrupted training is retrained, never half-used.
    """
    import shutil

    from rlft import distributed as dist
    from rlft.pipeline import run

    recipe = load_definition(name, seed)
    folder = cache_dir(recipe, output_dir)
    model = folder / STAGE / "model"

    def cached() -> bool:  # rank 0 looks and clears, so that no rank deletes what another is writing
        if use_cache and (folder / "summary.json").exists():
            return True
        if folder.exists():
            shutil.rmtree(folder)
        return False

    if dist.on_main(cached):
        echo(f"  reward model '{name}': cached at {folder}")
        return model
    echo(f"  reward model '{name}': training into {folder}")
    run(recipe, run_dir=folder, echo=lambda line: echo("  " + line))
    return model
