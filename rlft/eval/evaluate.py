"""Held-out evaluation: greedy generation, then the task's verifier and the stage's rewards.

Used by the `eval` stage and by training stages every `eval.every` steps. Completions are handed to the
rewards in the same form TRL uses in training (message lists for conversational prompts), so a reward
scores the same way in both places.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from rlft.eval.metrics import fraction_passing, isolated_rng, mean_pass_at_k, per_task, token_stats
from rlft.rewards.guard import guard
from rlft.rewards.text import completion_text, content_text


def is_conversational(prompt) -> bool:
    return isinstance(prompt, list) and bool(prompt) and isinstance(prompt[0], dict)


def prompt_texts(prompts: list, tokenizer) -> list[str]:
    """Prompt strings as the model sees them: chat-templated with a generation prompt when conversational."""
    return [
        tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) if is_conversational(p) else p
        for p in prompts
    ]


@torch.no_grad()
def generate_ids(
    model, tokenizer, prompts: list, max_new_tokens: int, batch_size: int, num_samples: int = 1,
    temperature: float | None = None,
) -> list[tuple[list[int], list[int], bool]]:
    """(prompt ids, completion ids up to and including eos, ended-with-eos) per completion. Greedy by
    default; with a `temperature`, `num_samples` sampled completions per prompt (prompt-major order)."""
    rows = []
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # batched generation continues from the right edge
    device = next(model.parameters()).device
    try:
        rendered = prompt_texts(prompts, tokenizer)
        for start in range(0, len(rendered), batch_size):
            batch = tokenizer(
                rendered[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(device)
            sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature}
            out = model.generate(
                **batch,
                **sampling,
                num_return_sequences=num_samples,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = out[:, batch["input_ids"].shape[1] :]
            prompt_ids = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
            for i, row in enumerate(new.tolist()):
                n = next((j + 1 for j, t in enumerate(row) if t == tokenizer.eos_token_id), None)
                rows.append((prompt_ids[i // num_samples], row[: n if n is not None else len(row)], n is not None))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return rows


def generate(
    model, tokenizer, prompts: list, max_new_tokens: int, batch_size: int, num_samples: int = 1,
    temperature: float | None = None,
) -> tuple[list[str], list[int], list[bool]]:
    """Completions for prompts: (texts, token lengths, ended-with-eos flags). Greedy by default; with a
    `temperature`, `num_samples` sampled completions per prompt (prompt-major order)."""
    rows = generate_ids(model, tokenizer, prompts, max_new_tokens, batch_size, num_samples, temperature)
    kept = [[t for t in ids if t != tokenizer.pad_token_id] for _, ids, _ in rows]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in kept]
    return texts, [len(ids) for ids in kept], [ended for _, _, ended in rows]


def mean(values: list) -> float | None:
    """Mean of the values that are not None; None when there are none.

    >>> mean([1.0, None, 0.0]), mean([None])
    (0.5, None)
    """
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def std(values: list) -> float | None:
    """Sample standard deviation (n - 1, as TRL's `nanstd`) of the values that are not None; None with fewer
    than two.

    >>> std([1.0, None, 0.0]), std([2.0])
    (0.7071067811865476, None)
    """
    kept = [v for v in values if v is not None]
    return statistics.stdev(kept) if len(kept) > 1 else None


def score_all(rewards: list[tuple[Callable, float]], completions: list, **kwargs) -> tuple[list[float], dict]:
    """Weighted sum of rewards per completion (None counts as 0, as in TRL) and each reward's mean and std
    (None left out) under TRL's `rewards/<name>/mean` and `/std`; kwargs (prompts, columns) go to every reward.

    >>> score_all([(lambda completions, **k: [1.0, None, 0.0], 0.5)], ["a", "b", "c"])
    ([0.5, 0.0, 0.0], {'rewards/<lambda>/mean': 0.5, 'rewards/<lambda>/std': 0.7071067811865476})
    """
    total = [0.0] * len(completions)
    stats = {}
    for fn, weight in rewards:
        scores = fn(completions, **kwargs)
        stats[f"rewards/{fn.__name__}/mean"] = mean(scores)
        stats[f"rewards/{fn.__name__}/std"] = std(scores)
        total = [t + weight * (s or 0.0) for t, s in zip(total, scores, strict=True)]
    return total, stats


@dataclass
class EvalOptions:
    """The measurements `evaluate` adds on request (each costs compute, so all are off by default)."""

    format_fn: Callable | None = None  # a format reward: `format_compliance` = fraction scoring 1
    entropy: bool = False  # `entropy`: per-token entropy along the greedy completions (one forward pass)
    reference: Any = None  # `kl` to this model; the policy itself (a peft model) means its adapters off
    num_samples: int = 0  # > 0: sample this many completions per prompt for `pass@k`
    pass_k: list[int] = field(default_factory=list)
    temperature: float = 1.0
    seed: int = 0  # sampling is seeded and leaves torch's global generator untouched


def evaluate(
    model,
    tokenizer,
    dataset,
    verifier: Callable | None,
    rewards: list[tuple[Callable, float]],
    max_new_tokens: int,
    batch_size: int,
    num_examples: int = 3,
    options: EvalOptions | None = None,
) -> tuple[dict, list[dict]]:
    """Greedy-generate on `dataset` and score. Returns (metrics, examples).

    Metrics: `accuracy` (verifier == 1), `reward` (weighted sum of rewards, TRL's name) and
    `rewards/<name>/mean`, `completions/mean_length`, `completions/max_length`, `completions/clipped_ratio`
    (no eos within max_new_tokens), `num_samples`; `accuracy/<task>` when the rows mix tasks (a `task` column);
    with `options`: `format_compliance`, `entropy`, `kl`,
    `pass@k` (docs/evaluation.md).
    """
    options = options or EvalOptions()
    # the verifier and the format reward may be user code: the same guard as the rewards (sys.exit, bad output)
    verifier = guard(verifier) if verifier is not None else None
    format_fn = guard(options.format_fn) if options.format_fn is not None else None
    prompts = list(dataset["prompt"])  # plain lists, as TRL hands columns to rewards (`route` cuts lists by row)
    columns = {c: list(dataset[c]) for c in dataset.column_names if c not in ("prompt", "completion")}
    rows = generate_ids(model, tokenizer, prompts, max_new_tokens, batch_size)
    kept = [[t for t in ids if t != tokenizer.pad_token_id] for _, ids, _ in rows]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in kept]
    lengths, ended = [len(ids) for ids in kept], [e for _, _, e in rows]
    completions = as_completions(prompts, texts)
    metrics: dict[str, float | None] = {"num_samples": len(texts)}
    correct = verifier(completions, prompts=prompts, **columns) if verifier is not None else [None] * len(texts)
    metrics["accuracy"] = mean([None if c is None else float(c == 1.0) for c in correct])
    if "task" in columns:  # a mixture of tasks: accuracy per task too
        metrics.update(per_task(correct, list(columns["task"])))
    total, means = score_all(rewards, completions, prompts=prompts, **columns)
    metrics.update(means)
    if rewards:
        metrics["reward"] = mean(total)
    metrics["completions/mean_length"] = mean(lengths)
    metrics["completions/max_length"] = float(max(lengths)) if lengths else None
    metrics["completions/clipped_ratio"] = mean([0.0 if e else 1.0 for e in ended])
    formatted = None
    if format_fn is not None:
        formatted = format_fn(completions, prompts=prompts, **columns)
        metrics["format_compliance"] = fraction_passing(formatted)
    if options.entropy or options.reference is not None:
        metrics.update(token_stats(model, [(p, c) for p, c, _ in rows], tokenizer.pad_token_id, batch_size,
                                   entropy=options.entropy, reference=options.reference))  # fmt: skip
    if options.num_samples and verifier is not None:
        n = options.num_samples
        with isolated_rng(options.seed, next(model.parameters()).device):
            sampled, _, _ = generate(model, tokenizer, prompts, max_new_tokens, batch_size, n, options.temperature)
        repeated = {k: [v for v in col for _ in range(n)] for k, col in columns.items()}
        verdicts = verifier(as_completions([p for p in prompts for _ in range(n)], sampled),
                            prompts=[p for p in prompts for _ in range(n)], **repeated)  # fmt: skip
        flags = [None if v is None else v == 1.0 for v in verdicts]
        metrics.update(mean_pass_at_k([flags[i * n : (i + 1) * n] for i in range(len(prompts))], options.pass_k))
    examples = []
    for i in range(min(num_examples, len(texts))):
        example = {
            "prompt": content_text(prompts[i][-1]) if is_conversational(prompts[i]) else prompts[i],
            "completion": completion_text(completions[i]),
            "answer": columns.get("answer", [None] * len(texts))[i],
            "correct": correct[i],
        }
        if rewards:
            example["reward"] = total[i]
        if formatted is not None:
            example["format"] = formatted[i]
        examples.append(example)
    return metrics, examples


def reward_means(metrics: dict) -> str:
    """The mean of every reward an evaluation scored, for its console line (empty without rewards).

    >>> reward_means({"accuracy": 1.0, "rewards/numeric_match/mean": 0.25, "rewards/numeric_match/std": 0.5})
    ' rewards/numeric_match/mean=0.25'
    """
    return "".join(f" {k}={v:.4g}" for k, v in metrics.items()
                   if k.startswith("rewards/") and k.endswith("/mean") and v is not None)  # fmt: skip


def as_completions(prompts: list, texts: list[str]) -> list:
    """Completions in the form TRL hands rewards: message lists for conversational prompts, else strings."""
    return [[{"role": "assistant", "content": t}] if is_conversational(p) else t for p, t in zip(prompts, texts)]
