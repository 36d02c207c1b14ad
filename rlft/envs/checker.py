"""Check an environment before training with it (`rlft check-env`): does it keep the contract TRL's
`environment_factory` relies on (reset returns text or None, every tool has a JSON schema, rewards are finite
numbers, tools answer bad arguments instead of raising), is it deterministic under a seed, does an episode end
within `max_turns`, does its scripted policy reach `optimal_return` and do random actions score below it?"""

from __future__ import annotations

import inspect
import math
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from numbers import Real

from rlft.envs.registry import EnvSpec, tools
from rlft.rewards.guard import run_user
from rlft.rewards.text import shorten

# Seconds one call into the environment may take before it counts as hung.
TIMEOUT = 10.0
# What TRL passes to reset besides the row's own columns.
PROMPT = [{"role": "user", "content": ""}]
# Arguments a model may write for a tool, drawn at random (with the scripted policy's own) by the random player.
JUNK = {int: [0, -1, 3, 10**9, "7", "x", None], str: ["", "up", "1 + 2", "apple", "x" * 300, 5, None]}


@dataclass
class EnvCheck:
    """What `check_env` found; `ok` is False when the environment broke the contract."""

    name: str
    episodes: int
    max_turns: int
    tools: list[str]
    optimal_mean: float | None = None
    random_mean: float | None = None
    invalid_per_random_episode: float | None = None
    ms_per_step: float | None = None
    deterministic: bool | None = None
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def render(self) -> str:
        """A plain-text report, one fact per line."""
        lines = [f"environment '{self.name}': {'ok' if self.ok else 'CONTRACT VIOLATED'}",
                 f"  tools: {', '.join(self.tools) or 'none'}; {self.episodes} episodes, max_turns {self.max_turns}"]
        if self.optimal_mean is not None:
            lines.append(f"  scripted policy: mean return {self.optimal_mean:.4g}")
        if self.random_mean is not None:
            lines.append(f"  random actions: mean return {self.random_mean:.4g}, "
                         f"{self.invalid_per_random_episode:.1f} invalid actions per episode")
        if self.ms_per_step is not None:
            lines.append(f"  {self.ms_per_step:.3f} ms per step")
        if self.deterministic is not None:
            lines.append(f"  deterministic under a seed: {'yes' if self.deterministic else 'NO'}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  violation: {v}" for v in self.violations]
        return "\n".join(lines)


class Broken(Exception):
    """The environment broke the contract in a way that stops the check."""


def _call(what: str, fn, *args, **kwargs):
    try:
        return run_user(what, fn, args, kwargs, seconds=TIMEOUT)
    except ValueError as e:
        raise Broken(str(e)) from None


def _reward(name: str, env, where: str) -> float:
    value = _call(f"{where}: get_reward()", env.get_reward)
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise Broken(f"{where}: get_reward() returned {shorten(repr(value), 60)}; a reward is a finite number")
    return float(value)


def schema_problems(cls: type) -> list[str]:
    """Why TRL could not turn each tool into a JSON schema (a missing type hint or `Args:` docstring entry)."""
    from transformers.utils import get_json_schema

    problems = []
    for name, fn in tools(cls).items():
        if not inspect.getdoc(fn):
            problems.append(f"tool '{name}' has no docstring: the model learns what a tool does from it")
            continue
        try:
            get_json_schema(fn)
        except Exception as e:  # noqa: BLE001 - transformers raises its own parsing exceptions
            problems.append(f"tool '{name}': {e} (TRL renders each tool from its type hints and its Args: docstring)")
    return problems


def _random_args(fn, rng: random.Random, seen: dict) -> dict:
    """Arguments for one call: a value the scripted policy used or one of the awkward `JUNK` values."""
    try:
        hints = inspect.get_annotations(fn, eval_str=True)
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate: drawn as untyped
        hints = {}
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    args = {}
    for p in [q.name for q in inspect.signature(fn).parameters.values() if q.kind in named][1:]:
        pool = list(seen.get(p, [])) * 3 + JUNK.get(hints.get(p), [None, "", 0])
        args[p] = rng.choice(pool)
    return args


def _episode(spec: EnvSpec, env, row: dict, actions, label: str):
    """Reset on `row`, take `actions` ((tool, args) pairs, or a callable choosing them), return the
    observations, the reward after the turn budget, the reward at the end and the seconds spent in tools."""
    where = f"{label}, row {shorten(repr(row), 80)}"
    first = _call(f"{where}: reset(**row)", env.reset, **row, prompt=PROMPT)
    if first is not None and not isinstance(first, str):
        raise Broken(f"{where}: reset returned {type(first).__name__} {shorten(repr(first), 60)}; it returns the "
                     "first observation as text, or None")
    observations, spent, at_budget = [first], 0.0, None
    for turn, (tool, args) in enumerate(actions):
        start = time.perf_counter()
        observations.append(_call(f"{where}: {tool}(**{shorten(repr(args), 60)})", getattr(env, tool), **args))
        spent += time.perf_counter() - start
        if turn + 1 == spec.max_turns and hasattr(env, "get_reward"):
            at_budget = _reward(spec.name, env, where)
    end = _reward(spec.name, env, where) if hasattr(env, "get_reward") else None
    return observations, end if at_budget is None else at_budget, end, spent


