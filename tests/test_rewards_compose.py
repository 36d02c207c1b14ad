"""Composition (weighted sum, gate, clip, route), nested specs from YAML, and the guard for user rewards."""

import math
import pickle

import pytest

from rlft.rewards import Clip, Gate, Route, WeightedSum, from_spec, guard, resolve
from rlft.rewards.guard import RewardError

GOOD = "<think>\n2+2\n</think>\n<answer>\n4\n</answer>"
WRONG = GOOD.replace("4", "5")


@pytest.mark.parametrize(("completion", "answer", "expected"), [
    (GOOD, "4", 1.0),  # right and well formatted: the objective
    (WRONG, "4", 0.0),  # wrong but well formatted: the objective (0), no format bonus
    ("4", "4", -1.0),  # right but malformed: the penalty, not the objective
    ("5", "4", -1.0),  # wrong and malformed: the penalty
    (GOOD, "four", None),  # the objective does not apply, the judge passes: None
    ("4", "four", -1.0),  # the judge fails: the penalty even where the objective does not apply
])
def test_gate_table(completion, answer, expected):
    gate = Gate(objective="numeric_match", judge={"name": "format_strict"}, threshold=1.0, penalty=-1.0)
    assert gate([completion], answer=[answer]) == [expected]


def test_gate_stops_format_hacking():
    # a policy that learned the format but not the task cannot beat one that answers right, unformatted,
    # under a plain sum; under the gate the formatted wrong answer earns nothing from format
    plain = WeightedSum(["numeric_match", "format_strict"])
    gate = Gate("numeric_match", "format_strict", penalty=0.0)
    assert plain([WRONG, "4"], answer=["4", "4"]) == [1.0, 1.0]  # format hacking pays as much as solving
    assert gate([WRONG, "4"], answer=["4", "4"]) == [0.0, 0.0]
    assert gate([GOOD], answer=["4"]) == [1.0]


def test_gate_with_a_judge_that_does_not_apply():
    gate = Gate("format_strict", "numeric_match", threshold=1.0, penalty=-2.0)
    assert gate([GOOD, GOOD], answer=["four", "5"]) == [1.0, -2.0]  # None judge: no constraint


@pytest.mark.parametrize(("weights", "answer", "expected"), [
    ([1.0, 0.5], "4", 1.5),  # both apply
    ([1.0, 0.5], "four", 0.5),  # numeric does not apply: only the format term
    (None, "4", 2.0),  # default weights of 1
    ([0.0, 0.0], "4", 0.0),  # zero weights
])
def test_weighted_sum_table(weights, answer, expected):
    total = resolve("weighted_sum", {"rewards": ["numeric_match", {"name": "format_strict"}], "weights": weights})
    assert total([GOOD], answer=[answer]) == [expected]


def test_weighted_sum_none_when_nothing_applies_and_errors():
    assert WeightedSum(["numeric_match"])(["4"], answer=["four"]) == [None]
    with pytest.raises(ValueError, match="2 weights for 1 rewards"):
        WeightedSum(["numeric_match"], weights=[1, 2])
    with pytest.raises(ValueError, match="at least one reward"):
        WeightedSum([])


@pytest.mark.parametrize(("low", "high", "expected"), [
    (-0.5, None, [-0.5, 0.0]),  # floor only
    (None, -0.8, [-0.9, -0.8]),  # cap only
    (-0.9, -0.1, [-0.9, -0.1]),  # both
])
def test_clip_table(low, high, expected):
    rep = {"name": "repetition_penalty", "kwargs": {"ngram_size": 1}}
    clip = resolve("clip", {"reward": rep, "low": low, "high": high})
    assert clip(["go go go go go go go go go go", "all words differ"]) == [pytest.approx(e) for e in expected]


def test_clip_errors_and_none():
    assert Clip("numeric_match", high=0.5)(["4"], answer=["four"]) == [None]
    with pytest.raises(ValueError, match="low, high or both"):
        Clip("numeric_match")
    with pytest.raises(ValueError, match="low <= high"):
        Clip("numeric_match", low=1, high=0)


def test_route_sends_each_row_to_its_verifier_with_its_columns():
    calls = []

    def spy(completions, answer, **kwargs):
        calls.append((completions, answer, kwargs["prompts"]))
        return [0.25] * len(completions)

    route = Route({"math": "numeric_match", "spy": spy}, column="verifier")
    out = route(["4", "x", "Paris", "y"], answer=["4", "a", "b", "c"], verifier=["math", "spy", None, "spy"],
                prompts=["p0", "p1", "p2", "p3"], trainer_state=None)
    assert out == [1.0, 0.25, None, 0.25]
    assert calls == [(["x", "y"], ["a", "c"], ["p1", "p3"])]


