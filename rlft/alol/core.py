"""The math of A-LoL (Baheti et al. 2023, "Leftover Lunch: Advantage-based Offline Reinforcement Learning for
Language Models") as pure tensor functions.

A fixed dataset of (prompt x, completion y, reward R) rows; each completion is one action. The advantage is
A = R(x, y) - V(x), with V a value of the prompt read from the frozen reference model (`fit_value`: a linear
head on the reference's hidden state at the prompt's last token, fitted to the rows' rewards by ridge
regression); rows with A <= 0 are dropped. The gradient of each kept row is A * w * grad log pi(y|x), with an
importance weight w:

- `alol`: w = clip(pi(y|x) / pi_ref(y|x), 1 - eps, 1 + eps), the sequence's likelihood ratio;
- `alol_seq`: one clipped ratio per token, pi(y_t|...) / pi_ref(y_t|...), weighting that token's log-prob;
- `alol_ref_free`: w = 1 (advantage-weighted likelihood; the reference is used for V only).

Weights are detached (they scale the gradient, as a policy-gradient importance weight does) and each row's
token log-probs are averaged over its tokens, so that long completions do not dominate the batch.
"""

from __future__ import annotations

import torch

VARIANTS = ("alol", "alol_seq", "alol_ref_free")


def fit_value(features: torch.Tensor, rewards: torch.Tensor, ridge: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of the linear value V(x) = features @ w + b minimising squared error plus
    `ridge * |w|^2`, in closed form (features centred, so the bias is not shrunk).

    >>> w, b = fit_value(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([1.0, 3.0, 5.0]), ridge=0.0)
    >>> round(w.item(), 4), round(b.item(), 4)
    (2.0, 1.0)
    """
    x, y = features.double(), rewards.double()
    mean_x, mean_y = x.mean(0), y.mean()
    xc = x - mean_x
    gram = xc.T @ xc + ridge * torch.eye(x.shape[1], dtype=x.dtype)
    w = torch.linalg.solve(gram, xc.T @ (y - mean_y))
    return w.float(), (mean_y - mean_x @ w).float()


def advantages(rewards: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A = R - V(x); the rows A-LoL trains on are those with A > 0.

    >>> advantages(torch.tensor([1.0, 0.0]), torch.tensor([0.25, 0.25])).tolist()
    [0.75, -0.25]
    """
    return rewards - values


def sequence_logprob_mean(token_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's token log-probs averaged over its completion tokens (mask 1).

    >>> sequence_logprob_mean(torch.tensor([[-1.0, -3.0], [-2.0, 9.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    tensor([-2., -2.])
    """
    return (token_logprobs * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def importance_weights(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, variant: str,
                       clip: float) -> torch.Tensor:
    """Detached importance weights, shape `(batch, T)`: the clipped sequence ratio repeated over the row's tokens
    (`alol`), clipped per-token ratios (`alol_seq`) or ones (`alol_ref_free`).

    >>> lp, ref, m = torch.tensor([[-1.0, -1.0]]), torch.tensor([[-1.5, -1.0]]), torch.ones(1, 2)
    >>> importance_weights(lp, ref, m, "alol", clip=0.2).tolist()  # exp(0.5) = 1.65, clipped to 1.2
    [[1.2000000476837158, 1.2000000476837158]]
    >>> [round(v, 4) for v in importance_weights(lp, ref, m, "alol_seq", clip=0.9)[0].tolist()]
    [1.6487, 1.0]
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    diff = (logprobs - ref_logprobs).detach() * mask
    if variant == "alol_ref_free":
        return torch.ones_like(logprobs)
    if variant == "alol_seq":
        return torch.exp(diff).clamp(1 - clip, 1 + clip) * mask
    ratio = torch.exp(diff.sum(-1)).clamp(1 - clip, 1 + clip)
    return ratio[:, None].expand_as(logprobs) * mask


def alol_loss(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, adv: torch.Tensor,
              variant: str, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, weights): the batch mean of -A * mean_t(w_t * log pi(y_t|...)) over rows, and the row weights
    (the mean of w over each row's tokens) for logging.

    >>> lp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    >>> loss, w = alol_loss(lp, lp.detach(), torch.ones(1, 2), torch.tensor([0.5]), "alol", clip=0.2)
    >>> round(loss.item(), 4), w.tolist()
    (0.75, [1.0])
    """
    weights = importance_weights(logprobs, ref_logprobs, mask, variant, clip)
    per_row = sequence_logprob_mean(weights * logprobs, mask)
    return -(adv * per_row).mean(), sequence_logprob_mean(weights, mask)
