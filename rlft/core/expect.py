"""A recipe's `expect:` block: the result it promises, measured over seeds, which `rlft verify` checks again
(rlft/analysis/verify.py). The claims are about the IQM over seeds of one metric, with its bootstrap interval:

    expect:
      metric: final_accuracy          # the last held-out accuracy (or a summary.json path, as `rlft compare`)
      seeds: [0, 1, 2, 3, 4]          # the seeds it was measured on (and `rlft verify` runs by default)
      iqm_at_least: 0.75              # a floor on the IQM
      gain_over: sft                  # an earlier stage: the gain is the metric minus its held-out accuracy
      gain_at_least: 0.2              # a floor on the IQM of the per-seed gain
      band: [0.70, 0.90]              # or: the IQM's interval lies in this band
      measured: "rlft verify recipes/quickstart.yaml --seeds 0-4"   # where the figures come from
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlft.core.schema import SEED_MAX, ConfigError, join

DEFAULT_METRIC = "final_accuracy"


@dataclass
class ExpectSpec:
    metric: str = DEFAULT_METRIC
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    iqm_at_least: float | None = None
    gain_over: str | None = None
    gain_at_least: float | None = None
    band: list[float] | None = None
    measured: str = ""

    def validate(self, key: str) -> None:
        if not self.seeds:
            raise ConfigError(join(key, "seeds"), "needs at least one seed")
        for i, seed in enumerate(self.seeds):
            if not 0 <= seed <= SEED_MAX:
                raise ConfigError(join(join(key, "seeds"), i), f"must be in [0, {SEED_MAX}], got {seed}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(join(key, "seeds"), f"names a seed twice: {self.seeds}")
        if (self.gain_over is None) != (self.gain_at_least is None):
            missing = "gain_at_least" if self.gain_at_least is None else "gain_over"
            raise ConfigError(join(key, missing), "gain_over and gain_at_least go together (the stage the gain is "
                              "measured from, and its floor)")  # fmt: skip
        if self.band is not None and (len(self.band) != 2 or self.band[0] > self.band[1]):
            raise ConfigError(join(key, "band"), f"must be [low, high] with low <= high, got {self.band}")
        if self.iqm_at_least is None and self.gain_at_least is None and self.band is None:
            raise ConfigError(key, "states no claim: set iqm_at_least, gain_over with gain_at_least, or band")

    def claims(self) -> list[tuple[str, str, float | list[float]]]:
        """(name, kind, bound) of each claim, in the order they are reported.

        >>> ExpectSpec(iqm_at_least=0.7, gain_over="sft", gain_at_least=0.2).claims()
        [('iqm', 'floor', 0.7), ('gain', 'floor', 0.2)]
        """
        out = []
        if self.iqm_at_least is not None:
            out.append(("iqm", "floor", self.iqm_at_least))
        if self.gain_at_least is not None:
            out.append(("gain", "floor", self.gain_at_least))
        if self.band is not None:
            out.append(("iqm", "band", list(self.band)))
        return out
