"""The recipe schema of `data.reasoning_gym`: which reasoning-gym tasks, their generator settings, and the
weights of a mixture. Only the shape is checked here; task names and settings are checked against the
library itself by `rlft.data.reasoning_gym`, which needs the optional package (`pip install 'rlft[tasks]'`).

```yaml
data:
  reasoning_gym: {name: spell_backward, config: {min_word_len: 3, max_word_len: 5}}
# or a mixture, each row drawn from one task by weight:
data:
  reasoning_gym:
    mixture:
      - {name: spell_backward, config: {max_word_len: 5}}
      - {name: chain_sum, weight: 2, config: {min_terms: 2, max_terms: 2, max_digits: 2}}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlft.core.schema import ConfigError, join


@dataclass
class GymTask:
    """One reasoning-gym task: its registered name, the fields of its config class (`seed` and `size` are
    rlft's) and its share of the rows in a mixture."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0

    shorthand: ClassVar[str] = "name"

    def validate(self, key: str) -> None:
        if not self.name.strip():
            raise ConfigError(join(key, "name"), "must name a reasoning-gym task (`rlft list tasks` lists them)")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ConfigError(join(key, "weight"), f"must be a number > 0, got {self.weight!r}")


@dataclass
class ReasoningGymSpec:
    """Rows from reasoning-gym's seeded generators: one task (`name`, `config`) or a weighted `mixture`.

    >>> [(t.name, t.weight) for _, t in ReasoningGymSpec(name="chain_sum").tasks("data.reasoning_gym")]
    [('chain_sum', 1.0)]
    >>> spec = ReasoningGymSpec(mixture=[GymTask("chain_sum"), GymTask("spell_backward", weight=2.0)])
    >>> [k for k, _ in spec.tasks("data.reasoning_gym")]
    ['data.reasoning_gym.mixture[0]', 'data.reasoning_gym.mixture[1]']
    """

    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    mixture: list[GymTask] = field(default_factory=list)

    shorthand: ClassVar[str] = "name"

    def validate(self, key: str) -> None:
        if (self.name is None) == (not self.mixture):
            raise ConfigError(key, "set exactly one of name (one task) and mixture (a list of {name, weight, "
                              "config})")  # fmt: skip
        if self.mixture and self.config:
            raise ConfigError(join(key, "config"), "belongs to a single task: give each mixture entry its own config")
        if self.name is not None:
            GymTask(self.name, self.config).validate(key)

    def tasks(self, key: str) -> list[tuple[str, GymTask]]:
        """(dotted key, task) of every task: the single one at `key`, else each mixture entry."""
        if self.name is not None:
            return [(key, GymTask(self.name, dict(self.config)))]
        return [(join(join(key, "mixture"), i), task) for i, task in enumerate(self.mixture)]
