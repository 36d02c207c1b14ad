"""Messages without a role are the assistant's: every built-in reward scores `[{"content": ...}]` (how TRL's
and open-r1's examples write completions) exactly as `[{"role": "assistant", "content": ...}]` and as the
plain string."""

import pytest

from rlft.rewards import REWARDS, completion_text, resolve

GOOD = "<think>\n2+2\n</think>\n<answer>\n4\n</answer>"
CODE = "<think>\nadd\n</think>\n<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
FOUR = {"answer": ["4"] * 3, "solution": ["4"] * 3}

# name -> cases of (kwargs, completion texts, dataset columns, expected scores); every registered reward needs
# one, with scores that tell its completions apart (so a completion read as empty text would show)
CASES = {
    "accuracy": [({}, [r"so \boxed{4}", r"\boxed{5}", "four"], FOUR, [1.0, 0.0, 0.0])],
    "reasoning_accuracy": [({}, [r"<think>hm</think> \boxed{4}", r"<think>\boxed{4}", r"<think></think>\boxed{5}"],
                            FOUR, [1.0, 0.0, 0.0])],
    "exact_match": [({}, ["4", "5", "Four"], FOUR, [1.0, 0.0, 0.0])],
    "numeric_match": [({}, ["so 4", "5", "4.0"], FOUR, [1.0, 0.0, 1.0])],
    "gsm8k_match": [({}, ["2+2\n#### 4", "#### 5", "4"], FOUR, [1.0, 0.0, 1.0])],
    "choice_match": [({"choices": "ABCD"}, ["The answer is (B).", "A", "none"], {"answer": ["B"] * 3},
                      [1.0, 0.0, 0.0])],
    "format_strict": [({}, [GOOD, "4", GOOD + "\nmore"], {}, [1.0, 0.0, 0.0])],
    "tag_count": [({}, [GOOD, "<think>\nhm", "4"], {}, [1.0, 0.25, 0.0])],
    "reasoning_steps": [({}, ["Step 1: a\nStep 2: b\nStep 3: c", "First, a.", "4"], {}, [1.0, 1 / 3, 0.0])],
    "think_format": [({}, [GOOD, "4", "<think>a</think><think>b</think>"], {}, [1.0, 0.0, 0.0])],
    "code_format": [({}, [CODE, GOOD, CODE.replace("python", "js")], {}, [1.0, 0.0, 0.0]),
                    ({"language": "js"}, [CODE, CODE.replace("python", "js")], {}, [0.0, 1.0])],
    "kimi_length": [({"correctness": "numeric_match"}, ["4", "so it is 4", "5"], FOUR, [0.5, -0.5, 0.0])],
    "cosine_length": [({"max_len": 10, "correctness": "numeric_match"}, ["4", "4" + " " * 20, "5"], FOUR,
                       [pytest.approx(0.9877641290737884), 0.5, pytest.approx(-0.9877641290737884)])],
    "soft_overlong": [({"max_completion_len": 8, "soft_punish_cache": 4, "unit": "chars"}, ["abc", "abcdef", "a" * 9],
                       {}, [0.0, -0.5, -1.0])],
    "repetition_penalty": [({"ngram_size": 2}, ["the cat sat", "go go go go go", "Go go"], {}, [0.0, -0.75, 0.0]),
                           ({"ngram_size": 2, "language": "zh"}, ["我们去公园", "好好好好好"], {}, [0.0, -0.75])],
    "json_valid": [({}, ['{"a": 1}', "{a: 1}"], {}, [1.0, 0.0])],
    "json_schema": [({"schema": {"type": "object", "required": ["a"]}}, ['{"a": 1}', '{"b": 1}'], {}, [1.0, 0.0])],
    "regex_match": [({"pattern": r"\d+"}, ["42", "forty-two"], {}, [1.0, 0.0])],
    "code_tests": [({"timeout": 5}, ["```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b): return a"],
                    {"test_cases": [["assert add(1, 2) == 3"]] * 2}, [1.0, 0.0])],
    "weighted_sum": [({"rewards": ["numeric_match", "format_strict"], "weights": [1.0, 0.5]}, [GOOD, "4", "5"], FOUR,
                      [1.5, 1.0, 0.0])],
    "gate": [({"objective": "numeric_match", "judge": "format_strict"}, [GOOD, "4"], FOUR, [1.0, -1.0])],
    "clip": [({"reward": "numeric_match", "low": 0.25, "high": 0.75}, ["4", "5"], FOUR, [0.75, 0.25])],
    "route": [({"routes": {"math": "numeric_match", "text": "exact_match"}}, ["4.0", "Paris", "x"],
               {"answer": ["4", "paris", "y"], "verifier": ["math", "text", None]}, [1.0, 1.0, None])],
    "random_reward": [({"seed": 0}, ["a", "b", "c", "d"], {}, [0.0, 0.0, 1.0, 1.0])],
    "reasoning_gym": [({}, ["nus", "nux", "abc"], {"answer": ["nus"] * 3, "metadata": ['{"word": "sun"}'] * 3,
                                                  "task": ["spell_backward"] * 3}, [1.0, pytest.approx(2 / 3), 0.0])],
}


def without_roles(completion: list[dict]) -> list[dict]:
    return [{k: v for k, v in message.items() if k != "role"} for message in completion]


def score(name: str, kwargs: dict, completions: list, columns: dict) -> list:
    reward = resolve(name, kwargs)  # a fresh reward for each call, so random_reward restarts from its seed
    return reward(completions, **{k: v[: len(completions)] for k, v in columns.items()})


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_messages_without_roles_score_as_the_assistants(name):
    if name not in CASES:
        pytest.fail(f"reward '{name}' has no case in CASES: give it completions it scores differently")
    for kwargs, texts, columns, expected in CASES[name]:
        with_roles = [[{"role": "assistant", "content": t}] for t in texts]
        assert score(name, kwargs, with_roles, columns) == expected
        assert score(name, kwargs, [without_roles(c) for c in with_roles], columns) == expected
        assert score(name, kwargs, texts, columns) == expected


def test_every_case_names_a_registered_reward():
    assert set(CASES) - set(REWARDS) == set()


@pytest.mark.parametrize(("completion", "text"), [
    ("4", "4"),  # a string
    ([{"role": "assistant", "content": "4"}], "4"),  # TRL's conversational form
    ([{"content": "4"}], "4"),  # no role: the assistant's
    ([{"role": None, "content": "4"}], "4"),  # role None: the assistant's
    ([{"content": "a"}, {"content": "b"}], "b"),  # the last of several
    ([{"role": "assistant", "content": "a"}, {"role": "tool", "content": "b"}], "a"),  # a tool result is not it
    ([{"content": "a"}, {"role": "tool", "content": "b"}], "a"),  # nor after a message without a role
    ([{"role": "user", "content": "q"}], ""),  # a user message is never the completion
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], ""),  # nor a system one
    ([{"content": [{"type": "text", "text": "4"}, {"type": "image"}]}], "4"),  # multimodal parts: the text ones
    ([{"role": "assistant", "content": None, "tool_calls": []}], ""),  # a tool call without text
    ([], ""),  # nothing
    ({"content": "4"}, "4"),  # one message
])
def test_completion_text_table(completion, text):
    assert completion_text(completion) == text


def test_accuracy_of_a_message_without_a_role():
    accuracy = resolve("accuracy")
    assert accuracy([[{"content": r"The answer is \boxed{\frac{1}{2}}"}]], solution=[r"\frac{1}{2}"]) == [1.0]
