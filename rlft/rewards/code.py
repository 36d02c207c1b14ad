"""Code reward: run the completion's Python against the sample's test cases in the sandbox (sandbox.py)
and score the fraction that pass.

Test cases come from a dataset column (`column`, else the first present of `test_cases`, `tests`,
`verification_info`). A row holds a list (or a JSON string of one) whose items are either
- a string of Python statements, usually asserts (`"assert add(1, 2) == 3"`), run after the code in the
  same namespace (the code's `__name__` is "solution", so an `if __name__ == "__main__":` block does not
  run); it passes when it finishes without raising, proven by a per-run random nonce the harness prints
  only afterwards (so `sys.exit(0)` or `os._exit(0)` in the code cannot fake a pass); or
- a mapping `{"input": str, "output": str}`: the code runs as `__main__` with `input` on stdin and passes
  when it exits with status 0 and its stdout equals `output` line by line (trailing whitespace on each line
  and trailing blank lines ignored).
A row may also be open-r1's `verification_info` mapping (`{"test_cases": [...]}`) or APPS-style
`{"inputs": [...], "outputs": [...]}`; a string that is not JSON is one block of statements. Each test case
runs in its own sandboxed process, so one crash or endless loop costs only that case.

Differences from open-r1's `code_reward` (which runs in e2b): the code is the last fenced python block, or
the whole completion when there is none (open-r1 runs an empty program); stdout must match line for line
(open-r1 zips the lines, so an output missing its last lines passed); assert-style tests are supported.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from rlft.rewards.extract import code_block
from rlft.rewards.sandbox import Sandbox
from rlft.rewards.text import completion_text

COLUMNS = ("test_cases", "tests", "verification_info")


def load_test_cases(row) -> list | None:
    """The test cases of one dataset row as a list of statement strings and {"input", "output"} mappings;
    None when the row has none. Raises ValueError for a shape it does not know.

    >>> load_test_cases('["assert f() == 1"]'), load_test_cases([])
    (['assert f() == 1'], None)
    >>> load_test_cases({"inputs": ["1"], "outputs": ["2"]})
    [{'input': '1', 'output': '2'}]
    """
    if row is None:
        return None
    if isinstance(row, str):
        try:
            row = json.loads(row)
        except ValueError:
            return [row] if row.strip() else None
    if isinstance(row, dict):
        if "test_cases" in row:
            return load_test_cases(row["test_cases"])
        if "inputs" in row and "outputs" in row:
            row = [{"input": i, "output": o} for i, o in zip(row["inputs"], row["outputs"], strict=True)]
        elif "input" in row and "output" in row:
            row = [row]
    if not isinstance(row, list):
        raise ValueError(f"test cases must be a list of assert strings or {{input, output}} mappings, got {row!r:.200}")
    for case in row:
        if not isinstance(case, str) and not (isinstance(case, dict) and {"input", "output"} <= set(case)):
            raise ValueError(f"a test case is an assert string or an {{input, output}} mapping, got {case!r:.200}")
    return row or None


def same_output(got: str, expected: str) -> bool:
    """Output equality line by line, ignoring trailing whitespace per line and trailing blank lines.

    >>> same_output("3 \\n4\\n\\n", "3\\n4"), same_output("3\\n", "3\\n4")
    (True, False)
    """
    def lines(text: str) -> list[str]:
        out = [line.rstrip() for line in str(text).splitlines()]
        while out and not out[-1]:
            out.pop()
        return out

    return lines(got) == lines(expected)


class CodeTests:
    """Fraction of the row's test cases that the completion's code passes, each run in the sandbox; None
    when the row has no test cases. Code: the last ```python fenced block, else the whole completion.

    >>> tests = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
    >>> CodeTests(timeout=5)(["```python\\ndef add(a, b):\\n    return a + b\\n```", "def add(a, b): return 3"],
    ...                      test_cases=[tests, tests])
    [1.0, 0.5]
    >>> CodeTests(timeout=5)(["print(int(input()) * 2)"], tests=[[{"input": "21\\n", "output": "42\\n"}]])
    [1.0]
    """

    def __init__(self, column: str | None = None, timeout: float = 2.0, memory_mb: int = 512,
                 max_output_bytes: int = 1_000_000, workers: int = 2, **sandbox):
        self.column, self.workers, self.__name__ = column, max(1, workers), "code_tests"
        self.sandbox = Sandbox(timeout=timeout, memory_mb=memory_mb, max_output_bytes=max_output_bytes, **sandbox)

    def passes(self, code: str, case) -> bool:
        """Whether `code` passes one test case."""
        if isinstance(case, str):
            return self.sandbox.run(code, test=case).passed
        result = self.sandbox.run(code, stdin=str(case["input"]))
        ok = result.returncode == 0 and not result.timed_out and not result.output_truncated
        return ok and same_output(result.stdout, str(case["output"]))

    def __call__(self, completions, **kwargs) -> list[float | None]:
        names = [self.column] if self.column else COLUMNS
        rows = next((kwargs[n] for n in names if kwargs.get(n) is not None), None)
        if rows is None:
            return [None] * len(completions)
        cases = [load_test_cases(row) for row in rows]
        if len(cases) != len(completions):
            raise ValueError(f"{len(cases)} rows of test cases for {len(completions)} completions")
        jobs = [(i, code_block(completion_text(c)), case)
                for i, (c, row) in enumerate(zip(completions, cases)) for case in row or []]
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(lambda job: self.passes(job[1], job[2]), jobs))
        passed = [0] * len(completions)
        for (i, _, _), ok in zip(jobs, results):
            passed[i] += ok
        return [None if not row else passed[i] / len(row) for i, row in enumerate(cases)]
