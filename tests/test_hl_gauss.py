"""HL-Gauss math (rlft.ppo.hl_gauss) and the explained variance against direct computations written here."""

import math

import pytest
import torch

from rlft.ppo.core import explained_variance
from rlft.ppo.hl_gauss import (
    categorical_entropy,
    categorical_value,
    default_sigma,
    hl_gauss_loss,
    hl_gauss_target,
    support,
)

SUPPORTS = [(51, -1.0, 2.0), (11, 0.0, 1.0), (2, -5.0, 5.0), (201, -10.0, 10.0)]  # (bins, min, max)
SIGMAS = [0.1, 0.75, 3.0]  # in bin widths; 0.75 is the paper's


def reference_target(value: float, edges: list[float], sigma: float) -> list[float]:
    """Bin masses of N(clip(value), sigma^2) from the normal CDF at each edge, normalised over [edges[0], edges[-1]]."""
    mu = min(max(value, edges[0]), edges[-1])

    def cdf(x):
        return 0.5 * (1.0 + math.erf((x - mu) / (sigma * math.sqrt(2.0))))

    inside = cdf(edges[-1]) - cdf(edges[0])
    return [(cdf(b) - cdf(a)) / inside for a, b in zip(edges[:-1], edges[1:])]


def values_for(low: float, high: float) -> torch.Tensor:
    """Values across the support, on both edges, and beyond it on both sides."""
    width = high - low
    return torch.tensor([low - 3 * width, low - 1e-3, low, low + 0.37 * width, (low + high) / 2, high - 0.011 * width,
                         high, high + 0.5, high + 100.0], dtype=torch.float64)  # fmt: skip


@pytest.mark.parametrize(("bins", "low", "high"), SUPPORTS)
@pytest.mark.parametrize("sigma_bins", SIGMAS)
def test_target_matches_the_normal_cdf_and_sums_to_one(bins, low, high, sigma_bins):
    edges, _ = support(bins, low, high)
    edges = edges.double()
    sigma = sigma_bins * (high - low) / bins
    values = values_for(low, high)
    target = hl_gauss_target(values, edges, sigma)
    assert target.shape == (len(values), bins)
    for value, row in zip(values.tolist(), target.tolist()):
        assert row == pytest.approx(reference_target(value, edges.tolist(), sigma), abs=1e-12)
        assert sum(row) == pytest.approx(1.0, abs=1e-12)
        assert min(row) >= 0.0


@pytest.mark.parametrize(("bins", "low", "high"), SUPPORTS)
def test_values_beyond_the_support_are_clipped_to_its_edges(bins, low, high):
    edges, _ = support(bins, low, high)
    sigma = default_sigma(bins, low, high)
    below = hl_gauss_target(torch.tensor([low - 0.1, low - 50.0]), edges, sigma)
    above = hl_gauss_target(torch.tensor([high + 0.1, high + 50.0]), edges, sigma)
    for row in below:
        assert torch.equal(row, hl_gauss_target(torch.tensor(low), edges, sigma))
    for row in above:
        assert torch.equal(row, hl_gauss_target(torch.tensor(high), edges, sigma))
    assert torch.isfinite(below).all() and torch.isfinite(above).all()  # no 0/0 far outside


@pytest.mark.parametrize(("bins", "low", "high"), SUPPORTS)
@pytest.mark.parametrize("sigma_bins", [0.01, 0.1, 0.75])
def test_expectation_of_the_target_is_the_clipped_value(bins, low, high, sigma_bins):
    """Within half a bin or sigma, whichever is larger (the edges shift it inwards by about 0.8 sigma, the mean of
    a half-normal; a sigma below a bin puts the mass on the value's bin, whose center is up to half a bin away);
    at the paper's sigma and away from the edges, almost exactly."""
    edges, centers = support(bins, low, high)
    width, sigma = (high - low) / bins, sigma_bins * (high - low) / bins
    values = torch.cat([values_for(low, high), torch.linspace(low, high, 301, dtype=torch.float64)])
    expectation = categorical_value(hl_gauss_target(values, edges.double(), sigma).log(), centers.double())
    error = (expectation - values.clamp(low, high)).abs()
    assert error.max().item() <= max(width / 2, sigma) + 1e-6  # edges are float32
    if sigma_bins == 0.75 and bins > 2:  # two bins have no values 3 sigma + a bin away from both edges
        inside = (values > low + 3 * sigma + width) & (values < high - 3 * sigma - width)
        assert error[inside].max().item() < 1e-3 * width


