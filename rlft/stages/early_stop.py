"""Which model a stage keeps when `eval.stop_at_accuracy` stops it. Held-out accuracy of a tiny model can jump
by 0.2 or more between two evaluations, so the model that first reaches the target may be far above it; a
warm-up that must hand a later stage a start near the target keeps the last evaluated model below it instead
(`eval.stop_keep: below`), or whichever of the two is closer (`closest`). Only trainable parameters are kept
(LoRA adapters alone under LoRA), copied once per evaluation below the target, and only when asked for.
"""

from __future__ import annotations

STOP_KEEP = ("reached", "below", "closest")


def choose(rule: str, target: float, reached: float, below: float | None) -> str:
    """`reached` or `below`: the model to keep under `rule`, given the accuracy that reached `target` and that of
    the last evaluation below it (None when there was none: the reached model is all there is).

    >>> [choose(r, 0.3, 0.67, 0.2) for r in STOP_KEEP]
    ['reached', 'below', 'below']
    >>> choose("closest", 0.3, 0.32, 0.2), choose("below", 0.3, 0.5, None)
    ('reached', 'reached')
    """
    if rule == "reached" or below is None:
        return "reached"
    if rule == "below":
        return "below"
    return "below" if target - below < reached - target else "reached"


class Snapshot:
    """A copy of a model's trainable parameters at one evaluation, to put back if the stage keeps that model."""

    def __init__(self, model, step: int, metrics: dict):
        self.step, self.metrics = step, metrics
        self.values = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def restore(self, model) -> None:
        params = dict(model.named_parameters())
        for name, value in self.values.items():
            params[name].data.copy_(value)
