"""A recipe as text: the YAML file (or pipe) it is read from, and the dotted `key=value` overrides applied to it,
each problem a ConfigError naming the file or the key. rlft.core.config builds the typed recipe from what this reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlft.core import userpaths, yamltext
from rlft.core.schema import ConfigError, suggest


def parse_override(text: str) -> tuple[str, Any]:
    """Split `a.b=c` into ("a.b", value) with the value read as YAML.

    >>> parse_override("stages.grpo.trainer.max_steps=50")
    ('stages.grpo.trainer.max_steps', 50)
    >>> parse_override("data.kwargs.ops=[+, -]")
    ('data.kwargs.ops', ['+', '-'])
    """
    if "=" not in text:
        raise ConfigError("", f"override '{text}' is not of the form key=value (e.g. seed=1)")
    key, value = text.split("=", 1)
    if not key:
        raise ConfigError("", f"override '{text}' has an empty key")
    try:
        return key, yamltext.load(value) if value != "" else ""
    except yamltext.Refused as e:  # read as a recipe file would be: a repeated key is an error here too
        raise ConfigError(key, f"override value: {e}") from None
    except ValueError:  # not YAML at all: the text itself
        return key, value


def apply_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """Set dotted keys in a nested mapping, creating intermediate mappings; returns `raw` (changed in place).

    >>> apply_overrides({"a": {"b": 1}}, {"a.b": 2, "a.c.d": 3})
    {'a': {'b': 2, 'c': {'d': 3}}}
    """
    for dotted, value in overrides.items():
        check_stage_name(raw, dotted, value)
        node = raw
        parts = dotted.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(".".join(parts[: i + 1]), f"is {child!r}, not a mapping: cannot set '{dotted}'")
            node = child
        node[parts[-1]] = value
    return raw


def check_stage_name(raw: dict, dotted: str, value: Any) -> None:
    """An override under `stages.X` needs X to be a stage of the recipe, unless it gives the whole new stage
    (a mapping with an `algorithm`): a typo in a stage name would otherwise start a stage of its own."""
    parts = dotted.split(".")
    stages = raw.get("stages")
    if parts[0] != "stages" or len(parts) < 2 or not isinstance(stages, dict) or parts[1] in stages:
        return
    if len(parts) == 2 and isinstance(value, dict) and "algorithm" in value:
        return
    names = ", ".join(map(str, stages)) or "none"
    raise ConfigError(dotted, f"no stage '{parts[1]}' in the recipe{suggest(parts[1], map(str, stages))} "
                      f"(stages: {names}); a new stage is given whole: stages.{parts[1]}={{algorithm: ..., ...}}")


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping from a file or a pipe (`rlft validate <(...)`), turning a path that cannot be read
    (rlft.core.userpaths) or a syntax error into a ConfigError."""
    path = Path(path)
    try:
        raw = yamltext.load(userpaths.read_text(path, "", "recipe file"))
    except UnicodeDecodeError as e:
        line = e.object.count(b"\n", 0, e.start) + 1
        raise ConfigError("", f"is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}, line {line})",
                          str(path)) from None
    except ValueError as e:
        raise ConfigError("", f"is not valid YAML: {e}", str(path)) from None
    if raw is None:
        raise ConfigError("", "is empty; a recipe is a YAML mapping with a 'stages' key", str(path))
    if not isinstance(raw, dict):
        raise ConfigError("", f"a recipe is a YAML mapping with a 'stages' key, got {type(raw).__name__}", str(path))
    return raw
