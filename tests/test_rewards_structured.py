"""Structured-output rewards: valid JSON, JSON Schema (the jsonschema library), regex match."""

import pickle

import pytest

from rlft.rewards import JsonSchema, RegexMatch, json_valid, resolve
from rlft.rewards.structured import _compile_text, compile_schema, schema_error

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
PERSON = {
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": ["integer", "null"], "minimum": 0},
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
    ({"name": "Ada", "tags": [], "age": 36.5}, "$.age: 36.5 is not of type 'integer', 'null'"),  # not an integer
    ({"name": "Ada", "tags": [], "age": True}, "$.age: True is not of type 'integer', 'null'"),  # bools: not ints
    ({"name": "Ada", "tags": [], "age": -1}, "$.age: -1 is less than the minimum of 0"),  # minimum (was refused)
    ({"tags": []}, "$: 'name' is a required property"),  # required
    ({"name": "Ada", "tags": [1]}, "$.tags[0]: 1 is not of type 'string'"),  # items, with the index in the path
    ({"name": "Ada", "tags": [], "role": "pm"}, "$.role: 'pm' is not one of ['dev', 'ops']"),  # enum
    ({"name": "Ada", "tags": [], "x": 1},
     "$: Additional properties are not allowed ('x' was unexpected)"),  # additionalProperties false
    ([], "$: [] is not of type 'object'"),  # top-level type
])
def test_schema_error_table(value, error):
    assert schema_error(value, PERSON) == error


def test_enum_uses_json_equality():
    assert schema_error(True, {"enum": [1]}) is not None  # Python says True == 1; JSON does not
    assert schema_error(1.0, {"enum": [1]}) is None
    assert schema_error([1, True], {"enum": [[1, True]]}) is None


@pytest.mark.parametrize(("schema", "completion", "expected"), [
    ({"type": "integer", "minimum": 0}, "3", 1.0),  # minimum: refused by the old subset, checked now
    ({"type": "integer", "minimum": 0}, "-3", 0.0),  # below the minimum
    ({"type": "string", "pattern": "^[A-Z]{3}$"}, '"ABC"', 1.0),  # pattern
    ({"type": "string", "pattern": "^[A-Z]{3}$"}, '"abc"', 0.0),  # pattern, not matched
    ({"$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}}, "items": {"$ref": "#/$defs/pos"}},
     "[1, 2]", 1.0),  # $ref inside the schema
    ({"$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}}, "items": {"$ref": "#/$defs/pos"}},
     "[1, 0]", 0.0),  # $ref, one item breaks it
    ({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}, "2.5", 1.0),  # oneOf: only the 2nd
    ({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}, "3", 0.0),  # oneOf: both match
    ({"type": "object", "minProperties": 1}, "{}", 0.0),  # minProperties
    ({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]},
     '["a", 1]', 1.0),  # draft 7 picked from $schema: items as a list is a tuple
    ({"prefixItems": [{"type": "string"}], "items": False}, '["a", 1]', 0.0),  # 2020-12 by default
    ({"type": "string", "format": "date"}, '"not a date"', 1.0),  # format is an annotation, not checked
    (True, "1", 1.0),  # the schema true accepts anything
    ('{"type": "integer", "maximum": 9}', "```json\n10\n```", 0.0),  # a JSON-string schema; fenced JSON
])
def test_full_json_schema_table(schema, completion, expected):
    assert JsonSchema(schema=schema)([completion]) == [expected]


@pytest.mark.parametrize(("schema", "words"), [
    ({"properties": {"n": {"type": "int"}}}, r"at \$\.properties\.n\.type: 'int' is not valid"),  # typo'd type
    ({"items": {"pattern": "("}}, r"at \$\.items\.pattern: '\(' is not a 'regex'"),  # nested bad regex
    ({"minimum": "0"}, r"at \$\.minimum: '0' is not of type 'number'"),  # wrong keyword type
    ({"enum": "a"}, r"at \$\.enum: 'a' is not of type 'array'"),  # enum must be a list
    ({"$schema": "https://example.com/my-draft"}, r"unknown \$schema"),  # a draft jsonschema does not know
    ([1], "must be a mapping"),  # a schema is an object (or true/false)
    ("[1", "not valid JSON"),  # a JSON string that is not JSON
])
def test_bad_schema_raises_at_construction(schema, words):
    with pytest.raises(ValueError, match=words):
        JsonSchema(schema=schema)
    with pytest.raises(ValueError, match=words):
        compile_schema(schema)


def test_json_schema_reward_fixed_and_per_row():
    fixed = resolve("json_schema", {"schema": PERSON})
    assert fixed(['{"name": "Ada", "tags": []}', '{"name": "Ada"}', "not json"]) == [1.0, 0.0, 0.0]
    per_row = JsonSchema(column="fmt")
    rows = ['{"type": "integer"}', {"type": "string"}, None, {"type": "integer", "minimum": 5}]
    assert per_row(["3", "3", "3", "3"], fmt=rows) == [1.0, 0.0, None, 0.0]
    assert per_row(["3"]) == [None]  # no schema at all


def test_per_row_bad_schema_names_the_row():
    with pytest.raises(ValueError, match=r"row 1 \('schema'\): schema at \$\.type: 'intger'"):
        JsonSchema()(["1", "1"], schema=['{"type": "integer"}', '{"type": "intger"}'])


def test_per_row_schemas_compile_once():
    _compile_text.cache_clear()
    rows = ['{"type": "integer"}'] * 8 + [{"type": "string"}] * 8  # one schema per row, two distinct ones
    assert JsonSchema()(["1"] * 16, schema=rows) == [1.0] * 8 + [0.0] * 8
    assert JsonSchema()(["1"] * 16, schema=rows) == [1.0] * 8 + [0.0] * 8
    assert _compile_text.cache_info().misses == 2


def test_remote_refs_are_not_fetched():
    reward = JsonSchema(schema={"$ref": "https://example.com/schema.json"})  # a valid schema ...
    with pytest.raises(ValueError, match="cannot be resolved"):  # ... whose $ref is only followed locally
        reward(["1"])


def test_json_schema_reward_pickles():
    reward = pickle.loads(pickle.dumps(JsonSchema(schema={"type": "integer", "minimum": 0})))
    assert reward(["1", "-1"]) == [1.0, 0.0]


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
