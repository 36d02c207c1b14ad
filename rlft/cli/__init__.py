"""`rlft run | validate | list | check | check-reward | check-env | compare`: the command line over rlft's Python API.

Recipe problems (ConfigError), a reward breaking its contract (RewardError) and a failed write such as a full
disk (WriteError) print one `error:` line and exit with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rlft.core.schema import ConfigError
from rlft.core.tracking import WriteError
from rlft.envs.base import DEFAULT_MAX_TURNS
from rlft.rewards.checker import TIMEOUT
from rlft.rewards.guard import RewardError

RECIPES_DIR = Path("recipes")
REPORT_TO = ("log every training stage to these trackers (tensorboard, trackio, ...; comma-separated): sets "
             "stages.<name>.trainer.report_to, checked like an override (docs/metrics.md)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlft", description="RL fine-tuning recipes on the Hugging Face stack")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe: rlft run recipes/quickstart.yaml seed=1 a.b=c")
    run.add_argument("recipe", nargs="?", help="recipe YAML (with --resume: optional, must equal the run's)")
    run.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. stages.grpo.trainer.max_steps=50")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run: completed stages are skipped, the "
                     "interrupted one resumes from its last checkpoint (a changed recipe is refused)")
    run.add_argument("--run-dir", help="write the run here instead of runs/<recipe>/<time>-s<seed>")
    run.add_argument("--overwrite", action="store_true", help="--run-dir holds an earlier run: delete it and start "
                     "afresh (without this, such a folder is refused)")
    run.add_argument("--no-cache", action="store_true", help="retrain reward models from reward_models/ definitions")
    run.add_argument("--report-to", metavar="TRACKERS", help=REPORT_TO)
    run.add_argument("--seeds", help="run once per seed (0-4, 0,2,5) into one sweep folder (--run-dir names it)")
    run.add_argument("--label", help="the sweep's variant name in rlft compare (default: recipe name and overrides)")
    run.add_argument("--jobs", type=int, default=1, help="with --seeds: run this many seeds at a time, each in its "
                     "own process with cores/jobs threads (default 1: one after another)")
    val = sub.add_parser("validate", help="check a recipe without running it")
    val.add_argument("recipe")
    val.add_argument("overrides", nargs="*")
    val.add_argument("--report-to", metavar="TRACKERS", help=REPORT_TO)
    chk = sub.add_parser("check-reward", help="check a reward on awkward completions and a recipe's rows")
    chk.add_argument("reward", help="built-in name, package.module:function or path/file.py:function")
    chk.add_argument("--kwargs", default="{}", help="factory parameters as YAML, e.g. '{max_chars: 40}'")
    chk.add_argument("--recipe", help="score the rows of this recipe's data (default: one arithmetic row)")
    chk.add_argument("--stage", help="the recipe stage whose data to use (default: the first with rewards)")
    chk.add_argument("--rows", type=int, default=32, help="how many data rows to score (default 32)")
    chk.add_argument("--model", help="sample each row's group from this model (folder, hub id or a run's stage "
                     "folder) instead of building it from the gold answer")
    chk.add_argument("--num-generations", type=int, default=8, help="completions sampled per row (default 8)")
    chk.add_argument("--temperature", type=float, default=1.0)
    chk.add_argument("--max-new-tokens", type=int, default=64)
    chk.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds a call may take before it counts as "
                     f"hung, a violation (default {TIMEOUT:g}; 0: no limit)")
    chk.add_argument("--json", help="also write the report as JSON to this file")
    env = sub.add_parser("check-env", help="check a multi-turn environment: its contract, determinism, turn budget, "
                         "scripted optimum against random actions")
    env.add_argument("env", help="built-in name, package.module:Class or path/file.py:Class")
    env.add_argument("--kwargs", default="{}", help="parameters of its rows generator as YAML, e.g. '{high: 50}'")
    env.add_argument("--episodes", type=int, default=20, help="episodes of each kind (default 20)")
    env.add_argument("--max-turns", type=int, default=DEFAULT_MAX_TURNS,
                     help=f"turn budget of an episode (default {DEFAULT_MAX_TURNS})")
    env.add_argument("--seed", type=int, default=0, help="seed of the rows and the random actions (default 0)")
    env.add_argument("--json", help="also write the report as JSON to this file")
    pre = sub.add_parser("check", help="pre-run check of an RL stage: can its starting model learn? (pass@k, "
                         "zero-variance groups, format, lengths; exit 1 when it cannot)")
    pre.add_argument("recipe")
    pre.add_argument("overrides", nargs="*", help="dotted key=value overrides, as for rlft run")
    pre.add_argument("--stage", help="the grpo/rloo/ppo/online_dpo stage to check (default: the first)")
    pre.add_argument("--model", help="check this model instead of the stage's own starting model: a folder, a hub "
                     "id or a run's stage folder (needed when the stage starts from an earlier stage)")
    pre.add_argument("--prompts", type=int, help="training prompts sampled (default: the stage's check.prompts, 32)")
    pre.add_argument("--k", type=int, help="samples per prompt (default: check.k, else num_generations, else 8)")
    pre.add_argument("--json", help="also write the report as JSON to this file")
    cmp = sub.add_parser("compare", help="compare runs and sweeps across seeds: IQM, bootstrap CIs, P(X > Y), "
                         "performance profiles; --adaptive runs seeds until AdaStop decides")
    cmp.add_argument("paths", nargs="+", help="run folders and sweep folders (with --adaptive: sweeps or recipe files)")
    cmp.add_argument("--metric", action="append", help="dotted path into summary.json, e.g. "
                     "stages.grpo.eval.accuracy; repeatable (default: each run's last held-out accuracy)")
    cmp.add_argument("--label", action="append", help="variant name of each input, in order; repeatable")
    cmp.add_argument("--out", help="write compare.md, compare.json and plots/ here (default: runs/compare/<time>)")
    cmp.add_argument("--reps", type=int, default=50000, help="bootstrap resamples (default 50000, as rliable)")
    cmp.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the permutations (default 0)")
    cmp.add_argument("--adaptive", action="store_true", help="AdaStop: add seeds in batches until each pair is "
                     "decided or --max-seeds is reached (tests the first --metric)")
    cmp.add_argument("--batch", type=int, default=5, help="seeds per variant per interim (default 5)")
    cmp.add_argument("--max-seeds", type=int, default=20, help="seed budget per variant (default 20)")
    cmp.add_argument("--alpha", type=float, default=0.05, help="family-wise error of AdaStop (default 0.05)")
    cmp.add_argument("--permutations", type=int, default=10000, help="AdaStop permutations (default 10000)")
    cmp.add_argument("--no-cache", action="store_true", help="retrain reward models in the runs --adaptive starts")
    cmp.add_argument("--jobs", type=int, default=1, help="with --adaptive: run this many seeds of a batch at a time, "
                     "each in its own process (default 1)")
    ver = sub.add_parser("verify", help="run a recipe's seeds and check the claims of its expect: block (IQM and "
                         "bootstrap interval: holds, fails or undecided; exit 1 when one fails)")
    ver.add_argument("recipes", nargs="+", metavar="RECIPE", help="recipe files, then key=value overrides for all")
    ver.add_argument("--seeds", help="the seeds to run or reuse (default: the expect block's seeds)")
    ver.add_argument("--jobs", type=int, default=1, help="run this many seeds at a time, each in its own process")
    ver.add_argument("--run-dir", help="the sweep folder (several recipes: a folder per recipe under it; default: "
                     "<output_dir>/<recipe>/verify); finished seeds there are reused")
    ver.add_argument("--against", help="stored runs (a sweep or run folder) of an earlier version: flag a "
                     "significant drop of the metric against them (one recipe)")
    ver.add_argument("--no-cache", action="store_true", help="retrain reward models from reward_models/ definitions")
    ls = sub.add_parser("list", help="list recipes, tasks, rewards, environments and algorithms")
    ls.add_argument("what", nargs="?", choices=["recipes", "tasks", "rewards", "environments", "algorithms"])
    return p


def _list(what: str | None) -> None:
    from rlft.data import TASKS
    from rlft.rewards import REWARDS
    from rlft.stages import ALGORITHMS

    if what in (None, "recipes"):
        from rlft.core.paths import recipe_folders, shown

        folders = recipe_folders()  # ./recipes, then rlft's own
        print(f"recipes (in {', '.join(shown(f) + '/' for f in folders)}):" if folders else
              f"recipes: none (no {RECIPES_DIR}/ in the working directory, and rlft's own recipes are not installed)")
        for path in sorted(p for folder in folders for p in folder.glob("*.yaml")):
            import yaml

            try:
                desc = (yaml.safe_load(path.read_text()) or {}).get("description", "")
            except yaml.YAMLError:
                desc = "(not valid YAML)"
            print(f"  {shown(path)}  {str(desc).strip().splitlines()[0] if desc else ''}")
    if what in (None, "tasks"):
        print("tasks:")
        for t in TASKS.values():
            params = ", ".join(f"{k}={p.default!r}" for k, p in t.parameters().items())
            print(f"  {t.name}({params})  {t.description}; verifier: {t.verifier}")
        from rlft.data.reasoning_gym import listing

        print(*listing(), sep="\n")
    if what in (None, "rewards"):
        print("rewards:")
        for name, entry in sorted(REWARDS.items()):
            print(f"  {name}{' (factory: takes kwargs)' if entry.factory else ''}  {entry.summary}")
        print("  reward_model (kwargs: from_stage, definition or path; normalize)  a trained reward model's score")
    if what in (None, "environments"):
        from rlft.envs import ENVIRONMENTS, summary, tools

        print("environments:")
        for name, cls in sorted(ENVIRONMENTS.items()):
            print(f"  {name} (tools: {', '.join(sorted(tools(cls)))})  {summary(cls)}")
    if what in (None, "algorithms"):
        print("algorithms:")
        for a in ALGORITHMS.values():
            print(f"  {a.name}  {a.summary}")


def _check_reward(args) -> int:
    """`rlft check-reward`: exit 0 when the reward keeps TRL's contract, 1 when it does not."""
    import json

    from rlft.rewards import resolve
    from rlft.rewards.checker import check_reward
    from rlft.runner.recipe import recipe_rows

    kwargs = _yaml_mapping("--kwargs", args.kwargs, "{max_chars: 40}")
    _at_least_one(args, "rows", "num_generations", "max_new_tokens")
    if not 0 <= args.timeout < float("inf"):
        raise ConfigError("--timeout", f"must be a number of seconds, 0 for no limit, got {args.timeout}")
    try:
        fn = resolve(args.reward, kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(args.reward, str(e)) from None
    rows = recipe_rows(args.recipe, args.stage, args.rows) if args.recipe else None
    samples = None
    if args.model:
        from rlft.cli.check_reward import sample_groups
        from rlft.rewards.checker import DEFAULT_ROW

        rows = rows or [DEFAULT_ROW]
        samples = sample_groups(args.model, rows, args.num_generations, args.temperature, args.max_new_tokens)
    report = check_reward(fn, rows, samples, f"{args.num_generations} samples from {args.model}", args.timeout or None)
    print(report.render())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1


def _yaml_mapping(flag: str, text: str, example: str) -> dict:
    """A command-line option holding a YAML mapping (factory kwargs), or a ConfigError naming the option."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(flag, f"not valid YAML: {e}") from None
    if not isinstance(value, dict):
        raise ConfigError(flag, f"must be a mapping like '{example}', got {text!r}")
    return value


def _at_least_one(args, *names: str) -> None:
    """Count options (`--rows`, `--episodes`, ...) must be at least 1."""
    for name in names:
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')}", f"must be at least 1, got {getattr(args, name)}")


def _check_env(args) -> int:
    """`rlft check-env`: exit 0 when the environment keeps the contract, 1 when it does not."""
    import json

    from rlft.envs import resolve_env
    from rlft.envs.checker import check_env

    kwargs = _yaml_mapping("--kwargs", args.kwargs, "{high: 50}")
    _at_least_one(args, "episodes", "max_turns")
    try:
        spec = resolve_env(args.env, kwargs, args.max_turns)
    except (ValueError, TypeError) as e:
        raise ConfigError(args.env, str(e)) from None
    report = check_env(spec, args.episodes, args.seed)
    print(report.render())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1


def _sweep(args) -> int:
    """`rlft run RECIPE --seeds 0-4 [overrides] [--run-dir DIR] [--label NAME] [--jobs N]`."""
    from rlft.runner.pipeline import quiet_libraries
    from rlft.runner.sweeps import parse_seeds, sweep

    if args.seeds is None:
        raise ConfigError("--jobs" if args.jobs != 1 else "--label", "applies to a sweep: use it with --seeds")
    quiet_libraries()
    sweep(args.recipe, parse_seeds(args.seeds), args.overrides, args.run_dir, args.label, use_cache=not args.no_cache,
          jobs=args.jobs)
    return 0


def _verify(args) -> int:
    """`rlft verify RECIPE... [key=value ...] [--seeds S] [--jobs N] [--run-dir DIR] [--against RUNS]`."""
    from rlft.analysis.verify import failed, render, verify
    from rlft.runner.pipeline import quiet_libraries
    from rlft.runner.sweeps import parse_seeds

    recipes = [a for a in args.recipes if "=" not in a]
    overrides = [a for a in args.recipes if "=" in a]
    if not recipes:
        raise ConfigError("RECIPE", "name at least one recipe file before the key=value overrides")
    if args.against and len(recipes) > 1:
        raise ConfigError("--against", "compares one recipe's runs with stored runs: give one recipe")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    quiet_libraries()
    results = []
    for recipe in recipes:
        run_dir = args.run_dir and (Path(args.run_dir) / Path(recipe).stem if len(recipes) > 1 else args.run_dir)
        results.append(verify(recipe, seeds, overrides, run_dir, args.jobs, args.against,
                              use_cache=not args.no_cache))  # fmt: skip
    print(render(results), end="")
    return 1 if any(failed(r) for r in results) else 0


def _compare(args) -> int:
    """`rlft compare RUN_OR_SWEEP... [--metric M]... [--label L]... [--adaptive ...]`."""
    from rlft.analysis.comparison import compare

    if args.adaptive:
        from rlft.runner.pipeline import quiet_libraries

        quiet_libraries()
    compare(args.paths, args.metric, args.label, args.out, args.reps, args.confidence, args.seed, args.adaptive,
            args.batch, args.max_seeds, args.alpha, args.permutations, use_cache=not args.no_cache, jobs=args.jobs)
    return 0


def _report_to(args) -> None:
    """`rlft run|validate --report-to T1,T2`: add the override `stages.<name>.trainer.report_to=[T1, T2]` for every
    training stage (rlft.runner.recipe.report_to_overrides), so that the trackers are checked like any override."""
    if getattr(args, "report_to", None) is None:
        return
    if getattr(args, "resume", None):
        raise ConfigError("--report-to", "a resumed run keeps the trackers it started with (its config.yaml)")
    if args.recipe is None:
        return  # `rlft run` without a recipe: the parser says what is missing
    from rlft.runner.recipe import report_to_overrides

    args.overrides = [*args.overrides, *report_to_overrides(args.recipe, args.overrides, args.report_to)]


def _resume(args) -> int:
    """`rlft run --resume RUN_DIR [recipe] [key=value ...]`: continue a killed run (see rlft.runner.recovery)."""
    if args.run_dir or args.seeds is not None or args.label or args.overwrite or args.jobs != 1:
        raise ConfigError("--resume", "continues the run folder it names; leave out --run-dir, --seeds, --label and "
                          "--overwrite")
    recipe, overrides = args.recipe, list(args.overrides)
    if recipe is not None and "=" in recipe and not Path(recipe).is_file():  # `--resume D key=value`
        recipe, overrides = None, [recipe, *overrides]
    from rlft.runner.pipeline import quiet_libraries, resume_run

    quiet_libraries()
    resume_run(args.resume, recipe, overrides or None, use_cache=not args.no_cache)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # overrides may also follow options: `rlft run r.yaml --run-dir d seed=1`
    if extra and (getattr(args, "overrides", None) is None or any("=" not in e or e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    try:
        _report_to(args)
        if args.command == "list":
            _list(args.what)
            return 0
        if args.command == "check-reward":
            return _check_reward(args)
        if args.command == "check-env":
            return _check_env(args)
        if args.command == "check":
            from rlft.cli.check import check_command as check_cli
            from rlft.runner.pipeline import quiet_libraries

            quiet_libraries()
            return check_cli(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "run" and args.resume:
            return _resume(args)
        if args.command == "run" and args.recipe is None:
            parser.error("the following arguments are required: recipe (or --resume RUN_DIR)")
        if args.command == "run" and (args.seeds is not None or args.label or args.jobs != 1):
            if args.overwrite:
                raise ConfigError("--overwrite", "applies to one run's --run-dir; a sweep always starts a new folder")
            return _sweep(args)
        from rlft.runner.pipeline import quiet_libraries
        from rlft.runner.recipe import load_recipe

        quiet_libraries()
        recipe = load_recipe(args.recipe, args.overrides)
        if args.command == "validate":
            names = ", ".join(f"{n} ({s.algorithm})" for n, s in recipe.stages.items())
            print(f"{args.recipe}: ok: {len(recipe.stages)} stages: {names}")
            return 0
        from rlft.runner.pipeline import run

        run(recipe, run_dir=args.run_dir, use_cache=not args.no_cache, overwrite=args.overwrite)
        return 0
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RewardError as e:  # a user's reward broke the contract mid-run: say where, not the trainer's stack
        print(f"error: {e}", file=sys.stderr)
        return 2
    except WriteError as e:  # the disk filled up (or is read-only) while saving: nothing was marked complete
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug (ours or a library's) that no check caught: one line; the traceback in a file
        where = internal_error_report(e, getattr(e, "rlft_run_dir", None))
        first = " ".join(str(e).split())[:300]
        print(f"error: internal error (not a problem with your input): {type(e).__name__}: {first}; the traceback "
              f"is in {where}; please report it with that file", file=sys.stderr)
        return INTERNAL_ERROR


INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE: distinct from 1 (a check failed) and 2 (bad input)


def internal_error_report(error: BaseException, run_dir: Path | None) -> Path:
    """Write the traceback of an unexpected error to `error.txt` in the run folder (when the run had one and it
    can be written), else to a file in the temporary folder; returns the file written."""
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(error))
    targets = [Path(run_dir) / "error.txt"] if run_dir else []
    targets.append(Path(tempfile.gettempdir()) / f"rlft-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
    for target in targets:
        try:
            target.write_text(f"rlft {' '.join(sys.argv[1:])}\n\n{text}")
            return target
        except OSError:
            continue
    return Path("(nowhere: no folder could be written)")
