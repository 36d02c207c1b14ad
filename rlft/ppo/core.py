"""The math of PPO for language models, as pure tensor functions (CleanRL style: readable in one sitting).

Shapes: `(batch, T)` over completion tokens; `mask` is 1 for the tokens the policy generated (single-turn: up
to and including EOS) and 0 for padding, anything generated after EOS and, in a multi-turn episode, the tool
results between the model's replies. Every reduction is masked, so those tokens never leak into a mean, a
variance or an advantage; GAE steps over them (`gae`).

Sources: GAE and the clipped objectives follow Schulman et al. (2016, 2017) and the "N implementation
details of RLHF with PPO" (Huang et al., 2024); the k1/k3 KL estimators follow Schulman's "Approximating
KL divergence" (2020); the adaptive KL controller is Ziegler et al. (2019).
"""

from __future__ import annotations

import torch


def completion_mask(tokens: torch.Tensor, eos_id: int, pad_id: int) -> torch.Tensor:
    """1 for tokens up to and including the first EOS, 0 after it and for padding.

    >>> completion_mask(torch.tensor([[5, 6, 2, 7], [5, 0, 0, 0]]), eos_id=2, pad_id=0).tolist()
    [[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    """
    is_eos = tokens == eos_id
    after_eos = (torch.cumsum(is_eos.int(), dim=1) - is_eos.int()) > 0
    return (~after_eos & (tokens != pad_id) | is_eos & ~after_eos).float()


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean over entries where mask is 1.

    >>> masked_mean(torch.tensor([1.0, 2.0, 100.0]), torch.tensor([1.0, 1.0, 0.0]))
    tensor(1.5000)
    """
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance over entries where mask is 1 (Bessel-corrected by default)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    n = mask.sum()
    return var * n / (n - 1) if unbiased and n > 1 else var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over masked entries; masked-out entries are left as 0 afterwards.

    With `shift_mean=False` only the scale changes (used for rewards, whose sign carries meaning).
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask


def kl_estimate(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from log-probabilities of the sampled tokens.

    k1 = log p - log q (unbiased, can be negative per token); k3 = (r - 1) - log r with r = q / p
    (unbiased, always >= 0, lower variance).

    >>> lp, ref = torch.tensor([-1.0]), torch.tensor([-2.0])
    >>> kl_estimate(lp, ref, "k1"), round(kl_estimate(lp, ref, "k3").item(), 4)
    (tensor([1.]), 0.3679)
    """
    log_ratio = logprobs - ref_logprobs
    if kind == "k1":
        return log_ratio
    if kind == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"kl estimator must be 'k1' or 'k3', got {kind!r}")


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """The position of each row's last masked-in token (0 for a row with none).

    >>> last_index(torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])).tolist()
    [1, 3, 0]
    """
    positions = torch.arange(mask.shape[1], device=mask.device)
    return (mask.bool() * positions).argmax(dim=1)


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Per-token rewards: -kl_coef * KL at every token of the policy, plus the sequence score at its last one (in
    an episode: the last token of the model's last reply).

    >>> token_rewards(torch.tensor([1.0]), torch.tensor([[0.5, 0.5, 0.0]]), torch.tensor([[1.0, 1.0, 0.0]]), 0.1)
    tensor([[-0.0500,  0.9500,  0.0000]])
    >>> token_rewards(torch.tensor([1.0]), torch.tensor([[0.5, 0.3, 0.5]]), torch.tensor([[1.0, 0.0, 1.0]]), 0.1)
    tensor([[-0.0500,  0.0000,  0.9500]])
    """
    rewards = torch.where(mask.bool(), -kl_coef * kl, torch.zeros_like(kl))
    rewards[torch.arange(len(scores)), last_index(mask)] += scores
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimation over the policy's tokens; returns (advantages, returns).

    The steps are the masked-in tokens: a token's next state is the next token the policy generates, so the
    masked-out tokens between two replies of an episode (tool results: part of the transition, not actions) are
    stepped over, and credit flows back across turns, with `gamma` and `lam` per step as within a reply. After
    the last masked-in token the value is 0 (the episode ends), so padding never feeds back into earlier
    advantages. Masked-out positions get advantage and return 0.
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    next_value = torch.zeros_like(last)
    for t in reversed(range(rewards.shape[1])):
        step = mask[:, t].bool()
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = torch.where(step, delta + gamma * lam * last, last)
        next_value = torch.where(step, values[:, t], next_value)
        advantages[:, t] = last * mask[:, t]
    return advantages, (advantages + values) * mask


def policy_loss(logprobs, old_logprobs, advantages, mask, clip: float):
    """Clipped surrogate objective. Returns (loss, clip fraction, approximate KL old->new, mean ratio)."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clipfrac = masked_mean((clipped > unclipped).float(), mask)
    approxkl = 0.5 * masked_mean(log_ratio**2, mask)
    return loss, clipfrac, approxkl, masked_mean(ratio, mask)


def value_loss(values, old_values, returns, mask, clip: float):
    """Clipped value loss: 0.5 * max((v - R)^2, (clip(v) - R)^2). Returns (loss, clip fraction)."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    loss_unclipped, loss_clipped = (values - returns) ** 2, (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    return loss, masked_mean((loss_clipped > loss_unclipped).float(), mask)


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float | None:
    """1 - Var(R - V) / Var(R) over the masked tokens (CleanRL's `explained_var`): 1 when the values predict the
    returns exactly, 0 when they do no better than a constant, negative when worse; None when the returns are
    constant (nothing to explain).

    >>> r, m = torch.tensor([[1.0, 2.0, 3.0, 99.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    >>> explained_variance(r, r, m), explained_variance(torch.full_like(r, 2.0), r, m)
    (1.0, 0.0)
    """
    var_returns = masked_var(returns, mask, unbiased=False)
    if var_returns.item() == 0:
        return None
    return 1.0 - (masked_var(returns - values, mask, unbiased=False) / var_returns).item()


class AdaptiveKL:
    """KL coefficient that follows a target KL (Ziegler et al., 2019): raised when the measured KL is above
    target, lowered when below, by at most 20% per update, over `horizon` samples.

    >>> ctl = AdaptiveKL(0.1, target=6.0, horizon=10000)
    >>> round(ctl.update(current=12.0, n_steps=100), 5)
    0.1002
    """

    def __init__(self, init: float, target: float, horizon: int):
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, current: float, n_steps: int) -> float:
        error = max(min(current / self.target - 1.0, 0.2), -0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value
