"""A value function learned by classification: HL-Gauss (Farebrother et al. 2024, "Stop Regressing: Training
Value Functions via Classification for Scalable Deep RL", section 3 and the code listing of its appendix).

The value's range [min, max] is cut into `bins` equal bins with edges e_0 < ... < e_bins and centers c_i. The
head outputs one logit per bin; the value is the expectation of the centers under the softmax,
V = sum_i softmax(z)_i c_i. A return R becomes the histogram that N(R, sigma^2) puts on each bin,

    p_i(R) = (F(e_{i+1}) - F(e_i)) / (F(e_bins) - F(e_0)),   F(x) = Phi((x - R) / sigma),

normalised over [min, max] so that it sums to 1, and the value loss is the cross-entropy -sum_i p_i log
softmax(z)_i. A return outside [min, max] is clipped to the nearer edge first: the paper's listing divides by the
mass inside the support, which is 0/0 for a return far outside it. The paper recommends sigma = 0.75 x the bin
width (its section 4.1: the mass spread over about six neighbouring bins).

Pure tensor functions; shapes are `(..., bins)` for logits and histograms and `(...)` for values.
"""

from __future__ import annotations

import math

import torch

SIGMA_PER_BIN = 0.75  # the paper's recommended sigma / bin width


def support(bins: int, low: float, high: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(edges, centers) of `bins` equal bins over [low, high]: `bins + 1` edges and `bins` centers.

    >>> edges, centers = support(3, 0.0, 3.0)
    >>> edges.tolist(), centers.tolist()
    ([0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
    """
    edges = torch.linspace(low, high, bins + 1)
    return edges, (edges[:-1] + edges[1:]) / 2


def default_sigma(bins: int, low: float, high: float) -> float:
    """The paper's sigma: 0.75 x the bin width.

    >>> round(default_sigma(51, -1.0, 2.0), 4)
    0.0441
    """
    return SIGMA_PER_BIN * (high - low) / bins


def hl_gauss_target(values: torch.Tensor, edges: torch.Tensor, sigma: float) -> torch.Tensor:
    """The HL-Gauss histogram of each value: the mass of N(clip(value), sigma^2) in each bin, normalised over
    [edges[0], edges[-1]]. Returns shape `values.shape + (bins,)`; each histogram sums to 1.

    >>> hl_gauss_target(torch.tensor([1.5]), torch.tensor([0.0, 1.0, 2.0, 3.0]), sigma=0.01).tolist()
    [[0.0, 1.0, 0.0]]
    """
    edges = edges.to(values.device, values.dtype)
    clipped = values.clamp(edges[0], edges[-1]).unsqueeze(-1)
    cdf = torch.special.erf((edges - clipped) / (math.sqrt(2.0) * sigma))  # 2 Phi - 1: the 2 cancels below
    mass = cdf[..., 1:] - cdf[..., :-1]
    return mass / (cdf[..., -1:] - cdf[..., :1])


def categorical_value(logits: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """The value of a categorical head: the expectation of the bin centers under softmax(logits).

    >>> categorical_value(torch.tensor([[0.0, 0.0]]), torch.tensor([-1.0, 3.0]))
    tensor([1.])
    """
    return (torch.softmax(logits, dim=-1) * centers.to(logits.device, logits.dtype)).sum(-1)


def hl_gauss_loss(logits: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor,
                  sigma: float) -> torch.Tensor:
    """Masked mean over tokens of the cross-entropy between the HL-Gauss histogram of the return and
    softmax(logits). Its gradient in the logits is softmax(z) - p(R), bounded whatever the return's size.

    >>> edges = torch.tensor([0.0, 1.0, 2.0])
    >>> round(hl_gauss_loss(torch.zeros(1, 1, 2), torch.tensor([[0.5]]), torch.ones(1, 1), edges, 0.01).item(), 4)
    0.6931
    """
    target = hl_gauss_target(returns, edges, sigma)
    cross_entropy = -(target * torch.log_softmax(logits, dim=-1)).sum(-1)
    return (cross_entropy * mask).sum() / mask.sum().clamp(min=1)


def categorical_entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean entropy (nats) of softmax(logits): log(bins) for a uniform head, 0 for one certain bin.

    >>> round(categorical_entropy(torch.zeros(1, 1, 4), torch.ones(1, 1)).item(), 4)
    1.3863
    """
    logp = torch.log_softmax(logits, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return (entropy * mask).sum() / mask.sum().clamp(min=1)
