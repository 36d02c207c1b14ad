"""Paths written in a recipe: relative to the recipe file's folder, found by one table of path-valued keys.

`load_recipe` resolves every relative path in a recipe file against the file's folder (data files, local
model and tokenizer folders, `file.py:function` rewards, nested ones in composition kwargs, reward-model
`path` and `definition: x.yaml`), so `rlft run sub/recipe.yaml` works from any folder. Values set by
command-line overrides are the user's typing at the shell and stay relative to the working directory, as
does a recipe given as a Python mapping. `config.yaml` stores every path absolute (`absolute_paths`), so a
run resumes from anywhere. A finished run's stage folder (`output.json`) is a model path like any other.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rlft.core.runfiles import read_json
from rlft.core.schema import ConfigError, join

REWARD_FILE = re.compile(r"^(?P<file>.+\.py):(?P<fn>[A-Za-z_][A-Za-z0-9_]*)$")
OUTPUT_FILE = "output.json"  # what a finished stage leaves: the model later stages load (rlft.models.ModelRef)
MODEL_REF_KEYS = {"base": str, "adapters": list, "tokenizer": (str, type(None))}  # output.json, exactly these

# Where a recipe holds paths: dotted key (`*`: any stage) -> the kind of node found there.
FIELDS = {"data": "data", "stages.*.data": "data", "stages.*.model": "model", "stages.*.rewards": "rewards",
          "stages.*.eval.verifier": "reward", "stages.*.eval.format": "reward", "stages.*.env": "env"}  # fmt: skip
# Rewards whose kwargs name local paths, declared by the package that owns the reward (rlft.rm.score for the
# reward model): reward name -> {kwarg: kind}; kind "yaml" is a file only when the value ends in .yaml/.yml
# (otherwise a name looked up elsewhere).
REWARD_PATHS: dict[str, dict[str, str]] = {}

# A leaf: (value, dotted key, kind) -> new value. Kinds: "data" (a data file), "file" (another local file),
# "folder" (a local folder or else a hub id), "code" (`file.py:function`, else a module or built-in name).
Fix = Callable[[object, str, str], object]


def shown(path: str | Path) -> str:
    """A path as short as it stays valid from the working directory: relative below it, else absolute.

    >>> shown(Path.cwd() / "data" / "x.jsonl"), shown("/elsewhere/x.jsonl")
    ('data/x.jsonl', '/elsewhere/x.jsonl')
    """
    full = os.path.abspath(path)
    relative = os.path.relpath(full, os.getcwd())
    return full if relative == ".." or relative.startswith(".." + os.sep) else relative


def rewrite(raw: dict, fix: Fix, skip: Iterable[str] = ()) -> dict:
    """Apply `fix` to every path-valued leaf of a raw recipe mapping (changed in place, returned); keys equal
    to or below a key in `skip` are left alone."""
    skip = tuple(skip)

    def kept(key: str) -> bool:
        return not any(key == s or key.startswith((s + ".", s + "[")) for s in skip)

    def leaf(node: dict, name: str, key: str, kind: str) -> None:
        if name in node and kept(join(key, name)):
            node[name] = fix(node[name], join(key, name), kind)

    def reward(node, key: str):
        if isinstance(node, str):
            return fix(node, key, "code") if kept(key) else node
        if isinstance(node, dict):
            leaf(node, "name", key, "code")
            if isinstance(node.get("kwargs"), dict) and kept(join(key, "kwargs")):
                kwargs, kkey = node["kwargs"], join(key, "kwargs")
                declared = REWARD_PATHS.get(node.get("name")) if isinstance(node.get("name"), str) else None
                for name, kind in (declared or {}).items():
                    if kind != "yaml" or str(kwargs.get(name, "")).endswith((".yaml", ".yml")):
                        leaf(kwargs, name, kkey, "file" if kind == "yaml" else kind)
                if declared is None:
                    node["kwargs"] = nested(kwargs, kkey)
        return node

    def nested(value, key: str):  # composition kwargs: any `file.py:function` at any depth
        if isinstance(value, str) and REWARD_FILE.match(value):
            return fix(value, key, "code") if kept(key) else value
        if isinstance(value, dict):
            return {k: nested(v, join(key, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [nested(v, join(key, i)) for i, v in enumerate(value)]
        return value

    def visit(node, key: str, kind: str):
        if not kept(key):
            return node
        if kind == "data" and isinstance(node, dict):
            leaf(node, "path", key, "data")
            leaf(node, "eval_path", key, "data")
            leaf(node, "hub", key, "folder")  # a local copy of a dataset repository, else a hub id
            if "verifier" in node:
                node["verifier"] = reward(node["verifier"], join(key, "verifier"))
        elif kind == "model" and isinstance(node, str):
            return fix(node, key + ".path", "folder")
        elif kind == "model" and isinstance(node, dict):
            leaf(node, "path", key, "folder")
            leaf(node, "tokenizer", key, "folder")
        elif kind == "rewards" and isinstance(node, list):
            return [reward(r, join(key, i)) for i, r in enumerate(node)]
        elif kind == "reward":
            return reward(node, key)
        elif kind == "env" and isinstance(node, str):  # the `env: file.py:Class` shorthand
            return fix(node, key, "code")
        elif kind == "env" and isinstance(node, dict):
            leaf(node, "name", key, "code")
        return node

    for pattern, kind in FIELDS.items():
        head, _, rest = pattern.partition(".*.")
        if not rest:
            if pattern in raw:
                raw[pattern] = visit(raw[pattern], pattern, kind)
            continue
        for name, stage in (raw.get(head) or {}).items() if isinstance(raw.get(head), dict) else ():
            *parents, last = rest.split(".")
            node, key = stage, join(head, str(name))
            for part in parents:
                node, key = node.get(part) if isinstance(node, dict) else None, join(key, part)
            if isinstance(node, dict) and last in node:
                node[last] = visit(node[last], join(key, last), kind)
    return raw


def beside(base: str | Path) -> Fix:
    """The fix `load_recipe` applies to a recipe file: a relative path that exists in the recipe's folder `base`
    becomes that file (as `shown`); one that exists only relative to the working directory is an error naming
    both places; a data file found nowhere is an error; anything else (a hub id, a module name) stays."""
    base = Path(base)
    same = os.path.abspath(base) == os.getcwd()

    def fix(value, key: str, kind: str):
        if not isinstance(value, str) or not value:
            return value
        if kind == "code":
            match = REWARD_FILE.match(value)
            return f"{fix(match['file'], key, 'file')}:{match['fn']}" if match else value
        if Path(value).expanduser().is_absolute() or value.startswith("~"):
            return value
        here = base / value
        if os.path.lexists(here):  # a link that leads nowhere is there too: rlft.core.userpaths says what is wrong
            return shown(here)
        if os.path.lexists(value) and not same:
            suggestion = os.path.relpath(os.path.abspath(value), os.path.abspath(base))
            raise ConfigError(key, f"'{value}' is not in the recipe's folder ({shown(here)} does not exist) but is in "
                              f"the working directory ({os.path.abspath(value)}); paths in a recipe file are relative "
                              f"to the recipe: write '{suggestion}' or an absolute path, or set it on the command "
                              f"line ({key}={value}), where paths are relative to the working directory")  # fmt: skip
        if kind == "data":
            raise ConfigError(key, f"data file '{value}' does not exist (paths in a recipe file are relative to the "
                              f"recipe: looked for {shown(here)})")  # fmt: skip
        return value

    return fix


def absolute(value, key: str, kind: str):
    """The fix `config.to_dict` applies: a relative path that exists from the working directory becomes
    absolute, so config.yaml means the same from any folder; hub ids and module names stay."""
    if not isinstance(value, str) or not value:
        return value
    if kind == "code":
        match = REWARD_FILE.match(value)
        return f"{absolute(match['file'], key, 'file')}:{match['fn']}" if match else value
    return os.path.abspath(value) if not os.path.isabs(value) and Path(value).exists() else value


# ---------------------------------------------------------------- a run's stage folder as a model


def stage_output(path: str | Path, key: str = "") -> dict | None:
    """What a finished run's stage folder holds: its output.json (`base`, `adapters`, `tokenizer`) with paths
    usable from here, or None when `path` is not such a folder. Runs write these paths as seen from where they
    ran (`runs/x/<run>/sft/model`); one not found from here is looked up as `<stage>/<folder>` in this run."""
    file = Path(path).expanduser() / OUTPUT_FILE
    if not file.is_file():
        return None

    try:
        saved = read_json(file, "the stage's model reference", MODEL_REF_KEYS, only=True)
    except ConfigError as e:
        raise ConfigError(key, str(e)) from None
    ref = {"base": saved["base"], "adapters": [str(a) for a in saved["adapters"]], "tokenizer": saved["tokenizer"]}
    run_dir = file.parent.parent

    def usable(p: str | None) -> str | None:
        if p is None or Path(p).expanduser().is_absolute() or Path(p).exists():
            return p
        inside = run_dir.joinpath(*Path(p).parts[-2:])  # <stage>/<model|adapter|init>
        return shown(inside) if len(Path(p).parts) >= 2 and inside.exists() else p

    return {"base": usable(ref["base"]), "adapters": [usable(a) for a in ref["adapters"]],
            "tokenizer": usable(ref["tokenizer"])}  # fmt: skip


def packaged(folder: str) -> list[Path]:
    """Where rlft's own `recipes/` or `reward_models/` are: beside the package in a source checkout or an
    editable install, then where a regular install puts them (`<prefix>/share/rlft/`, pyproject's data-files)."""
    checkout = Path(__file__).resolve().parents[2]  # rlft/core/paths.py -> the folder holding the package
    candidates = (checkout / folder, Path(sys.prefix) / "share" / "rlft" / folder)
    return [p for p in candidates if p.is_dir()]


def recipe_folders() -> list[Path]:
    """The folders `rlft list` reads: `recipes/` in the working directory, then rlft's own recipes."""
    found: list[Path] = []
    for folder in [Path("recipes"), *packaged("recipes")[:1]]:
        if folder.is_dir() and not any(os.path.samefile(folder, f) for f in found):
            found.append(folder)
    return found
