"""The value head of rlft's PPO and its `trainer.value_head` block: a scalar regressed with the clipped squared
error (`type: mse`, the default) or a categorical HL-Gauss head trained by cross-entropy (`type: hl_gauss`,
Farebrother et al. 2024; the math is `rlft.ppo.hl_gauss`).

Both heads are one `nn.Linear` on the value model's last hidden state, initialised to zero, with the parameter
names `weight` and `bias` (so checkpoints and `value_head.pt` keep one format); only the output size differs,
1 or `bins`. A zero categorical head is uniform over the bins: its first value is the support's midpoint
(min + max) / 2, where the scalar head starts at 0.

Value clipping (`cliprange_value`) applies to the mse head only. PPO clips the value so that one update cannot
move V far from the rollout's V_old, a guard against the unbounded gradient of a squared error on a far return;
the cross-entropy's gradient in the logits, softmax(z) - p(R), is bounded by construction, and a clipped
*value* has no cross-entropy to take a maximum with (the logits that would produce it are not unique). Large
studies of PPO's details found value clipping of no help (Engstrom et al. 2020, "Implementation Matters in Deep
Policy Gradients") or harmful whatever its threshold (Andrychowicz et al. 2021, "What Matters in On-Policy
Reinforcement Learning?"). So with `hl_gauss` the value loss is the plain cross-entropy, `cliprange_value` is
not used and `val/clipfrac_avg` is not logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch

from rlft.core.schema import ConfigError, join
from rlft.ppo.core import value_loss
from rlft.ppo.hl_gauss import categorical_entropy, categorical_value, default_sigma, hl_gauss_loss, support

DEFAULT_BINS = 51  # the paper's Atari setting (as C51's)


@dataclass
class ValueHeadConfig:
    """`trainer.value_head`: `{type: mse}` (default) or `{type: hl_gauss, min: ..., max: ..., bins: 51, sigma: ...}`.

    `min` and `max` bound the returns the categorical head can express (returns beyond them are clipped to the
    edges); they have no default because they depend on the rewards' scale. `sigma` defaults to the paper's
    0.75 x bin width. The hl_gauss keys are refused with `type: mse`, where they would mean nothing.
    """

    type: Literal["mse", "hl_gauss"] = "mse"
    bins: int | None = None
    min: float | None = None
    max: float | None = None
    sigma: float | None = None

    def validate(self, key: str) -> None:
        """Check across fields (called by `rlft.core.schema.build`) and fill in hl_gauss's defaults."""
        categorical = ("bins", "min", "max", "sigma")
        if self.type == "mse":
            for name in categorical:
                if getattr(self, name) is not None:
                    raise ConfigError(join(key, name), f"is a setting of type hl_gauss; type is 'mse', whose scalar "
                                      f"head has no bins (set {join(key, 'type')}: hl_gauss, or leave it out)")
            return
        for name in ("min", "max"):
            if getattr(self, name) is None:
                raise ConfigError(join(key, name), "is required with type hl_gauss: the range of returns the head "
                                  "can express (a number; returns beyond it are clipped to it)")
        if self.min >= self.max:
            raise ConfigError(join(key, "min"), f"must be < max, got min {self.min!r} and max {self.max!r}")
        self.bins = DEFAULT_BINS if self.bins is None else self.bins
        if self.bins < 2:
            raise ConfigError(join(key, "bins"), f"must be >= 2 (bins of the categorical value), got {self.bins!r}")
        self.sigma = default_sigma(self.bins, self.min, self.max) if self.sigma is None else self.sigma
        if self.sigma <= 0:
            paper = default_sigma(self.bins, self.min, self.max)
            raise ConfigError(join(key, "sigma"), f"must be > 0 (width of the Gaussian around the return; default "
                              f"0.75 x bin width = {paper:.4g}), got {self.sigma!r}")

    @property
    def outputs(self) -> int:
        """Outputs of the linear head: 1 for mse, one logit per bin for hl_gauss."""
        return 1 if self.type == "mse" else self.bins


class ValueHead(torch.nn.Linear):
    """The value head: a zero-initialised linear map from the last hidden state to `cfg.outputs` numbers, and
    how those become values, losses and metrics for its type."""

    def __init__(self, hidden: int, cfg: ValueHeadConfig):
        super().__init__(hidden, cfg.outputs)
        self.cfg = cfg
        if cfg.type == "hl_gauss":  # plain attributes, not buffers: state_dict holds weight and bias only
            self.edges, self.centers = support(cfg.bins, cfg.min, cfg.max)
        torch.nn.init.zeros_(self.weight)
        torch.nn.init.zeros_(self.bias)

    def value(self, out: torch.Tensor) -> torch.Tensor:
        """Values `(batch, T)` from the head's outputs `(batch, T, outputs)`."""
        if self.cfg.type == "mse":
            return out.squeeze(-1)
        return categorical_value(out, self.centers)

    def loss(self, out, old_values, returns, mask, clip: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(value loss, clip fraction): the clipped squared error for mse; the HL-Gauss cross-entropy and no clip
        fraction (None) for hl_gauss, which is not clipped (module docstring)."""
        if self.cfg.type == "mse":
            return value_loss(out.squeeze(-1), old_values, returns, mask, clip)
        return hl_gauss_loss(out, returns, mask, self.edges, self.cfg.sigma), None

    def entropy(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
        """Mean entropy of the categorical head's distribution (nats); None for the scalar head."""
        return None if self.cfg.type == "mse" else categorical_entropy(out, mask)

    def save(self, folder: Path) -> None:
        """`value_head.pt` (the state dict: weight and bias) and `value_head.json` (type, support, input size)."""
        torch.save(self.state_dict(), folder / "value_head.pt")
        (folder / "value_head.json").write_text(json.dumps({**asdict(self.cfg), "hidden_size": self.in_features}))


def load_value_head(folder: Path) -> ValueHead:
    """The head a PPO stage saved in `folder` (`ValueHead.save`), on the CPU."""
    meta = json.loads((Path(folder) / "value_head.json").read_text())
    head = ValueHead(meta.pop("hidden_size"), ValueHeadConfig(**meta))
    head.load_state_dict(torch.load(Path(folder) / "value_head.pt"))
    return head
