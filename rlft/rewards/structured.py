"""Structured-output rewards: valid JSON, JSON matching a schema (a small JSON-Schema subset, no
dependency), and a regex the completion must match."""

from __future__ import annotations

import json
import re

from rlft.rewards.text import completion_text

FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```", re.DOTALL | re.IGNORECASE)
KEYWORDS = {"type", "properties", "required", "items", "enum", "additionalProperties", "title", "description",
            "$schema", "$id"}
TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_BAD = object()


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def load_json(text: str):
    """The JSON value of a completion (the whole text stripped, or the inside of a text that is one ```json
    fenced block```); NaN/Infinity are not JSON. Returns the module's `_BAD` sentinel when it does not parse.

    >>> load_json(' {"a": [1, 2]} '), load_json('```json\\n{"a": 1}\\n```'), load_json("{'a': 1}") is _BAD
    ({'a': [1, 2]}, {'a': 1}, True)
    """
    text = text.strip()
    fenced = FENCED.fullmatch(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:  # json.JSONDecodeError is a ValueError
        return _BAD


def json_valid(completions, **kwargs) -> list[float]:
    """1.0 when the completion is one valid JSON value (whitespace or a single ```json fence around it
    allowed), else 0.0.

    >>> json_valid(['{"name": "Ada"}', '```json\\n[1, 2]\\n```', "{name: 'Ada'}", '{"a": 1} trailing', "NaN"])
    [1.0, 1.0, 0.0, 0.0, 0.0]
    """
    return [float(load_json(completion_text(c)) is not _BAD) for c in completions]


def check_schema(schema, path: str = "$") -> None:
    """Raise ValueError, naming the place, when a schema uses anything outside the supported subset (type,
    properties, required, items, enum, additionalProperties): silently ignoring e.g. `minimum` would pass
    outputs the user meant to fail.

    >>> check_schema({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}})
    Traceback (most recent call last):
    ...
    ValueError: schema at $.properties.n: unsupported keyword(s) ['minimum']; supported: $id, $schema, \
additionalProperties, description, enum, items, properties, required, title, type
    """
    if not isinstance(schema, dict):
        raise ValueError(f"schema at {path} must be a mapping, got {type(schema).__name__}")
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        supported = ", ".join(sorted(KEYWORDS))
        raise ValueError(f"schema at {path}: unsupported keyword(s) {unknown}; supported: {supported}")
    kinds = schema.get("type", [])
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        if kind not in TYPES:
            raise ValueError(f"schema at {path}: unknown type {kind!r}; allowed: {', '.join(sorted(TYPES))}")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{path}.properties.{name}")
    if "items" in schema:
        check_schema(schema["items"], f"{path}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        check_schema(schema["additionalProperties"], f"{path}.additionalProperties")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise ValueError(f"schema at {path}: enum must be a list")
    if "required" in schema and not isinstance(schema["required"], list):
        raise ValueError(f"schema at {path}: required must be a list of property names")


def _is(value, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}[kind]
    return isinstance(value, python)


def _same(a, b) -> bool:
    """JSON equality: true and 1 differ (Python says True == 1), 1 and 1.0 are equal."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def schema_error(value, schema: dict, path: str = "$") -> str | None:
    """The first place where `value` breaks `schema` (a checked schema), else None.

    >>> schema = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}
    >>> schema_error({"name": "Ada", "age": 36}, schema), schema_error({"age": "36"}, schema)
    (None, "$: missing required property 'name'")
    """
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            return f"{path}: expected {' or '.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return f"{path}: missing required property {name!r}"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            sub = properties.get(name, extra if isinstance(extra, dict) else None)
            if name not in properties and extra is False:
                return f"{path}: unexpected property {name!r}"
            if sub is not None and (error := schema_error(item, sub, f"{path}.{name}")):
                return error
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            if error := schema_error(item, schema["items"], f"{path}[{i}]"):
                return error
    return None


def _as_schema(schema) -> dict:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as e:
            raise ValueError(f"schema is not valid JSON: {e}") from None
    check_schema(schema)
    return schema


class JsonSchema:
    """1.0 when the completion is JSON (as `json_valid`) that matches the schema, else 0.0.

    The schema is
    given once (`schema`, a mapping or a JSON string) or per row (the dataset column named `column`, default
    "schema"); None for a row without one. Supported: type, properties, required, items, enum,
    additionalProperties; any other keyword is refused rather than ignored.

    >>> person = JsonSchema(schema={"type": "object", "required": ["name"],
    ...                             "properties": {"name": {"type": "string"}, "role": {"enum": ["dev", "ops"]}}})
    >>> person(['{"name": "Ada", "role": "dev"}', '{"name": "Ada", "role": "pm"}', '{"role": "dev"}', "Ada"])
    [1.0, 0.0, 0.0, 0.0]
    >>> JsonSchema()(["[1, 2]", "[1, 2]"], schema=['{"type": "array", "items": {"type": "integer"}}', None])
    [1.0, None]
    """

    def __init__(self, schema: dict | str | None = None, column: str = "schema"):
        self.schema = None if schema is None else _as_schema(schema)
        self.column, self.__name__ = column, "json_schema"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        rows = [self.schema] * len(completions) if self.schema is not None else kwargs.get(self.column)
        if rows is None:
            return [None] * len(completions)
        scores: list[float | None] = []
        for c, schema in zip(completions, rows, strict=True):
            if schema is None:
                scores.append(None)
                continue
            schema = schema if schema is self.schema else _as_schema(schema)
            value = load_json(completion_text(c))
            scores.append(float(value is not _BAD and schema_error(value, schema) is None))
        return scores


class RegexMatch:
    """1.0 when the completion (stripped, unless `strip=False`) matches `pattern`, else 0.0. `mode`:
    "fullmatch" (the whole completion), "match" (at its start) or "search" (anywhere).

    >>> date = RegexMatch(pattern=r"\\d{4}-\\d{2}-\\d{2}")
    >>> date(["2024-05-01", " 2024-05-01\\n", "on 2024-05-01"])
    [1.0, 1.0, 0.0]
    >>> RegexMatch(r"yes", mode="search", ignore_case=True)(["Yes!", "no"])
    [1.0, 0.0]
    """

    MODES = ("fullmatch", "match", "search")

    def __init__(self, pattern: str, mode: str = "fullmatch", ignore_case: bool = False, dotall: bool = False,
                 multiline: bool = False, strip: bool = True):
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        flags = (re.IGNORECASE if ignore_case else 0) | (re.DOTALL if dotall else 0) | (re.M if multiline else 0)
        try:
            self.regex = re.compile(pattern, flags)
        except re.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regex: {e}") from None
        self.mode, self.strip, self.__name__ = mode, strip, "regex_match"

    def __call__(self, completions, **kwargs) -> list[float]:
        texts = [completion_text(c) for c in completions]
        match = getattr(self.regex, self.mode)
        return [float(match(t.strip() if self.strip else t) is not None) for t in texts]
