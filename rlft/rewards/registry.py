"""Find reward functions by name: built-ins in one dict, user code as `package.module:function` or
`path/to/file.py:function`. A name with `kwargs` is a factory, called with them to make the reward. User
code is imported and called through the guard's `run_user`, so whatever it does becomes one ValueError."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass

from rlft.core.schema import ConfigError, join, suggest
from rlft.core.userpaths import check_file
from rlft.rewards.guard import run_user
from rlft.rewards.text import shorten


@dataclass(frozen=True)
class Entry:
    """A registered reward: a function (`factory=False`) or a factory returning one (`factory=True`), and the
    dataset columns it reads (`columns`: see `reads`)."""

    fn: Callable
    factory: bool = False
    columns: tuple[str, ...] | Callable = ()

    @property
    def summary(self) -> str:
        return " ".join((inspect.getdoc(self.fn) or "").split("\n\n")[0].split())


REWARDS: dict[str, Entry] = {}


def register(fn: Callable | None = None, *, name: str | None = None, factory: bool = False,
             columns: tuple[str, ...] | Callable = ()):
    """Make a reward findable by name from YAML (`rewards: [my_reward]`); usable as a decorator. `columns`:
    the dataset columns it reads, checked against a stage's data before a run (see `reads`).

    >>> @register(name="always_one")
    ... def always_one(completions, **kwargs):
    ...     return [1.0] * len(completions)
    >>> resolve("always_one")(["a", "b"])
    [1.0, 1.0]
    >>> _ = REWARDS.pop("always_one")
    """

    def add(f: Callable) -> Callable:
        REWARDS[name or f.__name__] = Entry(f, factory, columns)
        return f

    return add(fn) if fn is not None else add


def reads(reward: Callable) -> list[tuple[str, ...]]:
    """The dataset columns a reward reads, as groups of which the data needs one column each: the reward's own
    `columns` attribute (how user code declares them: a tuple is one group, a list of tuples several), else its
    registry entry's (a function of the built reward for factories whose columns come from their kwargs). A
    reward that declares nothing reads nothing checkable.

    >>> reads(resolve("numeric_match")), reads(resolve("format_strict"))
    ([('answer', 'solution')], [])
    >>> reads(resolve("gate", {"objective": "accuracy", "judge": {"name": "code_tests", "kwargs": {"column": "t"}}}))
    [('solution', 'answer'), ('t',)]
    """
    declared = getattr(reward, "columns", None)
    if declared is None:
        entry = next((e for e in REWARDS.values()
                      if e.fn is reward or (e.factory and isinstance(e.fn, type) and type(reward) is e.fn)), None)
        declared = () if entry is None else entry.columns
    if callable(declared):
        declared = declared(reward)
    groups = [declared] if isinstance(declared, tuple) and all(isinstance(c, str) for c in declared) else declared
    groups = [(g,) if isinstance(g, str) else tuple(g) for g in groups or [] if g]
    return list(dict.fromkeys(groups))


def lacks(reward: Callable, columns) -> tuple[str, ...] | None:
    """The first group of columns the reward reads of which `columns` holds none, else None.

    >>> lacks(resolve("exact_match"), ["prompt", "completion"]), lacks(resolve("exact_match"), ["solution"])
    (('answer', 'solution'), None)
    """
    return next((g for g in reads(reward) if not set(g) & set(columns)), None)


def import_target(target: str) -> Callable:
    module_name, _, attr = target.rpartition(":")
    if module_name.endswith(".py"):
        try:
            path = check_file(module_name, "", "file")
        except ConfigError as e:  # resolve's errors are ValueErrors; the caller adds the key
            raise ValueError(e.message) from None
        spec = importlib.util.spec_from_file_location(f"rlft_user_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # so rewards defined there can be pickled by name
        try:
            run_user(f"importing '{module_name}' failed: the module", spec.loader.exec_module, (module,))
        except ValueError:
            sys.modules.pop(spec.name, None)
            raise
    else:
        module = run_user(f"cannot import module '{module_name}': it", importlib.import_module, (module_name,))
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ValueError(f"module '{module_name}' has no '{attr}'{suggest(attr, public)}")
    fn = getattr(module, attr)
    if not callable(fn):
        raise ValueError(f"'{target}' is not callable")
    return fn


def resolve(name: str, kwargs: dict | None = None) -> Callable:
    """The reward callable for a name: a built-in (factories are called with kwargs) or user code; a user
    function given kwargs is treated as a factory. Raises ValueError saying what is allowed."""
    kwargs = kwargs or {}
    factory = bool(kwargs)
    if ":" in name:
        fn = import_target(name)
        reward = run_user(f"factory '{name}'", fn, kwargs=kwargs) if kwargs else fn
    elif name in REWARDS:
        entry = REWARDS[name]
        factory = entry.factory
        if entry.factory:  # a registered factory may be a user's: guarded, but its ValueError/TypeError kept
            reward = run_user(f"factory '{name}'", entry.fn, kwargs=kwargs, passes=(ValueError, TypeError))
        elif kwargs:
            raise ValueError(f"reward '{name}' takes no kwargs (it is a plain function)")
        else:
            reward = entry.fn
    else:
        raise ValueError(
            f"unknown reward '{name}'{suggest(name, REWARDS)}; built-ins: {', '.join(sorted(REWARDS))}; "
            "or give your own as package.module:function or path/to/file.py:function"
        )
    if factory and not callable(reward):
        raise ValueError(f"factory '{name}' returned {shorten(repr(reward), 60)}; a factory returns the reward "
                         "function")
    if not hasattr(reward, "__name__"):
        raise ValueError(f"reward '{name}' has no __name__ (needed to log rewards/<name>/mean)")
    return reward


def from_spec(spec) -> Callable:
    """A reward from a nested spec, as composite rewards take them: a callable as is, a name (built-in or
    `module:function`), or a mapping `{name: ..., kwargs: {...}}`.

    >>> from_spec("numeric_match").__name__, from_spec({"name": "numeric_match"}).__name__
    ('numeric_match', 'numeric_match')
    >>> from_spec({"nme": "numeric_match"})
    Traceback (most recent call last):
    ...
    ValueError: a reward spec mapping has keys name and kwargs, got ['nme']
    """
    if callable(spec):
        if not hasattr(spec, "__name__"):
            raise ValueError(f"reward {spec!r} has no __name__ (needed to log rewards/<name>/mean)")
        return spec
    if isinstance(spec, str):
        return resolve(spec)
    if isinstance(spec, dict):
        if "name" not in spec or set(spec) - {"name", "kwargs"}:
            raise ValueError(f"a reward spec mapping has keys name and kwargs, got {sorted(spec)}")
        kwargs = spec.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ValueError(f"kwargs of reward '{spec['name']}' must be a mapping, got {type(kwargs).__name__}")
        return resolve(str(spec["name"]), kwargs)
    raise ValueError(f"a reward spec is a name, a {{name, kwargs}} mapping or a function, got {spec!r}")


def claim(names: dict[str, str], logged: str, key: str, source: str) -> None:
    """Record that the reward written at `key` (as `source`) logs as `rewards/<logged>/...`; a second reward
    of one stage with that name is refused, since TRL would merge the two into one metric.

    >>> names = {}
    >>> claim(names, "accuracy", "rewards[0].name", "'accuracy'")
    >>> claim(names, "accuracy", "rewards[1].name", "'./mine.py:accuracy'")
    Traceback (most recent call last):
    ...
    rlft.core.schema.ConfigError: rewards[1].name: reward './mine.py:accuracy' is named 'accuracy', like \
