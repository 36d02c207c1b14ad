"""Find reward functions by name: built-ins in one dict, user code as `package.module:function` or
`path/to/file.py:function`. A name with `kwargs` is a factory, called with them to make the reward."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rlft.schema import ConfigError, join, suggest


@dataclass(frozen=True)
class Entry:
    """A registered reward: a function (`factory=False`) or a factory returning one (`factory=True`)."""

    fn: Callable
    factory: bool = False

    @property
    def summary(self) -> str:
        return " ".join((inspect.getdoc(self.fn) or "").split("\n\n")[0].split())


REWARDS: dict[str, Entry] = {}


def register(fn: Callable | None = None, *, name: str | None = None, factory: bool = False):
    """Make a reward findable by name from YAML (`rewards: [my_reward]`); usable as a decorator.

    >>> @register(name="always_one")
    ... def always_one(completions, **kwargs):
    ...     return [1.0] * len(completions)
    >>> resolve("always_one")(["a", "b"])
    [1.0, 1.0]
    >>> _ = REWARDS.pop("always_one")
    """

    def add(f: Callable) -> Callable:
        REWARDS[name or f.__name__] = Entry(f, factory)
        return f

    return add(fn) if fn is not None else add


def _import(target: str) -> Callable:
    module_name, _, attr = target.rpartition(":")
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser()
        if not path.is_file():
            raise ValueError(f"file '{module_name}' does not exist")
        spec = importlib.util.spec_from_file_location(f"rlft_user_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # so rewards defined there can be pickled by name
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise ValueError(f"importing '{module_name}' failed: {type(e).__name__}: {e}") from None
    else:
        try:
            module = importlib.import_module(module_name)
        except Exception as e:
            raise ValueError(f"cannot import module '{module_name}': {type(e).__name__}: {e}") from None
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
    if ":" in name:
        fn = _import(name)
        reward = fn(**kwargs) if kwargs else fn
    elif name in REWARDS:
        entry = REWARDS[name]
        if entry.factory:
            reward = entry.fn(**kwargs)
        elif kwargs:
            raise ValueError(f"reward '{name}' takes no kwargs (it is a plain function)")
        else:
            reward = entry.fn
    else:
        raise ValueError(
            f"unknown reward '{name}'{suggest(name, REWARDS)}; built-ins: {', '.join(sorted(REWARDS))}; "
            "or give your own as package.module:function or path/to/file.py:function"
        )
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


def check(spec, key: str) -> None:
    """Validate one RewardSpec by resolving it (user modules are imported)."""
    try:
        resolve(spec.name, spec.kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        entry = REWARDS.get(spec.name)
        if isinstance(e, TypeError) and entry is not None and entry.factory:  # a bad kwarg: say which are taken
            params = [p for p in inspect.signature(entry.fn).parameters if p not in ("self", "args", "kwargs")]
            e = f"{e}; reward '{spec.name}' takes kwargs: {', '.join(params) or 'none'}"
        raise ConfigError(join(key, "name"), str(e)) from None
