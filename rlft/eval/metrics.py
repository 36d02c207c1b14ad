"""The measurements of a held-out evaluation beyond greedy accuracy: pass@k from n samples per prompt,
format compliance, per-token entropy and the log-likelihood ratio (k1 KL estimate) to the starting model.

pass@k uses the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
Code", the Codex paper, section 2.1 and its numpy snippet): with n samples of which c pass,
pass@k = 1 - C(n-c, k) / C(n, k), computed as a product so that no binomial coefficient overflows.
Entropy and KL are computed on the greedy completions with one extra forward pass (two with a reference);
`docs/evaluation.md` says what each number is and is not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c of them correct) is
    correct: 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i).

    >>> pass_at_k(5, 0, 1), pass_at_k(5, 5, 3), pass_at_k(4, 1, 2), pass_at_k(4, 2, 4)
    (0.0, 1.0, 0.5, 1.0)
    >>> round(pass_at_k(10, 3, 1), 10)  # k = 1 is the fraction correct
    0.3
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every draw of k contains a correct sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(correct: list[list[bool | None]], ks: list[int]) -> dict[str, float | None]:
    """pass@k for each k, averaged over prompts; `correct[i]` are the verdicts of prompt i's n samples
    (None: the verifier does not apply; such samples are left out, and prompts with fewer than k kept
    samples are skipped). Keys are `pass@k`; None when no prompt qualifies.

    >>> mean_pass_at_k([[True, False], [False, False]], [1, 2])
    {'pass@1': 0.25, 'pass@2': 0.5}
    """
    out: dict[str, float | None] = {}
    for k in ks:
        values = []
        for verdicts in correct:
            kept = [v for v in verdicts if v is not None]
            if len(kept) >= k:
                values.append(pass_at_k(len(kept), sum(kept), k))
        out[f"pass@{k}"] = sum(values) / len(values) if values else None
    return out


def per_task(correct: list[float | None], tasks: list) -> dict[str, float | None]:
    """`accuracy/<task>` for each task of a held-out split that mixes tasks (a `task` column with two or more
    values): the fraction of that task's rows the verifier passed (rows it does not apply to left out).

    >>> per_task([1.0, 0.0, 1.0, None], ["a", "a", "b", "b"])
    {'accuracy/a': 0.5, 'accuracy/b': 1.0}
    >>> per_task([1.0, 0.0], ["a", "a"])
    {}
    """
    names = sorted({str(t) for t in tasks})
    if len(names) < 2:
        return {}
    out = {}
    for name in names:
        flags = [float(c == 1.0) for c, t in zip(correct, tasks, strict=True) if str(t) == name and c is not None]
        out[f"accuracy/{name}"] = sum(flags) / len(flags) if flags else None
    return out


def fraction_passing(scores: list[float | None]) -> float | None:
    """Fraction of completions with full marks (score >= 1) from a format reward; None left out.

    >>> fraction_passing([1.0, 0.0, None, 1.0])
    0.6666666666666666
    """
    kept = [s for s in scores if s is not None]
    return sum(s >= 1.0 for s in kept) / len(kept) if kept else None


@contextlib.contextmanager
def isolated_rng(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seeded sampling that leaves torch's global generators as they were, so that evaluating during
    training (or a pre-run check) does not change what the trainer samples next."""
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _reference_context(policy, reference):
    """The model to score with as the reference: a separate model, or the policy with its adapters off
    when `reference is policy` (a peft model whose adapters were added in this stage)."""
    if reference is policy:
        return policy.disable_adapter()
    return contextlib.nullcontext()


def _completion_logprobs(model, ids, attn, n_completion: int) -> torch.Tensor:
    """Log-softmax over the vocabulary at the last n_completion positions (left-padded rows)."""
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=position_ids,
                   logits_to_keep=n_completion + 1).logits  # fmt: skip
    return torch.log_softmax(logits[:, :-1].float(), dim=-1)


@torch.no_grad()
def token_stats(model, rows: list[tuple[list[int], list[int]]], pad_id: int, batch_size: int,
                entropy: bool = True, reference=None) -> dict[str, float | None]:
    """Per-token entropy and KL to a reference along given completions.

    `rows` are (prompt ids, completion ids). Returns `entropy`: mean over all completion tokens of the
    entropy (nats) of the model's next-token distribution at temperature 1; `kl` (with a reference): mean
    over completions of sum over their tokens of log p_model(token) - log p_reference(token), the k1
    estimator on these tokens. `reference` is a model, or `model` itself to mean its adapters disabled.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ent_sum, ent_count, kls = 0.0, 0, []
    try:
        for start in range(0, len(rows), batch_size):
            batch = [r for r in rows[start : start + batch_size] if r[1]]
            if not batch:
                continue
            width = max(len(p) + len(c) for p, c in batch)
            n_comp = max(len(c) for _, c in batch)
            ids = torch.tensor([[pad_id] * (width - len(p) - len(c)) + p + c for p, c in batch], device=device)
            attn = torch.tensor([[0] * (width - len(p) - len(c)) + [1] * (len(p) + len(c)) for p, c in batch],
                                device=device)  # fmt: skip
            mask = torch.tensor([[j >= n_comp - len(c) for j in range(n_comp)] for _, c in batch], device=device)
            targets = ids[:, -n_comp:, None]
            logp = _completion_logprobs(model, ids, attn, n_comp)
            if entropy:
                per_token = -(logp.exp() * logp).sum(-1)
                ent_sum += per_token[mask].sum().item()
                ent_count += int(mask.sum().item())
            if reference is not None:
                chosen = logp.gather(-1, targets).squeeze(-1)
                with _reference_context(model, reference):
                    scorer = model if reference is model else reference
                    ref_chosen = _completion_logprobs(scorer, ids, attn, n_comp).gather(-1, targets).squeeze(-1)
                kls += ((chosen - ref_chosen) * mask).sum(1).tolist()
    finally:
        model.train(was_training)
    out: dict[str, float | None] = {}
    if entropy:
        out["entropy"] = ent_sum / ent_count if ent_count else None
    if reference is not None:
        out["kl"] = sum(kls) / len(kls) if kls else None
    return out
