"""Reward functions with TRL's contract: `f(completions, **kwargs) -> list[float | None]`.

`completions` are strings or message lists; dataset columns arrive as keyword lists aligned with them;
`None` means "does not apply to this sample". Every reward here works unchanged in a plain
`trl.GRPOTrainer`. Built-ins are registered by name below (factories are called with the YAML `kwargs`);
`resolve` also imports user code. docs/rewards.md lists them with formulas and parameters.
"""

from rlft.rewards.accuracy import MathAccuracy, ReasoningAccuracy
from rlft.rewards.checker import check_reward
from rlft.rewards.code import CodeTests
from rlft.rewards.compose import Clip, Gate, Route, WeightedSum
from rlft.rewards.control import RandomReward
from rlft.rewards.format import CodeFormat, format_strict, reasoning_steps, tag_count, think_format
from rlft.rewards.guard import Guard, RewardError, guard
from rlft.rewards.length import CosineLength, KimiLength, SoftOverlong
from rlft.rewards.match import ChoiceMatch, exact_match, gsm8k_match, numeric_match
from rlft.rewards.registry import REWARDS, Entry, check, check_timeout, claim, from_spec, register, resolve
from rlft.rewards.repetition import RepetitionPenalty
from rlft.rewards.sandbox import Sandbox
from rlft.rewards.structured import JsonSchema, RegexMatch, json_valid
from rlft.rewards.text import completion_text

# answers
register(MathAccuracy, name="accuracy", factory=True)
register(ReasoningAccuracy, name="reasoning_accuracy", factory=True)
register(exact_match)
register(numeric_match)
register(gsm8k_match)
register(ChoiceMatch, name="choice_match", factory=True)
# format
register(format_strict)
register(tag_count)
register(reasoning_steps)
register(think_format)
register(CodeFormat, name="code_format", factory=True)
# length and repetition
register(KimiLength, name="kimi_length", factory=True)
register(CosineLength, name="cosine_length", factory=True)
register(SoftOverlong, name="soft_overlong", factory=True)
register(RepetitionPenalty, name="repetition_penalty", factory=True)
# structured output
register(json_valid)
register(JsonSchema, name="json_schema", factory=True)
register(RegexMatch, name="regex_match", factory=True)
# code
register(CodeTests, name="code_tests", factory=True)
# composition
register(WeightedSum, name="weighted_sum", factory=True)
register(Gate, name="gate", factory=True)
register(Clip, name="clip", factory=True)
register(Route, name="route", factory=True)
# controls
register(RandomReward, name="random_reward", factory=True)

__all__ = [
    "REWARDS", "ChoiceMatch", "Clip", "CodeFormat", "CodeTests", "CosineLength", "Entry", "Gate", "Guard",
    "JsonSchema", "KimiLength", "MathAccuracy", "RandomReward", "ReasoningAccuracy", "RegexMatch",
    "RepetitionPenalty", "RewardError", "Route", "Sandbox", "SoftOverlong", "WeightedSum", "check", "check_reward",
    "check_timeout", "claim", "completion_text", "exact_match", "format_strict", "from_spec", "gsm8k_match",
    "guard", "json_valid", "numeric_match", "reasoning_steps", "register", "resolve", "tag_count", "think_format",
]