def test_support_and_default_sigma():
    edges, centers = support(4, -1.0, 1.0)
    assert edges.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert centers.tolist() == [-0.75, -0.25, 0.25, 0.75]
    assert default_sigma(4, -1.0, 1.0) == pytest.approx(0.75 * 0.5)


@pytest.mark.parametrize("bins", [2, 5, 51])
def test_categorical_value_loss_and_entropy_against_direct_formulas(bins):
    gen = torch.Generator().manual_seed(bins)
    logits = torch.randn(3, 4, bins, generator=gen, dtype=torch.float64)
    returns = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    edges, centers = support(bins, -1.5, 1.5)
    edges, centers = edges.double(), centers.double()
    sigma = default_sigma(bins, -1.5, 1.5)
    loss = hl_gauss_loss(logits, returns, mask, edges, sigma)
    value, entropy = categorical_value(logits, centers), categorical_entropy(logits, mask)
    ce, ent, n = 0.0, 0.0, 0
    for i in range(3):
        for t in range(4):
            z = logits[i, t].tolist()
            norm = math.log(sum(math.exp(v) for v in z))
            probs = [math.exp(v - norm) for v in z]
            assert value[i, t].item() == pytest.approx(sum(p * c for p, c in zip(probs, centers.tolist())), abs=1e-12)
            if mask[i, t]:
                target = reference_target(returns[i, t].item(), edges.tolist(), sigma)
                ce += -sum(q * (v - norm) for q, v in zip(target, z))
                ent += -sum(p * math.log(p) for p in probs)
                n += 1
    assert loss.item() == pytest.approx(ce / n, abs=1e-10)
    assert entropy.item() == pytest.approx(ent / n, abs=1e-10)
    # torch's cross-entropy with probability targets agrees on the masked tokens
    keep = mask.bool()
    torch_ce = torch.nn.functional.cross_entropy(logits[keep], hl_gauss_target(returns[keep], edges, sigma))
    assert loss.item() == pytest.approx(torch_ce.item(), abs=1e-10)


def test_the_loss_is_smallest_at_the_target_and_its_gradient_is_bounded():
    edges, _ = support(21, 0.0, 1.0)
    returns, mask = torch.tensor([[0.3, 5000.0]]), torch.ones(1, 2)  # a return far outside: a bounded gradient
    target = hl_gauss_target(returns, edges, default_sigma(21, 0.0, 1.0))
    logits = target.clamp(min=1e-30).log().requires_grad_()
    hl_gauss_loss(logits, returns, mask, edges, default_sigma(21, 0.0, 1.0)).backward()
    assert logits.grad.abs().max().item() < 1e-6  # softmax(z) - p(R) = 0: the minimum
    logits = torch.zeros(1, 2, 21, requires_grad=True)
    hl_gauss_loss(logits, returns, mask, edges, default_sigma(21, 0.0, 1.0)).backward()
    assert 0 < logits.grad.abs().max().item() <= 1.0  # (softmax - target) / tokens, whatever the return


@pytest.mark.parametrize(("values", "returns", "expected"), [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1.0),  # exact
    ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], 0.0),  # a constant, even the right mean
    ([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], 0.0),  # a constant off the mean: the variance of R - V is still Var(R)
    ([3.0, 2.0, 1.0], [1.0, 2.0, 3.0], -3.0),  # anti-correlated: 1 - Var([-2, 0, 2]) / Var([1, 2, 3]) = 1 - 4
    ([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], None),  # constant returns: nothing to explain
])
def test_explained_variance(values, returns, expected):
    pad = [99.0]  # a masked-out token, whatever it holds
    v, r = torch.tensor([values + pad]), torch.tensor([returns + [-99.0]])
    mask = torch.tensor([[1.0] * len(values) + [0.0]])
    got = explained_variance(v, r, mask)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))