rewards[0].name ('accuracy'): TRL would log both as rewards/accuracy/mean; give one another name (rename the \
function or set its __name__)
    """
    if logged in names:
        raise ConfigError(key, f"reward {source} is named '{logged}', like {names[logged]}: TRL would log both "
                          f"as rewards/{logged}/mean; give one another name (rename the function or set its "
                          "__name__)")
    names[logged] = f"{key} ({source})"


def check_timeout(spec, key: str, timed: bool = True) -> None:
    """A RewardSpec's `timeout`: left out, or a positive number of seconds where a time limit applies."""
    timeout = getattr(spec, "timeout", None)
    if timeout is not None and not timed:
        raise ConfigError(join(key, "timeout"), "applies to a stage's rewards only; leave it out here")
    if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < float("inf")):
        raise ConfigError(join(key, "timeout"), f"must be a positive number of seconds per call (or left out: "
                          f"no limit), got {timeout!r}")


def check(spec, key: str, names: dict[str, str] | None = None, timed: bool = True) -> Callable:
    """Validate one RewardSpec by resolving it (user modules are imported) and return the reward; with `names`,
    the stage's reward names so far (see `claim`). `timed=False` where no time limit applies (eval.verifier,
    eval.format)."""
    check_timeout(spec, key, timed)
    try:
        fn = resolve(spec.name, spec.kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        entry = REWARDS.get(spec.name)
        if isinstance(e, TypeError) and entry is not None and entry.factory:  # a bad kwarg: say which are taken
            params = [p for p in inspect.signature(entry.fn).parameters if p not in ("self", "args", "kwargs")]
            e = f"{e}; reward '{spec.name}' takes kwargs: {', '.join(params) or 'none'}"
        raise ConfigError(join(key, "name"), str(e)) from None
    if names is not None:
        claim(names, fn.__name__, join(key, "name"), f"'{spec.name}'")
    return fn
