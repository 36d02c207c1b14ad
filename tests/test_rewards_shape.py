"""Format, length and repetition rewards: known values, edges, None handling, open-r1/TRL agreement."""

import math

import pytest

from rlft.rewards import (
    CodeFormat,
    CosineLength,
    KimiLength,
    RepetitionPenalty,
    SoftOverlong,
    format_strict,
    reasoning_steps,
    resolve,
    tag_count,
    think_format,
)

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
GOOD = "<think>\nlet me add\n</think>\n<answer>\n4\n</answer>"


@pytest.mark.parametrize(("completion", "strict", "tags"), [
    (GOOD, 1.0, 1.0),  # the format
    (MSG(GOOD), 1.0, 1.0),  # as a message
    (GOOD + "\n  ", 1.0, 1.0),  # trailing whitespace
    ("<think>\nmulti\nline\n</think>\n<answer>\n4\n</answer>", 1.0, 1.0),  # multi-line thinking
    ("<think>let me add</think><answer>4</answer>", 0.0, 0.0),  # no newlines
    (" " + GOOD, 0.0, 1.0),  # something before <think>
    (GOOD + "\nP.S. more", 0.0, 1.0),  # text after </answer> (open-r1 passes it: re.MULTILINE)
    (GOOD + "\n<answer>\n5\n</answer>", 0.0, 0.5),  # a second answer (open-r1 passes it)
    ("<think>\nhm\n</think>\n4", 0.0, 0.5),  # no answer tags
    ("<think>\nhm", 0.0, 0.25),  # truncated
    ("", 0.0, 0.0),  # empty
])
def test_format_table(completion, strict, tags):
    assert format_strict([completion]) == [strict]
    assert tag_count([completion]) == [tags]


@pytest.mark.parametrize(("completion", "expected"), [
    ("<think>\nhm\n</think>\n4", 1.0),  # closed think block, then the answer
    ("<think>hm</think>", 1.0),  # nothing after it
    ("<think></think>4", 1.0),  # an empty think block
    ("<think>a\n</think>\n\nb\nc", 1.0),  # several lines after it
    ("<think>a</think></think>", 1.0),  # a second closing tag is allowed
    ("<think>hm", 0.0),  # never closed
    (" <think>hm</think>4", 0.0),  # something before <think>
    ("hm</think>4", 0.0),  # no opening tag
    ("<think>a</think><think>b</think>", 0.0),  # a second think block
    ("<think>a</think> then <think>", 0.0),  # a second opening tag anywhere
    ("", 0.0),  # empty
])
def test_think_format_table_matches_trl(completion, expected):
    from trl.rewards import think_format_reward

    assert think_format([completion]) == [expected]
    assert think_format_reward([[{"content": completion}]]) == [expected]


CODE = "<think>\nadd\n</think>\n<answer>\n```python\nprint(1 + 1)\n```\n</answer>"


@pytest.mark.parametrize(("completion", "expected"), [
    (CODE, 1.0),  # the format
    (CODE + "\n ", 1.0),  # trailing whitespace
    (CODE.replace("<answer>\n", "<answer>\nHere:\n").replace("```\n</", "```\nDone.\n</"), 1.0),  # prose around
    (CODE.replace("```python\n", "```python \n"), 1.0),  # a space after the tag
    (CODE.replace("```python\n", "```python"), 0.0),  # no newline after the tag (open-r1 passes it)
    (CODE.replace("python", "python3"), 0.0),  # another tag (open-r1 passes it: the tag is a prefix)
    (CODE.replace("python", "js"), 0.0),  # another language
    (CODE.replace("```python\n", "").replace("```", ""), 0.0),  # no fence
    ("<think>\n```python\nx\n```\n</think>\n<answer>\n2\n</answer>", 0.0),  # the fence in the thinking only
    (CODE + "\nmore", 0.0),  # text after </answer> (open-r1 passes it: re.MULTILINE)
    (CODE + "\n<answer>\n2\n</answer>", 0.0),  # a second answer
    ("```python\nprint(2)\n```", 0.0),  # code without the think/answer layout
    ("", 0.0),  # empty
])
def test_code_format_table(completion, expected):
    assert CodeFormat()([completion]) == [expected]


def test_code_format_language_kwarg_column_and_errors():
    cpp = CODE.replace("python", "c++")
    assert resolve("code_format", {"language": "c++"})([cpp, CODE]) == [1.0, 0.0]  # escaped, not a regex
    code = CodeFormat()
    assert code([cpp, cpp, CODE], language=["c++", "python", None]) == [1.0, 0.0, 1.0]  # per row; None: default
    assert code.__name__ == "code_format"
    for bad in ("", "py thon", 3):
        with pytest.raises(ValueError, match="language must be a fence tag"):
            CodeFormat(language=bad)


@pytest.mark.parametrize(("completion", "expected"), [
    ("Step 1: a\nStep 2: b\nStep 3: c", 1.0),  # three steps
    ("Step 1: a\nStep 2: b\nStep 3: c\nStep 4: d", 1.0),  # capped at 1
    ("1. a\n2. b", 2 / 3),  # numbered lines anywhere (open-r1 counted only the first)
    ("text\n- a\n- b\n* c", 1.0),  # bullets
    ("First, a. Second, b.", 2 / 3),  # transition words
    ("The answer is 4.", 0.0),  # no steps
])
def test_reasoning_steps_table(completion, expected):
    assert reasoning_steps([completion]) == [pytest.approx(expected)]


