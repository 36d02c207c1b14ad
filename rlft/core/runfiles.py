"""Reading back the files rlft writes into run and sweep folders (config.yaml, summary.json, output.json,
env.json, sweep.json, metrics.jsonl, ...), for `rlft run --resume`, `rlft compare` and reward-model caches.

Such a file may have been edited by hand, cut short by a full disk or replaced by something else. Every read
goes through here, so each problem is one ConfigError naming the file, what it is ("the run's summary") and
what is wrong with it (empty, not JSON at line N, not a mapping, a key missing or of the wrong type).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlft.core import yamltext
from rlft.core.schema import ConfigError

Keys = dict[str, type | tuple[type, ...]]  # required keys and the types their values must have
SUMMARY_KEYS: Keys = {"recipe": str, "seed": int, "stages": dict}  # a finished run's summary.json
SWEEP_KEYS: Keys = {"label": str, "planned": list, "seeds": list}  # a sweep's sweep.json


def _names(tp: type | tuple[type, ...]) -> str:
    """'int or float' for (int, float); the JSON-ish name of one type.

    >>> _names((int, float)), _names(dict), _names(list)
    ('int or float', 'mapping', 'list')
    """
    names = {dict: "mapping", list: "list", str: "string", bool: "true or false", type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in (tp if isinstance(tp, tuple) else (tp,)))


def _text(path: Path, what: str) -> str:
    """The file's text; a missing file, a folder or bytes that are not UTF-8 are errors naming it."""
    if path.is_dir():
        raise ConfigError("", f"{what} should be a file, but this is a folder", str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"{what} is missing", str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError("", f"{what} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
                          "; was it overwritten?", str(path)) from None  # fmt: skip
    if not text.strip():
        raise ConfigError("", f"{what} is empty; was the run stopped while writing it?", str(path))
    return text


def check_shape(data: Any, path: Path, what: str, keys: Keys | None = None, only: bool = False) -> dict:
    """`data` must be a mapping holding each of `keys` with a value of its type (bool never counts as int);
    with `only`, no other keys."""
    if not isinstance(data, dict):
        raise ConfigError("", f"{what} should be a mapping, got {type(data).__name__}", str(path))
    extra = [k for k in data if k not in (keys or {})] if only else []
    if extra:
        raise ConfigError("", f"{what} has an unknown key '{extra[0]}'; allowed: {', '.join(keys or {})}", str(path))
    for key, tp in (keys or {}).items():
        if key not in data:
            raise ConfigError("", f"{what} has no '{key}' (it has: {', '.join(map(str, data))[:200] or 'nothing'})",
                              str(path))
        value, types = data[key], tp if isinstance(tp, tuple) else (tp,)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError("", f"{what}: '{key}' should be {_names(tp)}, got {value!r}", str(path))
    return data


def read_json(path: str | Path, what: str, keys: Keys | None = None, only: bool = False) -> dict:
    """A JSON mapping file of a run folder, with `keys` required (see `check_shape`)."""
    path = Path(path)
    text = _text(path, what)
    try:
        data = json.loads(text)
    except ValueError as e:
        where = f" at line {e.lineno}, column {e.colno}: {e.msg}" if isinstance(e, json.JSONDecodeError) else ""
        raise ConfigError("", f"{what} is not valid JSON{where}", str(path)) from None
    except RecursionError:
        raise ConfigError("", f"{what} is nested too deeply to be one of rlft's files", str(path)) from None
    return check_shape(data, path, what, keys, only)


def read_yaml(path: str | Path, what: str, keys: Keys | None = None) -> dict:
    """A YAML mapping file of a run folder (config.yaml, a sweep's recipe.yaml), with `keys` required."""
    path = Path(path)
    text = _text(path, what)
    try:
        data = yamltext.load(text)
    except ValueError as e:
        raise ConfigError("", f"{what} is not valid YAML: {e}", str(path)) from None
    return check_shape(data, path, what, keys)


def read_jsonl(path: str | Path, what: str) -> list[dict]:
    """The records of a JSON-lines file (metrics.jsonl); a missing file has none, a broken line is an error."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    text = _text(path, what) if path.stat().st_size else ""  # a stage that logged nothing leaves it empty
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ConfigError("", f"{what}: line {number} is not valid JSON", str(path)) from None
        if not isinstance(record, dict):
            raise ConfigError("", f"{what}: line {number} should be a mapping, got {type(record).__name__}",
                              str(path))
        records.append(record)
    return records