def test_route_default_and_unknown_names():
    route = Route({"math": "numeric_match"}, default="exact_match")
    assert route(["Paris", "4.0"], answer=["paris", "4"], verifier=["text", "math"]) == [1.0, 1.0]
    assert route(["Paris"], answer=["paris"]) == [1.0]  # no column: the default for all
    with pytest.raises(ValueError, match="verifier='code' names no route; routes: math"):
        Route({"math": "numeric_match"})(["x"], answer=["1"], verifier=["code"])
    assert Route({"math": "numeric_match"})(["4"], answer=["4"]) == [None]  # no column, no default


def test_composites_are_picklable_and_named():
    made = [
        WeightedSum(["numeric_match", "format_strict"]),
        Gate("numeric_match", {"name": "format_strict"}),
        Clip({"name": "cosine_length", "kwargs": {"correctness": "numeric_match"}}, low=0),
        Route({"math": "accuracy"}, name="mixed"),
    ]
    names = [pickle.loads(pickle.dumps(r)).__name__ for r in made]
    assert names == ["weighted_sum", "gate_numeric_match", "clip_cosine_length", "mixed"]


@pytest.mark.parametrize(("spec", "words"), [
    ({"nme": "numeric_match"}, "keys name and kwargs"),  # a typo'd key
    ({"name": "numeric_match", "kwargs": [1]}, "must be a mapping"),  # kwargs not a mapping
    ("numeric_mach", "did you mean 'numeric_match'"),  # a typo'd name
    (3, "a reward spec is a name"),  # not a spec
])
def test_nested_spec_errors(spec, words):
    with pytest.raises(ValueError, match=words):
        from_spec(spec)
    with pytest.raises(ValueError, match=words):
        Gate(objective=spec, judge="format_strict")


# ---------------------------------------------------------------------------------------------- guard

def picky(completions, **kwargs):
    """Raises on the completion 'boom', returns what the completion asks for otherwise."""
    out = []
    for c in completions:
        if c == "boom":
            raise KeyError("no such key")
        out.append({"nan": math.nan, "inf": math.inf, "str": "0.5", "none": None, "int": 1}.get(c, 0.5))
    return out


@pytest.mark.parametrize(("completions", "words"), [
    (["a", "boom"], r"reward 'picky', sample 1 of 2, completion 'boom': raised KeyError: 'no such key'"),
    (["a", "nan"], r"sample 1 of 2, completion 'nan': returned nan; rewards must be finite"),
    (["inf"], r"sample 0 of 1, completion 'inf': returned inf"),
    (["a", "b", "str"], r"sample 2 of 3, completion 'str': returned str '0.5', not a number"),
    (["x" * 300, "boom"], r"sample 1 of 2, completion 'boom'"),
])
def test_guard_errors_name_function_sample_and_completion(completions, words):
    with pytest.raises(RewardError, match=words):
        guard(picky)(completions)


def test_guard_cuts_long_completions_in_messages():
    def short_only(completions, **kwargs):
        return [1.0 / (len(c[-1]["content"]) < 100) for c in completions]

    long = [{"role": "assistant", "content": "x" * 300}]
    with pytest.raises(RewardError, match=r"sample 1 of 2, completion 'x{200}\.\.\. \(100 more characters\)': raised"):
        guard(short_only)([[{"role": "assistant", "content": "ok"}], long])


@pytest.mark.parametrize(("returned", "words"), [
    (lambda n: [1.0] * (n - 1), "returned 2 scores for 3 completions"),  # too short
    (lambda n: [1.0] * (n + 1), "returned 4 scores for 3 completions"),  # too long
    (lambda n: 1.0, "returned float 1.0, not a list of 3 floats"),  # a scalar
    (lambda n: iter([1.0] * n), "not a list of 3 floats"),  # a generator
])
def test_guard_shape_errors(returned, words):
    def bad(completions, **kwargs):
        return returned(len(completions))

    with pytest.raises(RewardError, match=words):
        guard(bad)(["a", "b", "c"])


def test_guard_passes_good_output_and_keeps_identity():
    import numpy as np

    wrapped = guard(picky)
    assert wrapped(["a", "none", "int"]) == [0.5, None, 1.0]
    assert guard(lambda completions, **k: np.array([0.5, 1.0]))(["a", "b"]) == [0.5, 1.0]
    assert wrapped.__name__ == "picky" and wrapped.__doc__ == picky.__doc__ and guard(wrapped) is wrapped
    copy = pickle.loads(pickle.dumps(wrapped))
    assert copy(["a"]) == [0.5] and copy.__name__ == "picky"
    assert issubclass(RewardError, ValueError)


def test_guard_batch_only_failure():
    def small_batches(completions, **kwargs):
        if len(completions) > 2:
            raise ValueError("batch too big")
        return [0.0] * len(completions)

    with pytest.raises(RewardError, match="no sample raises alone"):
        guard(small_batches)(["a", "b", "c"])