@pytest.mark.parametrize(("completions", "answers", "prompts", "expected"), [
    # lengths 1, 4, 7: lam = 0.5, 0, -0.5; the wrong "5" (lam 0.5) is capped at 0
    (["4", "so 4", "it is 4", "5"], ["4"] * 4, None, [0.5, 0.0, -0.5, 0.0]),
    # all the same length: 0
    (["4", "5"], ["4", "4"], None, [0.0, 0.0]),
    # grouped per prompt: each group has its own min and max
    (["4", "so 4", "4", "it is 4"], ["4"] * 4, ["p", "p", "q", "q"], [0.5, -0.5, 0.5, -0.5]),
    # an answer without a number: None
    (["4", "so 4"], ["four", "4"], None, [None, -0.5]),
])
def test_kimi_length_table(completions, answers, prompts, expected):
    assert KimiLength(correctness="numeric_match")(completions, answer=answers, prompts=prompts) == expected


def test_kimi_length_per_batch_like_open_r1():
    kimi = KimiLength(correctness="numeric_match", per_prompt=False)
    assert kimi(["4", "so 4", "4", "it is 4"], answer=["4"] * 4, prompts=["p", "p", "q", "q"]) == [
        0.5, 0.0, 0.5, -0.5]


@pytest.mark.parametrize(("size", "correct", "expected"), [
    (0, True, 1.0),  # shortest correct: max_value_correct
    (50, True, 0.75),  # halfway
    (100, True, 0.5),  # at max_len: min_value_correct
    (250, True, 0.5),  # beyond max_len: clamped (open-r1 rises again)
    (0, False, -1.0),  # shortest wrong: min_value_wrong
    (50, False, -0.75),  # halfway
    (100, False, -0.5),  # longest wrong: max_value_wrong
])
def test_cosine_length_table(size, correct, expected):
    cos = CosineLength(max_len=100, correctness="numeric_match", unit="tokens")
    out = cos(["4"], answer=["4" if correct else "5"], completion_ids=[[1] * size])
    assert out == [pytest.approx(expected)]


def test_cosine_length_by_chars_and_none():
    cos = resolve("cosine_length", {"max_len": 10, "correctness": "numeric_match"})
    assert cos(["4", "4"], answer=["4", "four"]) == [pytest.approx(0.5 + 0.25 * (1 + math.cos(math.pi / 10))), None]
    assert CosineLength(unit="tokens", correctness="numeric_match")(["4"], answer=["4"]) == [None]  # no ids


@pytest.mark.parametrize(("size", "expected"), [
    (0, 0.0),  # empty
    (80, 0.0),  # at the start of the cache
    (90, -0.5),  # halfway through the cache
    (100, -1.0),  # at the cap
    (101, -1.0),  # beyond
])
def test_soft_overlong_table(size, expected):
    soft = SoftOverlong(max_completion_len=100, soft_punish_cache=20)
    assert soft(["x"], completion_ids=[[0] * size]) == [expected]


def test_soft_overlong_matches_trl_and_by_chars():
    from trl.rewards import get_soft_overlong_punishment

    trl = get_soft_overlong_punishment(max_completion_len=10, soft_punish_cache=4)
    ids = [[1] * n for n in range(14)]
    assert SoftOverlong(10, 4)(["x"] * 14, completion_ids=ids) == trl(ids)
    assert SoftOverlong(10, 0, unit="chars")(["a" * 10, "a" * 11]) == [0.0, -1.0]  # no cache: a hard cap
    with pytest.raises(ValueError, match="soft_punish_cache"):
        SoftOverlong(10, 11)


@pytest.mark.parametrize(("text", "expected"), [
    ("the cat sat on the mat", 0.0),  # no repeated bigram
    ("go go go go go", -0.75),  # 4 bigrams, 1 distinct
    ("Go go GO go", -2 / 3),  # case-folded like open-r1
    ("hi", 0.0),  # shorter than the n-gram
    ("", 0.0),  # empty
])
def test_repetition_by_words_table(text, expected):
    assert RepetitionPenalty(ngram_size=2)([text]) == [pytest.approx(expected)]


@pytest.mark.parametrize(("text", "expected"), [
    ("我们去公园", 0.0),  # no repeated character pair
    ("好好好好好", -0.75),  # 4 pairs, 1 distinct
    ("我们我们我们", -0.6),  # 5 pairs, 2 distinct
    ("Paris Paris 和 Paris", 0.0),  # Latin words stay whole: (paris, paris), (paris, 和), (和, paris)
    ("go go go", -0.5),  # spaced words count as in "en"
    ("好", 0.0),  # shorter than the n-gram
    ("", 0.0),  # empty
])
def test_repetition_by_characters_table(text, expected):
    assert RepetitionPenalty(ngram_size=2, language="zh")([text]) == [pytest.approx(expected)]


def test_repetition_by_tokens_matches_trl():
    from trl.rewards import get_repetition_penalty_reward

    ids = [[1, 2, 3, 4], [5, 5, 5, 5, 5], [1, 2, 1, 2, 1, 2], [7]]
    ours = resolve("repetition_penalty", {"ngram_size": 2, "max_penalty": -0.5, "unit": "tokens"})
    assert ours(["x"] * 4, completion_ids=ids) == get_repetition_penalty_reward(2, -0.5)(ids)
    assert ours(["x"]) == [None]  # no ids


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"max_penalty": 0.5}, "should not be positive"),
    ({"ngram_size": 0}, "positive integer"),
    ({"unit": "chars"}, "unit must be one of"),
    ({"language": "fr"}, "language must be one of"),
    ({"language": "zh", "unit": "tokens"}, "no effect with unit='tokens'"),
])
def test_repetition_bad_kwargs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RepetitionPenalty(**kwargs)


def test_length_bad_kwargs():
    with pytest.raises(ValueError, match="unit must be one of"):
        KimiLength(unit="words")
    with pytest.raises(ValueError, match="max_len must be positive"):
        CosineLength(max_len=0)
