"""Answer rewards: math-verify accuracy, GSM8K and multiple-choice match, and the extraction helpers."""

import pytest

from rlft.rewards import ChoiceMatch, MathAccuracy, ReasoningAccuracy, gsm8k_match, resolve
from rlft.rewards.extract import answer_tag, choice_letter, gsm8k_answer, last_boxed

MSG = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731


@pytest.fixture(scope="module")
def accuracy():
    return resolve("accuracy")


@pytest.mark.parametrize(("completion", "gold", "expected"), [
    (r"so \boxed{\frac{1}{2}}", r"\frac{1}{2}", 1.0),  # LaTeX fraction
    (r"\boxed{0.5}", r"$\frac{1}{2}$", 1.0),  # decimal = fraction
    (r"\boxed{0.5}", r"\frac12", 1.0),  # bare LaTeX gold, retried inside $...$
    (MSG(r"\boxed{2\sqrt{2}}"), r"$\sqrt 8$", 1.0),  # message list, surds
    (r"\boxed{50\%}", "50", 1.0),  # percentage
    (r"\boxed{10 \text{ cm}}", "10", 1.0),  # units
    (r"\boxed{x = 3}", "3", 1.0),  # an equation's right-hand side
    (r"\boxed{\{1,2\}}", r"$\{2,1\}$", 1.0),  # sets, order free
    (r"\boxed{[1, 2)}", r"$[1,2)$", 1.0),  # interval
    (r"\boxed{(1, 2]}", r"$[1,2)$", 0.0),  # the wrong interval
    (r"The final answer is $\frac{3}{4}$.", "0.75", 1.0),  # anchored LaTeX without a box
    ("<answer>\n3/4\n</answer>", r"\frac{3}{4}", 1.0),  # answer tag, plain expression
    (r"<answer>\frac{3}{4}</answer>", "0.75", 1.0),  # answer tag, LaTeX
    (r"<answer>7</answer> but \boxed{3/4}", "0.75", 1.0),  # auto: a box wins over a tag
    ("the answer is 3/4", r"\frac{3}{4}", 0.0),  # no anchor: open-r1 needs LaTeX or a box
    (r"\boxed{1} then \boxed{2}", "2", 0.0),  # two boxes: open-r1 takes both, matching neither
    (r"\boxed{}", "2", 0.0),  # empty box
    ("\\boxed{2", "2", 0.0),  # unclosed box
    ("", "2", 0.0),  # empty completion
    (r"\boxed{3}", "$x$", 0.0),  # symbolic gold
    (r"\boxed{2}", "no math here", None),  # unparseable gold: skipped, not 0 or 1
    (r"\boxed{2}", "", None),  # empty gold
    (r"\boxed{2}", None, None),  # missing gold
])
def test_accuracy_table(accuracy, completion, gold, expected):
    assert accuracy([completion], solution=[gold]) == [expected]


@pytest.mark.parametrize(("extract", "pattern", "completion", "expected"), [
    ("boxed", None, r"\boxed{1} then \boxed{2}", 1.0),  # only the last box
    ("boxed", None, "<answer>2</answer>", 0.0),  # a tag does not count
    ("answer_tag", None, r"<answer>2</answer> \boxed{3}", 1.0),  # only the tag
    ("answer_tag", None, r"\boxed{2}", 0.0),  # a box does not count
    ("regex", r"ANSWER:\s*(\S+)", "work... ANSWER: 4/2", 1.0),  # custom extraction
    ("regex", r"ANSWER:\s*(\S+)", "ANSWER: 1 ANSWER: 2", 1.0),  # its last match
    ("regex", r"ANSWER:\s*(\S+)", "2", 0.0),  # no match
])
def test_accuracy_extractions(extract, pattern, completion, expected):
    reward = resolve("accuracy", {"extract": extract, "pattern": pattern})
    assert reward([completion], answer=["2"]) == [expected]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"extract": "last"}, "extract must be one of"),
    ({"extract": "regex"}, "pattern is needed"),
    ({"pattern": "x(.)"}, "pattern is needed"),
    ({"extract": "regex", "pattern": "no group"}, "needs a group"),
    ({"extract": "regex", "pattern": "(unclosed"}, "not a valid regex"),
])
def test_accuracy_bad_kwargs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        MathAccuracy(**kwargs)


def test_accuracy_reads_solution_before_answer():
    assert resolve("accuracy")([r"\boxed{1}"], solution=["1"], answer=["2"]) == [1.0]
    assert resolve("accuracy")([r"\boxed{1}"]) == [None]  # no gold column


