"""PPO math against straightforward reference computations written here, entry by entry."""

import math

import pytest
import torch

from rlft.ppo.core import (
    AdaptiveKL,
    completion_mask,
    gae,
    kl_estimate,
    masked_mean,
    masked_var,
    masked_whiten,
    policy_loss,
    token_rewards,
    value_loss,
)

torch.manual_seed(0)


def reference_gae(rewards, values, lengths, gamma, lam):
    """Plain backwards loop per sequence, ignoring everything past its length."""
    advs, rets = [], []
    for r, v, n in zip(rewards.tolist(), values.tolist(), lengths):
        adv, last = [0.0] * len(r), 0.0
        for t in reversed(range(n)):
            next_v = v[t + 1] if t + 1 < n else 0.0
            delta = r[t] + gamma * next_v - v[t]
            last = delta + gamma * lam * last
            adv[t] = last
        advs.append(adv)
        rets.append([adv[t] + v[t] if t < n else 0.0 for t in range(len(r))])
    return torch.tensor(advs), torch.tensor(rets)


@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 0.95), (0.99, 1.0), (0.9, 0.0), (1.0, 1.0)])
def test_gae_matches_a_backwards_loop(gamma, lam):
    lengths = [5, 3, 1, 6]
    mask = torch.tensor([[1.0] * n + [0.0] * (6 - n) for n in lengths])
    rewards, values = torch.randn(4, 6) * mask, torch.randn(4, 6)  # values past the end are garbage
    adv, ret = gae(rewards, values, mask, gamma, lam)
    ref_adv, ref_ret = reference_gae(rewards, values, lengths, gamma, lam)
    torch.testing.assert_close(adv, ref_adv)
    torch.testing.assert_close(ret, ref_ret)


def test_masked_statistics_ignore_padding():
    x = torch.tensor([[1.0, 2.0, 3.0, 1e6], [4.0, -1e6, -1e6, -1e6]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    kept = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert masked_mean(x, mask).item() == pytest.approx(kept.mean().item())
    assert masked_var(x, mask).item() == pytest.approx(kept.var().item())
    white = masked_whiten(x, mask)
    assert white[mask.bool()].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert white[mask.bool()].std().item() == pytest.approx(1.0, abs=1e-4)
    assert (white[~mask.bool()] == 0).all()
    scaled = masked_whiten(x, mask, shift_mean=False)
    assert scaled[mask.bool()].mean().item() == pytest.approx(kept.mean().item(), rel=1e-4)


@pytest.mark.parametrize(("tokens", "expected"), [
    ([5, 6, 2, 7, 8], [1, 1, 1, 0, 0]),  # tokens after EOS are masked
    ([5, 6, 7, 0, 0], [1, 1, 1, 0, 0]),  # no EOS: padding masked
    ([2, 5, 2, 0, 0], [1, 0, 0, 0, 0]),  # only the first EOS counts
    ([5, 6, 7, 8, 9], [1, 1, 1, 1, 1]),  # truncated: everything counts
])
def test_completion_mask(tokens, expected):
    assert completion_mask(torch.tensor([tokens]), eos_id=2, pad_id=0).tolist() == [[float(e) for e in expected]]


def test_kl_estimators_against_their_formulas():
    lp, ref = torch.randn(10), torch.randn(10)
    for a, b, k1, k3 in zip(lp.tolist(), ref.tolist(), kl_estimate(lp, ref, "k1").tolist(),
                            kl_estimate(lp, ref, "k3").tolist()):
        r = math.exp(b - a)
        assert k1 == pytest.approx(a - b, abs=1e-6)
        assert k3 == pytest.approx((r - 1) - math.log(r), abs=1e-5)
        assert k3 >= -1e-7
    # both are unbiased estimates of KL(p||q) when tokens are drawn from p
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.4, 0.4, 0.2])
    samples = torch.multinomial(p, 200000, replacement=True)
    true_kl = (p * (p / q).log()).sum().item()
    for kind in ("k1", "k3"):
        est = kl_estimate(p.log()[samples], q.log()[samples], kind).mean().item()
        assert est == pytest.approx(true_kl, abs=0.01)
    with pytest.raises(ValueError, match="k1' or 'k3"):
        kl_estimate(lp, ref, "k2")


def test_token_rewards_put_the_score_on_the_last_real_token():
    kl = torch.ones(2, 4)
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    out = token_rewards(torch.tensor([2.0, -1.0]), kl, mask, kl_coef=0.5)
    assert out.tolist() == [[-0.5, -0.5, 1.5, 0.0], [-1.5, 0.0, 0.0, 0.0]]


def test_clipped_policy_loss_on_hand_made_tensors():
    old = torch.zeros(1, 3)
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1]]))  # ratios 1.5, 0.5, 1.1
    adv = torch.tensor([[1.0, -1.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0]])
    loss, clipfrac, approxkl, ratio = policy_loss(new, old, adv, mask, clip=0.2)
    # per token: max(-A r, -A clip(r)) = max(-1.5, -1.2), max(0.5, 0.8), max(-1.1, -1.1)
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 1.1) / 3)
    assert clipfrac.item() == pytest.approx(2 / 3)
    assert approxkl.item() == pytest.approx(0.5 * sum(math.log(r) ** 2 for r in (1.5, 0.5, 1.1)) / 3)
    assert ratio.item() == pytest.approx((1.5 + 0.5 + 1.1) / 3)
    masked = torch.tensor([[1.0, 0.0, 0.0]])
    assert policy_loss(new, old, adv, masked, clip=0.2)[0].item() == pytest.approx(-1.2)


def test_clipped_value_loss_on_hand_made_tensors():
    old = torch.tensor([[0.0, 0.0]])
    new = torch.tensor([[1.0, 0.1]])
    returns = torch.tensor([[2.0, 1.0]])
    loss, clipfrac = value_loss(new, old, returns, torch.ones(1, 2), clip=0.2)
    # token 0: max((1-2)^2, (0.2-2)^2) = 3.24; token 1: max((0.1-1)^2, (0.1-1)^2) = 0.81
    assert loss.item() == pytest.approx(0.5 * (3.24 + 0.81) / 2)
    assert clipfrac.item() == pytest.approx(0.5)


def test_adaptive_kl_moves_towards_the_target():
    ctl = AdaptiveKL(0.2, target=1.0, horizon=100)
    assert ctl.update(current=5.0, n_steps=10) == pytest.approx(0.2 * (1 + 0.2 * 0.1))  # capped at +20%
    assert ctl.update(current=0.5, n_steps=10) < 0.2 * (1 + 0.2 * 0.1)
