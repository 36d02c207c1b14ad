"""The code reward: which code runs, which test-case shapes it reads, how a case passes."""

import json

import pytest

from rlft.rewards import CodeTests, resolve
from rlft.rewards.code import load_test_cases, same_output
from rlft.rewards.extract import code_block

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
ADD = "def add(a, b):\n    return a + b\n"
ASSERTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
DOUBLE = [{"input": "2\n", "output": "4\n"}, {"input": "5\n", "output": "10"}]


@pytest.fixture(scope="module")
def reward():
    return CodeTests(timeout=5)


@pytest.mark.parametrize(("completion", "cases", "expected"), [
    (ADD, ASSERTS, 1.0),  # plain code, both asserts pass
    (MSG(f"Sure:\n```python\n{ADD}```\nDone."), ASSERTS, 1.0),  # fenced block in a message
    ("def add(a, b):\n    return 3\n", ASSERTS, 0.5),  # one of two
    ("def add(a, b) return", ASSERTS, 0.0),  # syntax error
    (f"```python\ndef add(a, b): return 0\n```\n```python\n{ADD}```", ASSERTS, 1.0),  # the last block counts
    (f"{ADD}if __name__ == '__main__':\n    raise SystemExit(1)\n", ASSERTS, 1.0),  # main block not run
    ("print(int(input()) * 2)", DOUBLE, 1.0),  # stdin/stdout
    ("print(int(input()) * 2, '  ')\nprint()", DOUBLE, 1.0),  # trailing spaces and blank lines ignored
    ("print(int(input()) * 3)", DOUBLE, 0.0),  # wrong output
    ("import sys\nprint(int(input()) * 2)\nsys.exit(1)", DOUBLE, 0.0),  # right output, failing status
    ("import os\nprint(int(input()) * 2)\nos._exit(0)", DOUBLE, 0.0),  # output lost unflushed: fails
    ("import sys\nprint(int(input()) * 2)\nsys.exit(0)", DOUBLE, 1.0),  # a clean exit is fine
    ("print(input())", [{"input": "1", "output": "1\n2"}], 0.0),  # a missing line fails (open-r1 passed it)
    (ADD, None, None),  # no test cases: does not apply
    (ADD, [], None),  # an empty list: does not apply
])
def test_code_tests_table(reward, completion, cases, expected):
    assert reward([completion], test_cases=[cases]) == [expected]


@pytest.mark.parametrize(("row", "expected"), [
    (["assert f()"], ["assert f()"]),  # a list of assert strings
    (json.dumps(["assert f()"]), ["assert f()"]),  # the same as a JSON string
    ("assert f()\nassert g()", ["assert f()\nassert g()"]),  # non-JSON text: one block
    ({"test_cases": DOUBLE, "language": "python"}, DOUBLE),  # open-r1's verification_info
    ({"inputs": ["2\n"], "outputs": ["4\n"]}, [{"input": "2\n", "output": "4\n"}]),  # APPS style
    ({"input": "2", "output": "4"}, [{"input": "2", "output": "4"}]),  # one case
    (None, None),  # no row
    ("  ", None),  # blank
])
def test_load_test_cases_table(row, expected):
    assert load_test_cases(row) == expected


@pytest.mark.parametrize("row", [
    42,  # not a list
    [{"input": "1"}],  # no output
    [3],  # not a case
])
def test_load_test_cases_refuses_unknown_shapes(row):
    with pytest.raises(ValueError, match="test case"):
        load_test_cases(row)


def test_column_names_and_verification_info(reward):
    info = {"language": "python", "test_cases": DOUBLE}
    assert reward(["print(int(input()) * 2)"], verification_info=[info]) == [1.0]
    assert reward(["print(int(input()) * 2)"], tests=[DOUBLE]) == [1.0]
    assert CodeTests(column="cases", timeout=5)([ADD], cases=[ASSERTS], test_cases=[["assert False"]]) == [1.0]
    assert reward([ADD]) == [None]  # no column at all


def test_yaml_kwargs_and_errors():
    assert resolve("code_tests", {"timeout": 3, "memory_mb": 256}).sandbox.memory_mb == 256
    with pytest.raises(ValueError, match="must be positive"):
        CodeTests(timeout=0)
    with pytest.raises(ValueError, match="rows of test cases"):
        CodeTests(timeout=5)(["a", "b"], test_cases=[ASSERTS])


@pytest.mark.parametrize(("text", "expected"), [
    ("```python\nx = 1\n```", "x = 1\n"),  # python fence
    ("```py\nx = 2\n```", "x = 2\n"),  # py tag
    ("```\nx = 3\n```", "x = 3\n"),  # no tag
    ("```bash\nls\n```", "```bash\nls\n```"),  # another language: the whole text
    ("x = 4", "x = 4"),  # no fence
])
def test_code_block_table(text, expected):
    assert code_block(text) == expected


@pytest.mark.parametrize(("got", "want", "same"), [
    ("1\n2\n", "1\n2", True),  # trailing newline
    ("1 \n2", "1\n2", True),  # trailing space
    ("1\n", "1\n2", False),  # a missing line
    ("1\n2\n3", "1\n2", False),  # an extra line
    (" 1", "1", False),  # leading space matters
])
def test_same_output_table(got, want, same):
    assert same_output(got, want) is same