@pytest.mark.parametrize(("completion", "gold", "expected", "as_trl"), [
    (r"<think>hm</think> so \boxed{\frac{1}{3}}", r"\frac{1}{3}", 1.0, True),  # the answer after the reasoning
    (r"<think>hm</think> so \boxed{\frac{1}{2}}", r"\frac{1}{3}", 0.0, True),  # a wrong one
    (r"<think>try \boxed{2}</think> \boxed{\frac{1}{3}}", r"\frac{1}{3}", 1.0, True),  # a box in the reasoning
    (r"<think>it is \boxed{\frac{1}{3}}</think> done", r"\frac{1}{3}", 0.0, True),  # ... is not the answer
    (r"<think>it is \boxed{\frac{1}{3}}", r"\frac{1}{3}", 0.0, True),  # no closing tag
    (r"\boxed{\frac{1}{3}}", r"\frac{1}{3}", 0.0, True),  # no reasoning at all
    (r"<think>a</think>b</think> \boxed{\frac{1}{3}}", r"\frac{1}{3}", 1.0, True),  # after the last closing tag
    (r"<think>hm</think><answer>1/3</answer>", r"\frac{1}{3}", 1.0, False),  # a tag answer, as `accuracy` takes
    (r"<think>hm</think> \boxed{2}", "no math here", None, True),  # unparseable gold: skipped
    (r"<think>hm \boxed{2}", "no math here", None, False),  # ... even without a closing tag (TRL: 0.0)
])
def test_reasoning_accuracy_table(completion, gold, expected, as_trl):
    from trl.rewards import reasoning_accuracy_reward

    assert ReasoningAccuracy()([MSG(completion)], solution=[gold]) == [expected]
    trl = reasoning_accuracy_reward([MSG(completion)], [gold])
    assert (trl == [expected]) is as_trl


def test_reasoning_accuracy_delimiters_extract_and_errors():
    mixed = ReasoningAccuracy(delimiters=["</reasoning>", "</think>"])
    out = mixed([r"<reasoning>\boxed{1}</reasoning> \boxed{2}", r"<think>\boxed{1}</think> \boxed{2}", r"\boxed{2}"],
                answer=["2"] * 3)
    assert out == [1.0, 1.0, 0.0]
    tagged = resolve("reasoning_accuracy", {"extract": "answer_tag"})
    assert tagged([r"<think>hm</think><answer>2</answer> \boxed{3}"], answer=["2"]) == [1.0]
    assert ReasoningAccuracy()(["<think>hm</think> 2"]) == [None]  # no gold column
    for bad in ("</think>", [], [""]):
        with pytest.raises(ValueError, match="delimiters must be"):
            ReasoningAccuracy(delimiters=bad)
    with pytest.raises(ValueError, match="extract must be one of"):
        ReasoningAccuracy(extract="last")


@pytest.mark.parametrize(("completion", "gold", "expected"), [
    ("48/2 = 24.\n#### 72", "Natalia sold 24 clips in May.\n#### 72", 1.0),  # both marked
    ("so the total is 72.", "#### 72", 1.0),  # unmarked completion: last number
    ("#### 1,234", "1234", 1.0),  # thousands separator
    ("#### $18.00", "#### 18", 1.0),  # dollars, decimals
    ("#### 72\nwait, 71", "#### 72", 1.0),  # the #### answer wins over later numbers
    ("72 or #### 71", "#### 72", 0.0),  # a wrong marked answer
    ("no idea", "#### 72", 0.0),  # no number
    ("#### 72", "seventy-two", None),  # no gold number
])
def test_gsm8k_match_table(completion, gold, expected):
    assert gsm8k_match([completion], answer=[gold]) == [expected]


@pytest.mark.parametrize(("completion", "gold", "expected"), [
    ("The answer is (B).", "B", 1.0),  # "answer is"
    ("Answer: c", "C", 0.0),  # letters are upper case only
    ("C) Paris", "C", 1.0),  # starts with the letter
    ("(D)", 3, 1.0),  # 0-based index gold
    (r"so \boxed{A}", "A", 1.0),  # boxed
    ("<answer>B</answer>", "(B) Paris", 1.0),  # tag; gold with its text
    ("A good question. The answer is C.", "A", 0.0),  # the article "A" is not taken
    ("I would say B", "B", 0.0),  # no rule finds a letter
    ("B", "F", None),  # gold outside the choices
    ("B", True, None),  # a bool is not an index
])
def test_choice_match_table(completion, gold, expected):
    assert resolve("choice_match")([completion], answer=[gold]) == [expected]


def test_choice_match_choices():
    assert ChoiceMatch(choices="ABCDE")(["E"], answer=["E"]) == [1.0]
    with pytest.raises(ValueError, match="distinct upper-case letters"):
        ChoiceMatch(choices="abc")


@pytest.mark.parametrize(("text", "boxed", "tag", "gsm8k", "letter"), [
    (r"\boxed{a{b}c}", "a{b}c", None, None, None),  # nested braces
    (r"\fbox{7}", "7", None, None, None),  # fbox
    ("<answer> x </answer><answer> y </answer>", None, "y", None, None),  # the last tag
    ("#### -3", None, None, "-3", None),  # negative
    ("Answer: (A)", None, None, None, "A"),  # letter after "Answer:"
])
def test_extract_helpers(text, boxed, tag, gsm8k, letter):
    assert (last_boxed(text), answer_tag(text), gsm8k_answer(text), choice_letter(text)) == (
        boxed, tag, gsm8k, letter)
