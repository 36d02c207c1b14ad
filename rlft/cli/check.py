"""`rlft check RECIPE [key=value ...] [--stage S] [--model PATH] [--prompts N] [--k K]`: the pre-run check
(rlft.eval.precheck) of an RL stage's starting model, before any training."""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from pathlib import Path

from rlft.core.schema import ConfigError
from rlft.core.tracking import MetricsLog
from rlft.models import load_path
from rlft.rm import reward as rm
from rlft.runner.pipeline import run
from rlft.runner.recipe import load_recipe
from rlft.runner.reward_models import trained_path
from rlft.stages import ALGORITHMS, having
from rlft.stages.common import StageContext, starting_model
from rlft.stages.precheck import check_stage


def check_command(args) -> int:
    """`rlft check RECIPE [key=value ...] [--stage S] [--model PATH] [--prompts N] [--k K]`: exit 0 when the
    stage can learn, 1 when it cannot (a ConfigError exits 2 in rlft.cli)."""
    for flag, low in (("prompts", 1), ("k", 2)):
        if getattr(args, flag) is not None and getattr(args, flag) < low:
            raise ConfigError(f"--{flag}", f"must be at least {low}, got {getattr(args, flag)}")
    recipe = load_recipe(args.recipe, args.overrides)
    rl = [n for n, s in recipe.stages.items() if ALGORITHMS[s.algorithm].rl]
    name = args.stage or (rl[0] if rl else None)
    if name not in rl:
        what = f"stage '{name}' is not one of them" if name else "the recipe has none"
        raise ConfigError("--stage", f"the check applies to {', '.join(having('rl'))} stages; {what} "
                          f"(RL stages here: {', '.join(rl) or 'none'})")
    stage = recipe.stages[name]
    kept = [r for r in stage.rewards if not (rm.is_reward_model(r) and "from_stage" in r.kwargs)]
    if len(kept) < len(stage.rewards):
        print("note: reward models trained by this recipe are left out (they do not exist before the run)")
    recipe.stages[name] = dataclasses.replace(stage, rewards=kept)
    with tempfile.TemporaryDirectory() as tmp:
        trained = functools.partial(trained_path, seed=recipe.seed, output_dir=recipe.output_dir, run=run)
        ctx = StageContext(recipe, name, Path(tmp), MetricsLog(Path(tmp) / "metrics.jsonl"), echo=print,
                           reward_models=trained)
        if args.model:
            model, tokenizer = load_path(args.model, stage.model)
            label = args.model
        elif stage.model.from_stage is not None:
            raise ConfigError("--model", f"stage '{name}' starts from stage '{stage.model.from_stage}', which exists "
                              f"only once the recipe has run it; to check it as the run reaches it, set "
                              f"`check: {{enabled: true}}` on stage '{name}' in the recipe (or the override "
                              f"stages.{name}.check.enabled=true), or pass --model PATH: a model folder, a hub id or "
                              f"that stage's folder in a finished run (runs/{recipe.name}/<run>/"
                              f"{stage.model.from_stage})")
        else:
            model, tokenizer, _, _ = starting_model(ctx)
            label = "the stage's starting model"
        train, _ = ctx.data()
        report = check_stage(ctx, model, tokenizer, train, ctx.rewards(), prompts=args.prompts, k=args.k,
                             model_name=label)  # fmt: skip
    print(report.render())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1

