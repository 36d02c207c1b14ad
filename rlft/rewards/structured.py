"""Structured-output rewards: valid JSON, JSON matching a JSON Schema (the `jsonschema` library), and a regex
the completion must match."""

from __future__ import annotations

import functools
import json
import re

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from rlft.rewards.text import completion_text, shorten

FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```", re.DOTALL | re.IGNORECASE)
SCHEMA_CACHE = 1024  # compiled validators kept, by schema JSON text (a dataset may have one schema per row)
LOCAL_ONLY = Registry()  # $ref resolves inside the schema only: jsonschema would otherwise fetch remote URLs
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


@functools.lru_cache(maxsize=SCHEMA_CACHE)
def _compile_text(text: str) -> Validator:
    try:
        schema = json.loads(text)
    except ValueError as e:
        raise ValueError(f"schema is not valid JSON: {e}") from None
    if not isinstance(schema, dict | bool):
        raise ValueError(f"a schema must be a mapping (or true/false), got {type(schema).__name__}")
    if isinstance(schema, dict) and "$schema" in schema and (
            not isinstance(schema["$schema"], str) or validator_for(schema, default=None) is None):
        raise ValueError(f"unknown $schema {schema['$schema']!r}: not a JSON Schema draft jsonschema knows "
                         f"(e.g. https://json-schema.org/draft/2020-12/schema)")
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        raise ValueError(f"schema at {e.json_path}: {shorten(' '.join(e.message.split()))}") from None
    return cls(schema, registry=LOCAL_ONLY)


def compile_schema(schema) -> Validator:
    """The jsonschema validator for `schema` (a mapping, true/false, or a JSON string of one), of the draft its
    `$schema` names (default 2020-12), after checking the schema against that draft's meta-schema. Raises
    ValueError naming what is wrong in the schema. Cached by the schema's JSON text (the last SCHEMA_CACHE).

    >>> compile_schema({"type": "integer", "minimum": 0}).is_valid(3)
    True
    >>> compile_schema({"properties": {"n": {"type": "int"}}})
    Traceback (most recent call last):
    ...
    ValueError: schema at $.properties.n.type: 'int' is not valid under any of the given schemas
    """
    if isinstance(schema, str):
        return _compile_text(schema)
    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"schema is not JSON: {e}") from None
    return _compile_text(text)


def _validate(validator: Validator, value, first_error: bool = False):
    """Whether `value` validates (stops at the first error), or with `first_error` jsonschema's most relevant
    error (`best_match`, None when it validates); a $ref that does not resolve is a ValueError."""
    try:
        return best_match(validator.iter_errors(value)) if first_error else validator.is_valid(value)
    except Unresolvable as e:  # only $refs inside the schema are followed; nothing is fetched
        raise ValueError(f"schema $ref cannot be resolved (remote references are not fetched): "
                         f"{shorten(' '.join(str(e).split()))}") from None


def schema_error(value, schema) -> str | None:
    """Where `value` breaks `schema` (see `compile_schema`), as "<JSON path>: <jsonschema's message>", else
    None.

    >>> schema = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer", "minimum": 0}}}
    >>> schema_error({"name": "Ada", "age": 36}, schema), schema_error({"age": 36}, schema)
    (None, "$: 'name' is a required property")
    >>> schema_error({"name": "Ada", "age": -1}, schema)
    '$.age: -1 is less than the minimum of 0'
    """
    error = _validate(compile_schema(schema), value, first_error=True)
    return None if error is None else f"{error.json_path}: {shorten(' '.join(error.message.split()))}"


class JsonSchema:
    """1.0 when the completion is JSON (as `json_valid`) that validates against the JSON Schema, else 0.0.

    The schema is given once (`schema`, a mapping or a JSON string) or per row (the dataset column named
    `column`, default "schema"); None for a row without one. All of JSON Schema, by the `jsonschema` library:
    the draft its `$schema` names, default 2020-12 (minimum, pattern, $ref, oneOf, ...; `format` is only an
    annotation). An invalid schema raises ValueError (when given, or on the row that has it), never scores 0.

    >>> person = JsonSchema(schema={"type": "object", "required": ["name"],
    ...                             "properties": {"name": {"type": "string"}, "role": {"enum": ["dev", "ops"]},
    ...                                            "age": {"type": "integer", "minimum": 0}}})
    >>> person(['{"name": "Ada", "role": "dev"}', '{"name": "Ada", "role": "pm"}', '{"role": "dev"}', "Ada",
    ...         '{"name": "Ada", "age": 36}', '{"name": "Ada", "age": -1}'])
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    >>> JsonSchema()(["[1, 2]", "[1, 2]"], schema=['{"type": "array", "items": {"type": "integer"}}', None])
    [1.0, None]
    """

    def __init__(self, schema: dict | str | None = None, column: str = "schema"):
        # only the schema is kept (validators do not pickle); compile_schema's cache holds the validator
        self.schema = None if schema is None else compile_schema(schema).schema
        self.column, self.__name__ = column, "json_schema"

    def __call__(self, completions, **kwargs) -> list[float | None]:
        fixed = None if self.schema is None else compile_schema(self.schema)
        rows = [self.schema] * len(completions) if fixed is not None else kwargs.get(self.column)
        if rows is None:
            return [None] * len(completions)
        scores: list[float | None] = []
        for i, (c, schema) in enumerate(zip(completions, rows, strict=True)):
            if schema is None:
                scores.append(None)
                continue
            where = "json_schema" if fixed is not None else f"json_schema: the schema in row {i} ({self.column!r})"
            value = load_json(completion_text(c))
            try:
                validator = fixed if fixed is not None else compile_schema(schema)
                scores.append(float(value is not _BAD and _validate(validator, value)))
            except ValueError as e:  # a bad per-row schema, or a $ref that does not resolve
                raise ValueError(f"{where}: {e}") from None
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