def check_env(spec: EnvSpec, episodes: int = 20, seed: int = 0) -> EnvCheck:
    """Play `episodes` episodes of the scripted policy and twice as many of random actions (every random
    episode twice, for determinism) on rows generated from `seed`."""
    names = sorted(tools(spec.cls))
    report = EnvCheck(spec.name, episodes, spec.max_turns, names)
    report.violations += schema_problems(spec.cls)
    if not names:
        report.violations.append("no tools: TRL exposes the public methods other than reset and get_reward")
    if not hasattr(spec.cls, "get_reward"):
        report.warnings.append("no get_reward(): the episode is scored only by reward functions that read "
                               "`environments`")
    try:
        _play(spec, episodes, seed, names, report)
    except Broken as e:
        report.violations.append(str(e))
    return report


def _play(spec: EnvSpec, episodes: int, seed: int, names: list[str], report: EnvCheck) -> None:
    env = _call(f"environment '{spec.name}': constructing it", spec.factory())
    rows = spec.rows(episodes, seed)
    if rows is None:
        rows = [{}] * episodes
        report.warnings.append("no rows(n, seed, **kwargs): reset gets only the prompt column")
    elif rows != spec.rows(episodes, seed):
        report.violations.append(f"rows({episodes}, seed={seed}) differ between two calls: seed the generator")
    policy, target = getattr(spec.cls, "optimal_policy", None), getattr(spec.cls, "optimal_return", None)
    seen: dict[str, list] = {}
    optimal = []
    if policy is not None:
        for i, row in enumerate(rows):
            actions = _call(f"optimal_policy(row {i})", policy, row)
            for _, args in actions:
                for k, v in args.items():
                    seen.setdefault(k, []).append(v)
            if len(actions) > spec.max_turns:
                report.warnings.append(f"row {i}: the scripted policy needs {len(actions)} turns, more than "
                                       f"max_turns {spec.max_turns}")
                continue
            _, _, got, _ = _episode(spec, env, row, actions, f"scripted episode {i}")
            if got is not None:
                optimal.append(got)
            want = _call(f"optimal_return(row {i})", target, row) if target is not None else None
            if want is not None and got is not None and not math.isclose(got, want, abs_tol=1e-9):
                report.violations.append(f"row {i}: the scripted policy scored {got:.6g}, optimal_return says "
                                         f"{want:.6g}")
    plays, steps, spent, invalid = [], 0, 0.0, []
    for _ in range(2):
        for i, row in enumerate(rows):
            rng = random.Random(f"{seed}-{i}")
            actions = []
            for _ in range(spec.max_turns + 2):
                tool = rng.choice(names)
                actions.append((tool, _random_args(getattr(spec.cls, tool), rng, seen)))
            observations, at_budget, end, took = _episode(spec, env, row, actions, f"random episode {i}")
            if at_budget != end:
                report.violations.append(f"random episode {i}: actions after max_turns {spec.max_turns} changed "
                                         f"the reward from {at_budget} to {end}; an episode ends within max_turns")
            plays.append((observations, end))
            steps, spent = steps + len(actions), spent + took
            invalid.append(getattr(env, "invalid", 0))
    report.deterministic = plays[: len(rows)] == plays[len(rows):]
    if not report.deterministic:
        report.violations.append("the same actions on the same rows gave other observations or rewards the second "
                                 "time: keep all randomness in the rows, and reset every field in reset()")
    report.ms_per_step = 1000 * spent / max(steps, 1)
    report.invalid_per_random_episode = statistics.fmean(invalid)
    rewards = [end for _, end in plays[: len(rows)] if end is not None]
    report.random_mean = statistics.fmean(rewards) if rewards else None
    if optimal:
        report.optimal_mean = statistics.fmean(optimal)
        if report.random_mean is not None and report.random_mean >= report.optimal_mean:
            report.violations.append(f"random actions score {report.random_mean:.4g} on average, no less than the "
                                     f"scripted policy's {report.optimal_mean:.4g}: the reward does not pay for "
                                     "solving")
    outside = [r for r in optimal + rewards if not 0 <= r <= 1]
    if outside:
        report.warnings.append(f"{len(outside)} episode rewards outside [0, 1] (e.g. {outside[0]:.4g})")
