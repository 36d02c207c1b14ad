"""Reward-model ensembles against over-optimisation (Coste et al. 2023, "Reward Model Ensembles Help Mitigate
Overoptimization"; Eisenstein et al. 2023, "Helping or Herding?"): k reward models trained alike on different
data orders score every completion, and the reward is a conservative combination of their scores.

- `mean`: the average score (mean optimisation);
- `min`: the lowest score (worst-case optimisation, WCO);
- `uncertainty`: the mean minus `uncertainty_weight` times the members' standard deviation (uncertainty-weighted
  optimisation, UWO): where the members disagree the policy is probably exploiting one member's mistake.
"""

from __future__ import annotations

import numpy as np

from rlft.rm.score import RewardModelReward, pairwise_report

COMBINE = ("mean", "min", "uncertainty")


def combine_scores(scores, how: str = "mean", uncertainty_weight: float = 1.0) -> list[float]:
    """Combine members' scores (members x completions) into one score per completion.

    >>> s = [[1.0, 0.0], [3.0, 0.0]]
    >>> combine_scores(s, "mean"), combine_scores(s, "min"), combine_scores(s, "uncertainty", 0.5)
    ([2.0, 0.0], [1.0, 0.0], [1.5, 0.0])
    """
    x = np.asarray(scores, dtype=float)
    if how == "mean":
        out = x.mean(axis=0)
    elif how == "min":
        out = x.min(axis=0)
    elif how == "uncertainty":
        out = x.mean(axis=0) - uncertainty_weight * x.std(axis=0)  # population std over the members
    else:
        raise ValueError(f"combine must be one of {', '.join(COMBINE)}, got {how!r}")
    return out.tolist()


class EnsembleReward:
    """k trained reward models as one TRL-style reward function (named `reward_model`, as a single one), each
    loaded lazily and standardised first with `normalize`, so that members on different scales combine fairly."""

    def __init__(self, paths: list, normalize: bool = False, batch_size: int = 64, combine: str = "mean",
                 uncertainty_weight: float = 1.0, name: str = "reward_model"):
        self.members = [RewardModelReward(p, normalize, batch_size, name) for p in paths]
        self.combine, self.uncertainty_weight, self.__name__ = combine, uncertainty_weight, name

    def __call__(self, completions, prompts=None, **kwargs) -> list[float]:
        scores = [member(completions, prompts=prompts, **kwargs) for member in self.members]
        return combine_scores(scores, self.combine, self.uncertainty_weight)


def ensemble_report(member_scores: list[tuple[list[float], list[float]]], uncertainty_weight: float = 1.0) -> dict:
    """Held-out pairwise accuracy of each member and of the ensemble under each combination, from the members'
    (chosen, rejected) scores of the same pairs.

    >>> r = ensemble_report([([1.0, 0.0], [0.0, 1.0]), ([2.0, 2.0], [0.0, 0.0])])
    >>> r["members"], r["mean"], r["min"]
    ([0.5, 1.0], 1.0, 0.5)
    """
    chosen = [c for c, _ in member_scores]
    rejected = [r for _, r in member_scores]
    out = {"members": [pairwise_report(c, r)["pairwise_accuracy"] for c, r in member_scores]}
    for how in COMBINE:
        c = combine_scores(chosen, how, uncertainty_weight)
        r = combine_scores(rejected, how, uncertainty_weight)
        out[how] = pairwise_report(c, r)["pairwise_accuracy"]
    return out
