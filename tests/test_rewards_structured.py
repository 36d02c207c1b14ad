"""Structured-output rewards: valid JSON, the JSON-Schema subset, regex match."""

import pytest

from rlft.rewards import JsonSchema, RegexMatch, json_valid, resolve
from rlft.rewards.structured import check_schema, schema_error

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
PERSON = {
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": ["integer", "null"]},
        "role": {"enum": ["dev", "ops"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(("completion", "expected"), [
    ('{"a": 1}', 1.0),  # an object
    (MSG(" [1, 2, 3]\n"), 1.0),  # an array with whitespace, as a message
    ("42", 1.0),  # a scalar is JSON too
    ('```json\n{"a": 1}\n```', 1.0),  # one fenced block
    ("{'a': 1}", 0.0),  # Python, not JSON
    ('{"a": 1,}', 0.0),  # trailing comma
    ('Here: {"a": 1}', 0.0),  # prose around it
    ("NaN", 0.0),  # not JSON, though Python's json reads it
    ("", 0.0),  # empty
])
def test_json_valid_table(completion, expected):
    assert json_valid([completion]) == [expected]


@pytest.mark.parametrize(("value", "error"), [
    ({"name": "Ada", "tags": []}, None),  # minimal
    ({"name": "Ada", "tags": ["x"], "age": 36, "role": "dev"}, None),  # everything
    ({"name": "Ada", "tags": [], "age": None}, None),  # a type list with null
    ({"name": "Ada", "tags": [], "age": 36.0}, None),  # 36.0 is an integer in JSON Schema
    ({"name": "Ada", "tags": [], "age": 36.5}, "$.age: expected integer or null, got float"),  # not an integer
    ({"name": "Ada", "tags": [], "age": True}, "$.age: expected integer or null, got bool"),  # bools are not ints
    ({"tags": []}, "$: missing required property 'name'"),  # required
    ({"name": "Ada", "tags": [1]}, "$.tags[0]: expected string, got int"),  # items
    ({"name": "Ada", "tags": [], "role": "pm"}, "$.role: 'pm' is not one of ['dev', 'ops']"),  # enum
    ({"name": "Ada", "tags": [], "x": 1}, "$: unexpected property 'x'"),  # additionalProperties false
    ([], "$: expected object, got list"),  # top-level type
])
def test_schema_error_table(value, error):
    assert schema_error(value, PERSON) == error


def test_enum_uses_json_equality():
    assert schema_error(True, {"enum": [1]}) is not None  # Python says True == 1; JSON does not
    assert schema_error(1.0, {"enum": [1]}) is None
    assert schema_error([1, True], {"enum": [[1, True]]}) is None


@pytest.mark.parametrize(("schema", "words"), [
    ({"type": "object", "minProperties": 1}, r"unsupported keyword\(s\) \['minProperties'\]"),  # refused
    ({"properties": {"n": {"type": "int"}}}, "at \\$.properties.n: unknown type 'int'"),  # typo'd type
    ({"items": {"pattern": "x"}}, "at \\$.items: unsupported"),  # nested
    ({"enum": "a"}, "enum must be a list"),
    ("[1", "not valid JSON"),  # a JSON string that is not JSON
])
def test_schema_refuses_what_it_cannot_check(schema, words):
    with pytest.raises(ValueError, match=words):
        JsonSchema(schema=schema)
    if isinstance(schema, dict):
        with pytest.raises(ValueError, match=words):
            check_schema(schema)


def test_json_schema_reward_fixed_and_per_row():
    fixed = resolve("json_schema", {"schema": PERSON})
    assert fixed(['{"name": "Ada", "tags": []}', '{"name": "Ada"}', "not json"]) == [1.0, 0.0, 0.0]
    per_row = JsonSchema(column="fmt")
    rows = ['{"type": "integer"}', {"type": "string"}, None]
    assert per_row(["3", "3", "3"], fmt=rows) == [1.0, 0.0, None]
    assert per_row(["3"]) == [None]  # no schema at all


@pytest.mark.parametrize(("kwargs", "completion", "expected"), [
    ({"pattern": r"\d{4}-\d{2}-\d{2}"}, "2024-05-01", 1.0),  # fullmatch
    ({"pattern": r"\d{4}-\d{2}-\d{2}"}, " 2024-05-01\n", 1.0),  # stripped first
    ({"pattern": r"\d{4}-\d{2}-\d{2}", "strip": False}, " 2024-05-01", 0.0),  # not stripped
    ({"pattern": r"\d{4}-\d{2}-\d{2}"}, "on 2024-05-01", 0.0),  # fullmatch needs all of it
    ({"pattern": r"\d+", "mode": "search"}, "on 2024", 1.0),  # search
    ({"pattern": r"\d+", "mode": "match"}, "on 2024", 0.0),  # match: at the start
    ({"pattern": "yes", "ignore_case": True}, MSG("YES"), 1.0),  # flags
    ({"pattern": "a.b", "dotall": True}, "a\nb", 1.0),  # dotall
])
def test_regex_match_table(kwargs, completion, expected):
    assert RegexMatch(**kwargs)([completion]) == [expected]


def test_regex_bad_kwargs():
    with pytest.raises(ValueError, match="not a valid regex"):
        RegexMatch("(")
    with pytest.raises(ValueError, match="mode must be one of"):
        RegexMatch("x", mode="findall")
