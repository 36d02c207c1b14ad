"""Find environments by name: built-ins in one dict, user code as `package.module:Class` or
`path/to/file.py:Class`, imported exactly as rewards are. `kwargs` go to the class's `rows` generator (the
procedural data), `max_turns` to its constructor, so `EnvSpec.factory()` is what TRL's `environment_factory`
takes."""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field

from rlft.core.schema import suggest
from rlft.envs.base import DEFAULT_MAX_TURNS
from rlft.envs.calculator import Calculator
from rlft.envs.guard import guarded_class
from rlft.envs.guess_number import GuessNumber
from rlft.envs.maze import Maze
from rlft.envs.wordle import Wordle
from rlft.rewards.guard import run_user
from rlft.rewards.registry import import_target

ENVIRONMENTS: dict[str, type] = {"guess_number": GuessNumber, "calculator": Calculator, "maze": Maze,
                                 "wordle": Wordle}


def register_env(cls: type | None = None, *, name: str | None = None):
    """Make an environment class findable by name (`env: {name: ...}`); usable as a decorator.

    >>> @register_env(name="tiny")
    ... class Tiny(GuessNumber):
    ...     pass
    >>> resolve_env("tiny").cls.__name__
    'Tiny'
    >>> _ = ENVIRONMENTS.pop("tiny")
    """

    def add(c: type) -> type:
        ENVIRONMENTS[name or c.__name__] = c
        return c

    return add(cls) if cls is not None else add


def tools(cls: type) -> dict:
    """The tools TRL exposes for an environment class: its public functions other than reset and get_reward
    (TRL lists them on the class, so properties and class methods are not tools).

    >>> sorted(tools(Calculator))
    ['answer', 'calc']
    """
    return {name: fn for name, fn in inspect.getmembers(cls, predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")}


def summary(cls: type) -> str:
    """The first paragraph of the class's module docstring (less its leading "`name`: "), else of its own.

    >>> summary(Maze)
    'walk a small text grid from S to G with `move(direction)`.'
    """
    doc = inspect.getdoc(inspect.getmodule(cls)) or inspect.getdoc(cls) or ""
    return re.sub(r"^`\w+`: ", "", " ".join(doc.split("\n\n")[0].split()))


@dataclass(frozen=True)
class EnvSpec:
    """A resolved environment: its class, the kwargs of its `rows` generator and the turn budget."""

    name: str
    cls: type
    kwargs: dict = field(default_factory=dict)
    max_turns: int = DEFAULT_MAX_TURNS

    def factory(self):
        """What `trl.GRPOTrainer(environment_factory=...)` takes: a no-argument callable making one instance."""
        return self._factory(self.cls)

    def guarded(self, reward: bool = True):
        """`factory()` for instances whose reset, tools and get_reward run guarded (rlft.envs.guard): what rlft's
        stages play. Each call starts a new episode count. `reward=False`: instances without `get_reward`, so that
        TRL does not add it as a reward (a control run trained on other rewards)."""
        cls = guarded_class(self.name, self.cls, list(tools(self.cls)))
        return self._factory(cls if reward else hiding(cls, ["get_reward"]))

    def reward(self):
        """The episode's `get_reward()` as a reward function (TRL's contract, reading the `environments` TRL passes),
        named after the class as TRL names it; None for a class without get_reward."""
        if not callable(getattr(self.cls, "get_reward", None)):
            return None

        def episode_reward(completions, environments, **kwargs):
            return [e.get_reward() for e in environments]

        episode_reward.__name__ = self.cls.__name__
        return episode_reward

    def _factory(self, cls: type):
        return functools.partial(cls, max_turns=self.max_turns) if self._takes_max_turns() else cls

    def _takes_max_turns(self) -> bool:
        try:
            params = inspect.signature(self.cls).parameters
        except (TypeError, ValueError):
            return False
        return "max_turns" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())

    def rows(self, n: int, seed: int) -> list[dict] | None:
        """n episode rows from the class's `rows(n, seed, **kwargs)`, None when it has none."""
        generate = getattr(self.cls, "rows", None)
        if generate is None:
            return None
        return run_user(f"environment '{self.name}': rows(n={n}, seed={seed}, **{self.kwargs})", generate,
                        (n, seed), self.kwargs, passes=(TypeError,))


def resolve_env(name: str, kwargs: dict | None = None, max_turns: int = DEFAULT_MAX_TURNS,
                keep_tools: list[str] | None = None) -> EnvSpec:
    """The environment for a name: a built-in or user code; ValueError saying what is allowed. `keep_tools`: the
    class's tools the model gets (default all); the others are removed (an ablation: the tool taken away).

    >>> resolve_env("guess_numbr")
    Traceback (most recent call last):
    ...
    ValueError: unknown environment 'guess_numbr' (did you mean 'guess_number'?); built-ins: calculator, \
guess_number, maze, wordle; or give your own as package.module:Class or path/to/file.py:Class
    """
    if not (isinstance(max_turns, int) and not isinstance(max_turns, bool) and max_turns >= 1):
        raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
    if ":" in name:
        cls = import_target(name)
        if not inspect.isclass(cls):
            raise ValueError(f"'{name}' is {type(cls).__name__} {cls!r}, not a class; an environment is a class "
                             "with reset(**row) and tool methods")
    elif name in ENVIRONMENTS:
        cls = ENVIRONMENTS[name]
    else:
        raise ValueError(f"unknown environment '{name}'{suggest(name, ENVIRONMENTS)}; built-ins: "
                         f"{', '.join(sorted(ENVIRONMENTS))}; or give your own as package.module:Class or "
                         "path/to/file.py:Class")
    if not callable(getattr(cls, "reset", None)):
        raise ValueError(f"environment '{name}' has no reset method; TRL starts every episode with reset(**row)")
    kwargs = dict(kwargs or {})
    generate = getattr(cls, "rows", None)
    if kwargs and generate is None:
        raise ValueError(f"environment '{name}' takes no kwargs: it has no rows(n, seed, **kwargs) generator")
    if kwargs:
        params = [p for p in inspect.signature(generate).parameters if p not in ("n", "seed")]
        unknown = sorted(set(kwargs) - set(params))
        if unknown and not any(inspect.signature(generate).parameters[p].kind is inspect.Parameter.VAR_KEYWORD
                               for p in params):
            raise ValueError(f"environment '{name}' takes no kwarg {', '.join(map(repr, unknown))}; its rows take: "
                             f"{', '.join(params) or 'none'}")
    if keep_tools is not None:
        cls = without_tools(name, cls, keep_tools)
    return EnvSpec(name, cls, kwargs, max_turns)


def without_tools(name: str, cls: type, keep: list[str]) -> type:
    """`cls` with only the tools `keep` (`hiding` the others); an unknown name is a ValueError naming the tools.

    >>> sorted(tools(without_tools("calculator", Calculator, ["answer"])))
    ['answer']
    """
    available = tools(cls)
    unknown = [t for t in keep if t not in available]
    if unknown:
        raise ValueError(f"environment '{name}' has no tool '{unknown[0]}'{suggest(unknown[0], available)}; its "
                         f"tools: {', '.join(sorted(available))}")
    return hiding(cls, [t for t in available if t not in keep])


def hiding(cls: type, names: list[str]) -> type:
    """A subclass of `cls` (same name, module and docs, so logs and messages read the same) in which each of
    `names` is None: TRL and `tools()` list a class's functions, so a None hides the inherited method."""
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                       "__qualname__": cls.__qualname__, **dict.fromkeys(names)})
