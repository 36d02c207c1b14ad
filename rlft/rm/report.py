"""The parts of a reward model's quality report beyond pairwise accuracy: does it agree with the task's
verifier on answers a policy really writes, does it prefer longer answers when correctness is equal, and
how its scores of chosen and rejected answers are distributed (a histogram PNG)."""

from __future__ import annotations

from pathlib import Path

from rlft.eval.evaluate import as_completions, generate
from rlft.rm.score import score


def length_bias(model, tokenizer, prompts: list, answers: list[str]) -> float:
    """Fraction of prompts where the RM scores `the answer is A` above the bare `A` (both correct):
    0.5 means no preference for length, 1.0 that longer always wins."""
    short = as_completions(prompts, answers)
    long = as_completions(prompts, [f"the answer is {a}" for a in answers])
    s_short, s_long = score(model, tokenizer, prompts, short), score(model, tokenizer, prompts, long)
    return sum(b > a for a, b in zip(s_short, s_long)) / len(prompts)


def pairwise_agreement(scores: list[float], correct: list[bool], groups: list[int]) -> float | None:
    """Among pairs of samples of the same prompt where the verifier passes one and fails the other, the
    fraction the reward model orders the same way; None when no prompt has such a pair.

    >>> pairwise_agreement([0.9, 0.1, 0.5, 0.7], [True, False, True, False], [0, 0, 1, 1])
    0.5
    >>> pairwise_agreement([1.0, 2.0], [True, True], [0, 0]) is None
    True
    """
    agree = total = 0
    for i in range(len(scores)):
        for j in range(len(scores)):
            if groups[i] == groups[j] and correct[i] and not correct[j]:
                total += 1
                agree += scores[i] > scores[j]
    return agree / total if total else None


def verifier_agreement(rm, tokenizer, policy, verifier, held_out, n: int = 4, max_new_tokens: int = 16) -> dict:
    """Sample n answers per held-out prompt from `policy`, score them with the RM and the verifier, and
    measure how often the two agree on which of two answers to the same prompt is better."""
    prompts = held_out["prompt"]
    texts, _, _ = generate(policy, tokenizer, prompts, max_new_tokens, batch_size=64, num_samples=n, temperature=1.0)
    rep_prompts = [p for p in prompts for _ in range(n)]
    completions = as_completions(rep_prompts, texts)
    columns = {c: [v for v in held_out[c] for _ in range(n)] for c in held_out.column_names if c != "prompt"}
    verdicts = verifier(completions, prompts=rep_prompts, **columns)
    scores = score(rm, tokenizer, rep_prompts, completions)
    groups = [i // n for i in range(len(texts))]
    return {
        "verifier_agreement": pairwise_agreement(scores, [v == 1.0 for v in verdicts], groups),
        "sampled_accuracy": sum(v == 1.0 for v in verdicts) / len(verdicts),
        "num_samples": len(texts),
    }


def score_histogram(chosen: list[float], rejected: list[float], out: Path, title: str) -> Path:
    """Overlaid histograms of the RM's scores of chosen and rejected answers."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend and figures stay as they were

    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    bins = 30
    ax.hist(chosen, bins=bins, alpha=0.6, label="chosen")
    ax.hist(rejected, bins=bins, alpha=0.6, label="rejected")
    ax.set_xlabel("reward-model score")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return out
