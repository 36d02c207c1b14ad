"""Reward functions with TRL's contract: `f(completions, **kwargs) -> list[float | None]`.

`completions` are strings or message lists; dataset columns arrive as keyword lists aligned with them;
`None` means "does not apply to this sample". Every reward here works unchanged in a plain
`trl.GRPOTrainer`. Built-ins are registered by name below (factories are called with the YAML `kwargs`);
`resolve` also imports user code. docs/rewards.md lists them with formulas and parameters.
"""

from rlft.rewards.accuracy import MathAccuracy, ReasoningAccuracy
from rlft.rewards.checker import check_reward
from rlft.rewards.code import COLUMNS as CODE_COLUMNS
from rlft.rewards.code import CodeTests
from rlft.rewards.compose import Clip, Gate, Route, WeightedSum
from rlft.rewards.control import RandomReward
from rlft.rewards.format import CodeFormat, format_strict, reasoning_steps, tag_count, think_format
from rlft.rewards.guard import Guard, RewardError, guard
from rlft.rewards.length import CosineLength, KimiLength, SoftOverlong
from rlft.rewards.match import ChoiceMatch, exact_match, gsm8k_match, numeric_match
from rlft.rewards.reasoning_gym import ReasoningGym
from rlft.rewards.reasoning_gym import columns as _reasoning_gym
from rlft.rewards.registry import (
    REWARDS,
    Entry,
    check,
    check_timeout,
    claim,
    from_spec,
    lacks,
    reads,
    register,
    resolve,
)
from rlft.rewards.repetition import RepetitionPenalty
from rlft.rewards.sandbox import Sandbox
from rlft.rewards.structured import JsonSchema, RegexMatch, json_valid
from rlft.rewards.text import completion_text

GOLD = ("answer", "solution")  # rewards take the gold from whichever of these the data has


def _parts(*rewards) -> list[tuple[str, ...]]:
    return [group for reward in rewards if reward is not None for group in reads(reward)]


def _code_tests(r: CodeTests):
    """the column named by `column`, else one of `test_cases`, `tests`, `verification_info`"""
    return [(r.column,)] if r.column else [CODE_COLUMNS]


def _json_schema(r: JsonSchema):
    """the column named by `column` (default `schema`), unless `schema` is given"""
    return [] if r.schema is not None else [(r.column,)]


def _route(r: Route):
    """the column named by `column` (default `verifier`; not needed with a `default`), and what the routed
    rewards read"""
    return ([] if r.default is not None else [(r.column,)]) + _parts(*r.routes.values(), r.default)


def _correctness(r: KimiLength | CosineLength):
    """what its `correctness` reward reads (default `accuracy`: `solution` or `answer`)"""
    return _parts(r.correctness)


def _weighted_sum(r: WeightedSum):
    """what its rewards read"""
    return _parts(*r.rewards)


def _gate(r: Gate):
    """what its objective and judge read"""
    return _parts(r.objective, r.judge)


def _clip(r: Clip):
    """what its reward reads"""
    return _parts(r.reward)


# answers
register(MathAccuracy, name="accuracy", factory=True, columns=GOLD[::-1])
register(ReasoningAccuracy, name="reasoning_accuracy", factory=True, columns=GOLD[::-1])
register(exact_match, columns=GOLD)
register(numeric_match, columns=GOLD)
register(gsm8k_match, columns=GOLD)
register(ChoiceMatch, name="choice_match", factory=True, columns=GOLD)
register(ReasoningGym, name="reasoning_gym", factory=True, columns=_reasoning_gym)  # imports the library on use
# format
register(format_strict)
register(tag_count)
register(reasoning_steps)
register(think_format)
register(CodeFormat, name="code_format", factory=True)
# length and repetition
register(KimiLength, name="kimi_length", factory=True, columns=_correctness)
register(CosineLength, name="cosine_length", factory=True, columns=_correctness)
register(SoftOverlong, name="soft_overlong", factory=True)
register(RepetitionPenalty, name="repetition_penalty", factory=True)
# structured output
register(json_valid)
register(JsonSchema, name="json_schema", factory=True, columns=_json_schema)
register(RegexMatch, name="regex_match", factory=True)
# code
register(CodeTests, name="code_tests", factory=True, columns=_code_tests)
# composition
register(WeightedSum, name="weighted_sum", factory=True, columns=_weighted_sum)
register(Gate, name="gate", factory=True, columns=_gate)
register(Clip, name="clip", factory=True, columns=_clip)
register(Route, name="route", factory=True, columns=_route)
# controls
register(RandomReward, name="random_reward", factory=True)

__all__ = [
    "REWARDS",
    "ChoiceMatch",
    "Clip",
    "CodeFormat",
    "CodeTests",
    "CosineLength",
    "Entry",
    "Gate",
    "Guard",
    "JsonSchema",
    "KimiLength",
    "MathAccuracy",
    "RandomReward",
    "ReasoningAccuracy",
    "ReasoningGym",
    "RegexMatch",
    "RepetitionPenalty",
    "RewardError",
    "Route",
    "Sandbox",
    "SoftOverlong",
    "WeightedSum",
    "check",
    "check_reward",
    "check_timeout",
    "claim",
    "completion_text",
    "exact_match",
    "format_strict",
    "from_spec",
    "gsm8k_match",
    "guard",
    "json_valid",
    "lacks",
    "numeric_match",
    "reads",
    "reasoning_steps",
    "register",
    "resolve",
    "tag_count",
    "think_format",
]
