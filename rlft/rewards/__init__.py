"""Reward functions with TRL's contract: `f(completions, **kwargs) -> list[float | None]`.

`completions` are strings or message lists; dataset columns arrive as keyword lists aligned with them;
`None` means "does not apply to this sample". Every reward here works unchanged in a plain
`trl.GRPOTrainer`. Built-ins are registered by name below; `resolve` also imports user code.
"""

from rlft.rewards.control import RandomReward
from rlft.rewards.match import exact_match, numeric_match
from rlft.rewards.registry import REWARDS, Entry, check, register, resolve
from rlft.rewards.text import completion_text

register(exact_match)
register(numeric_match)
register(RandomReward, name="random_reward", factory=True)

__all__ = ["REWARDS", "Entry", "check", "completion_text", "exact_match", "numeric_match", "register", "resolve"]
