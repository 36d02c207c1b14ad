"""Turn plain YAML mappings into typed dataclasses, with errors that name the dotted key.

Every config object in rlft is a dataclass whose field names are the YAML keys. `build(cls, raw, key)`
checks unknown keys (with a close-match suggestion), missing required fields and value types, and raises
`ConfigError` naming the key, the bad value and what is allowed. Nothing here imports torch or TRL, so
`rlft validate` stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Literal, Union


class ConfigError(ValueError):
    """A recipe problem found before anything runs; the CLI prints it and exits with code 2."""

    def __init__(self, key: str, message: str, source: str | None = None):
        self.key, self.message, self.source = key, message, source
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return shorten(f"{where}{self.key}: {self.message}" if self.key else f"{where}{self.message}")

    def with_source(self, source: str) -> ConfigError:
        self.source = source
        self.args = (self._text(),)
        return self


MAX_MESSAGE = 1000  # characters of an error line: a huge value quoted in it shows its start and its end


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut in the middle to about `limit` characters, saying how much was left out; keeps the start (the
    file and key) and the end (what is allowed).

    >>> shorten("key: " + "x" * 50 + "; allowed: 1, 2", limit=30)
    'key: xxxxxxxxxxxxxxx... (40 more characters) ...owed: 1, 2'
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}... ({len(text) - head - tail} more characters) ...{text[-tail:]}"


def join(prefix: str, key: str | int) -> str:
    """Dotted key of a child: join("stages.sft", "trainer") -> "stages.sft.trainer"; list items use [i]."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def suggest(word: str, allowed: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''.

    >>> suggest("lerning_rate", ["learning_rate", "seed"])
    " (did you mean 'learning_rate'?)"
    """
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(raw: dict, allowed: typing.Iterable[str], key: str, what: str) -> None:
    """Raise on the first key of `raw` not in `allowed`, listing what is allowed."""
    allowed = list(allowed)
    for name in raw:
        if name not in allowed:
            shown = ", ".join(sorted(allowed)) if len(allowed) <= 40 else f"{len(allowed)} fields of {what}"
            raise ConfigError(join(key, name), f"unknown key for {what}{suggest(str(name), allowed)}; allowed: {shown}")


def describe(tp: Any) -> str:
    """Human name of a type annotation: describe(int | None) -> 'int or null'."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {describe(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def convert(value: Any, tp: Any, key: str) -> Any:
    """Check and convert one value against a type annotation (int, float, str, bool, Literal, list, dict,
    unions with None, nested dataclasses)."""
    if tp is Any:  # free-form blocks (trainer:, lora:, kwargs:) hold numbers too
        check_finite(value, key)
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(key, f"expected {describe(tp)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(key, f"{value!r} is not allowed; allowed: {', '.join(repr(a) for a in allowed)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [convert(v, item_tp, join(key, i)) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {value!r}")
        args = typing.get_args(tp)
        if args:
            return {k: convert(v, args[1], join(key, k)) for k, v in value.items()}
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and _is_number(value):  # YAML 1.1 reads 3e-4 (no dot) as text
                hint = f" (YAML reads {value} as text: write it with a dot, e.g. {_with_dot(value)})"
            raise ConfigError(key, f"expected a number, got {value!r}{hint}")
        if value != value:
            raise ConfigError(key, "expected a number, got NaN")
        check_finite(value, key)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {key}")


def check_finite(value: Any, key: str) -> None:
    """Refuse NaN and infinities anywhere in `value` (nested lists and mappings too): YAML reads `.inf` and
    `.nan` as numbers, and a learning rate or temperature of inf runs on to NaN losses or noise.

    >>> check_finite({"lr": 0.1, "betas": [0.9, 0.99]}, "trainer")
    >>> check_finite({"betas": [0.9, float("inf")]}, "trainer")
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: trainer.betas[1]: must be a finite number, got inf
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {'NaN' if value != value else value}")
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, join(key, k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_finite(v, join(key, i))


SEED_MAX = 2**32 - 1  # numpy's seeds are 32-bit; torch and TRL's samplers refuse negative ones


def check_seed(value: int | None, key: str) -> None:
    """Refuse a seed that NumPy or torch refuses once the run starts: negative or above 2**32 - 1.

    >>> check_seed(2**32, "seed")
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: seed: must be in [0, 4294967295] (a 32-bit seed), got 4294967296
    """
    if type(value) is int and not 0 <= value <= SEED_MAX:
        raise ConfigError(key, f"must be in [0, {SEED_MAX}] (a 32-bit seed), got {value}")


def build(cls: type, raw: Any, key: str = ""):
    """Build dataclass `cls` from mapping `raw`; unknown keys, missing fields and bad types raise ConfigError.

    A dataclass may define `validate(self, key)` for checks across fields; it runs after conversion.
    """
    if isinstance(raw, cls):
        return raw
    shorthand = getattr(cls, "shorthand", None)
    if isinstance(raw, str) and shorthand:
        raw = {shorthand: raw}
    if not isinstance(raw, dict):
        also = f" or a {shorthand} string" if shorthand else ""
        raise ConfigError(key, f"expected a mapping{also}, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    check_keys(raw, fields, key, cls.__name__.lower() if not key else f"'{key}'")
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = convert(raw[name], hints[name], join(key, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(join(key, name), f"is required ({describe(hints[name])})")
    obj = cls(**values)
    if hasattr(obj, "validate"):
        obj.validate(key)
    return obj


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _with_dot(text: str) -> str:
    """'3e-4' -> '3.0e-4', '1e5' -> '1.0e+5': the spelling YAML 1.1 reads as a float (a dot, a signed exponent)."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    mantissa = mantissa if "." in mantissa else mantissa + ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + ("e" + exponent if exponent else "")


def positive(value: int | float | None, key: str, allow_zero: bool = False) -> None:
    """Raise unless value is None or > 0 (>= 0 with allow_zero)."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
