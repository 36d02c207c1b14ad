"""`rlft run | validate | list`: the command line over rlft's Python API.

Recipe problems (ConfigError) print one line naming the file and the dotted key and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlft.schema import ConfigError

RECIPES_DIR = Path("recipes")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlft", description="RL fine-tuning recipes on the Hugging Face stack")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe: rlft run recipes/quickstart.yaml seed=1 a.b=c")
    run.add_argument("recipe")
    run.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. stages.grpo.trainer.max_steps=50")
    run.add_argument("--run-dir", help="write the run here instead of runs/<recipe>/<time>-s<seed>")
    run.add_argument("--no-cache", action="store_true", help="retrain reward models from reward_models/ definitions")
    val = sub.add_parser("validate", help="check a recipe without running it")
    val.add_argument("recipe")
    val.add_argument("overrides", nargs="*")
    ls = sub.add_parser("list", help="list recipes, tasks, rewards and algorithms")
    ls.add_argument("what", nargs="?", choices=["recipes", "tasks", "rewards", "algorithms"])
    return p


def _list(what: str | None) -> None:
    from rlft.data import TASKS
    from rlft.rewards import REWARDS
    from rlft.stages import ALGORITHMS

    if what in (None, "recipes"):
        print("recipes:")
        for path in sorted(RECIPES_DIR.glob("*.yaml")):
            import yaml

            try:
                desc = (yaml.safe_load(path.read_text()) or {}).get("description", "")
            except yaml.YAMLError:
                desc = "(not valid YAML)"
            print(f"  {path}  {str(desc).strip().splitlines()[0] if desc else ''}")
    if what in (None, "tasks"):
        print("tasks:")
        for t in TASKS.values():
            params = ", ".join(f"{k}={p.default!r}" for k, p in t.parameters().items())
            print(f"  {t.name}({params})  {t.description}; verifier: {t.verifier}")
    if what in (None, "rewards"):
        print("rewards:")
        for name, entry in sorted(REWARDS.items()):
            print(f"  {name}{' (factory: takes kwargs)' if entry.factory else ''}  {entry.summary}")
        print("  reward_model (kwargs: from_stage, definition or path; normalize)  a trained reward model's score")
    if what in (None, "algorithms"):
        print("algorithms:")
        for a in ALGORITHMS.values():
            print(f"  {a.name}  {a.summary}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # overrides may also follow options: `rlft run r.yaml --run-dir d seed=1`
    if extra and (getattr(args, "overrides", None) is None or any("=" not in e or e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    try:
        if args.command == "list":
            _list(args.what)
            return 0
        from rlft.config import load_recipe
        from rlft.pipeline import quiet_libraries

        quiet_libraries()
        recipe = load_recipe(args.recipe, args.overrides)
        if args.command == "validate":
            names = ", ".join(f"{n} ({s.algorithm})" for n, s in recipe.stages.items())
            print(f"{args.recipe}: ok: {len(recipe.stages)} stages: {names}")
            return 0
        from rlft.pipeline import run

        run(recipe, run_dir=args.run_dir, use_cache=not args.no_cache)
        return 0
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
