"""What `rlft check-reward --model` adds to rlft.rewards.checker.check_reward: groups of completions sampled from
a model, to call the reward with."""

from __future__ import annotations

from rlft.core.config import ModelSpec
from rlft.eval.evaluate import generate
from rlft.models import load_path


def sample_groups(model: str, rows: list[dict], k: int, temperature: float, max_new_tokens: int) -> list[list[str]]:
    """k sampled completions per row's prompt from `model`: a local folder or hub id, or a run's stage
    folder (its output.json names base, adapters and tokenizer)."""
    lm, tokenizer = load_path(model, ModelSpec())
    texts, _, _ = generate(lm, tokenizer, [r["prompt"] for r in rows], max_new_tokens, batch_size=16,
                           num_samples=k, temperature=temperature)
    return [texts[i * k : (i + 1) * k] for i in range(len(rows))]

