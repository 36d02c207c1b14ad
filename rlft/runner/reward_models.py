"""Reward-model definitions (`reward_models/<name>.yaml`, loaded by rlft.runner.recipe.load_definition) trained
once and cached: `<output_dir>/.cache/reward_models/<name>-<hash>/` is an ordinary run folder (its stages: the
optional `warmup`, then one `reward_model` stage per ensemble member), and the hash covers the resolved definition
and the seed, so every later recipe that needs the same reward model loads it instead of training again
(`rlft run --no-cache` retrains). An ensemble's folder also holds `ensemble.json`: the held-out pairwise accuracy
of each member and of each way to combine them (rlft.rm.ensemble)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from rlft.core import distributed as dist
from rlft.core.config import Recipe, to_dict
from rlft.core.tracking import write_json
from rlft.data import load_splits
from rlft.models import load_tokenizer
from rlft.rm.ensemble import ensemble_report
from rlft.rm.score import score
from rlft.runner.recipe import load_definition, member_stages

ENSEMBLE_FILE = "ensemble.json"


def settled(tree):
    """The resolved definition without its unset (None) fields, so that a field rlft adds later, unset, does not
    change the hash of definitions cached before it.

    >>> settled({"a": None, "b": {"c": None, "d": 1}, "e": [None, {"f": None}]})
    {'b': {'d': 1}, 'e': [None, {}]}
    """
    if isinstance(tree, dict):
        return {k: settled(v) for k, v in tree.items() if v is not None}
    return [settled(v) for v in tree] if isinstance(tree, list) else tree


def cache_dir(recipe: Recipe, output_dir: str) -> Path:
    """Where a definition's trained model lives: named by definition and a hash of everything it used."""
    resolved = json.dumps(settled(to_dict(recipe)), sort_keys=True, default=str)
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    return Path(output_dir) / ".cache" / "reward_models" / f"{recipe.name.removeprefix('rm-')}-{digest}"


def trained_path(name: str, seed: int, output_dir: str, use_cache: bool = True, echo=print,
                 run: Callable | None = None) -> Path | list[Path]:
    """The folder of the trained reward model of a definition (a list of folders for an ensemble): from the
    cache, or trained now by `run` (rlft.runner.pipeline.run, passed in by the pipeline that needs it).

    A cache entry counts only once its summary.json exists (the pipeline writes it last), so an
    interrupted training is retrained, never half-used.
    """
    recipe = load_definition(name, seed)
    folder = cache_dir(recipe, output_dir)
    members = member_stages(recipe)
    models = [folder / stage / "model" for stage in members]

    def cached() -> bool:  # rank 0 looks and clears, so that no rank deletes what another is writing
        if use_cache and (folder / "summary.json").exists():
            return True
        if folder.exists():
            shutil.rmtree(folder)
        return False

    if dist.on_main(cached):
        echo(f"  reward model '{name}': cached at {folder}")
    else:
        echo(f"  reward model '{name}': training into {folder}")
        run(recipe, run_dir=folder, echo=lambda line: echo("  " + line))
        if len(models) > 1 and dist.is_main():
            report = member_report(recipe, models)
            write_json(folder / ENSEMBLE_FILE, report)
            echo(f"  reward model '{name}': {len(models)} members, held-out pairwise accuracy "
                 f"{', '.join(f'{a:.3f}' for a in report['members'])}; ensemble mean {report['mean']:.3f}, "
                 f"min {report['min']:.3f}, uncertainty {report['uncertainty']:.3f}")
    return models if len(models) > 1 else models[0]


def member_report(recipe: Recipe, models: list[Path]) -> dict:
    """ensemble_report on the definition's held-out pairs, every member scoring the same pairs."""
    from transformers import AutoModelForSequenceClassification

    _, held_out = load_splits(recipe.stage_data(member_stages(recipe)[0]), recipe.seed, "data", "preference")
    scores = []
    for path in models:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        tokenizer = load_tokenizer(str(path))
        scores.append((score(model, tokenizer, held_out["prompt"], held_out["chosen"]),
                       score(model, tokenizer, held_out["prompt"], held_out["rejected"])))  # fmt: skip
    return {**ensemble_report(scores), "num_pairs": len(held_out)}
