"""Scoring with a trained reward model: (prompt, completion) pairs through a sequence-classification model,
pairwise accuracy on held-out pairs, and one trained reward model served as a TRL-style reward function
(rlft.rm.reward builds it from a recipe's `reward_model` reward)."""

from __future__ import annotations

from pathlib import Path

import torch

from rlft.core.runfiles import read_json
from rlft.eval.evaluate import is_conversational
from rlft.models import load_tokenizer, torch_dtype
from rlft.rewards.text import completion_text

STATS_FILE = "rm_stats.json"


def texts_for(tokenizer, prompts: list, completions: list) -> list[str]:
    """The full text the reward model reads: chat-templated prompt + answer, or plain concatenation."""
    out = []
    for prompt, completion in zip(prompts, completions, strict=True):
        if is_conversational(prompt):
            messages = [*prompt, {"role": "assistant", "content": completion_text(completion)}]
            out.append(tokenizer.apply_chat_template(messages, tokenize=False))
        else:
            out.append(prompt + completion_text(completion))
    return out


@torch.no_grad()
def score(model, tokenizer, prompts: list, completions: list, batch_size: int = 64) -> list[float]:
    """Scalar reward per (prompt, completion), batched; the model reads the last non-padding token."""
    side, tokenizer.padding_side = tokenizer.padding_side, "right"
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores: list[float] = []
    try:
        texts = texts_for(tokenizer, prompts, completions)
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)  # fmt: skip
            scores.extend(model(**batch).logits[:, 0].float().tolist())
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return scores


def pairwise_report(chosen: list[float], rejected: list[float]) -> dict:
    """Held-out quality of a reward model from its scores of chosen and rejected answers: how often chosen
    scores higher, and the score distribution (which `normalize` uses later).

    >>> pairwise_report([1.0, 1.0], [0.0, 1.0])["pairwise_accuracy"]  # ties count as wrong
    0.5
    """
    both = torch.tensor(chosen + rejected)
    return {
        "pairwise_accuracy": sum(c > r for c, r in zip(chosen, rejected)) / len(chosen),
        "chosen_mean": sum(chosen) / len(chosen),
        "rejected_mean": sum(rejected) / len(rejected),
        "margin_mean": sum(c - r for c, r in zip(chosen, rejected)) / len(chosen),
        "score_mean": both.mean().item(),
        "score_std": both.std().item() if len(both) > 1 else 0.0,
        "num_pairs": len(chosen),
    }


class RewardModelReward:
    """A trained reward model as a TRL-style reward function. Loaded lazily in the process that calls it
    (and dropped when pickled), so the callable itself is small and picklable.

    With `normalize`, scores are standardised with the mean and std the model had on its held-out pairs,
    which keeps them on the scale of rule rewards (0..1) when the two are mixed with weights.
    """

    def __init__(self, path: str, normalize: bool = False, batch_size: int = 64, name: str = "reward_model"):
        self.path, self.normalize, self.batch_size, self.__name__ = str(path), normalize, batch_size, name
        self._model = self._tokenizer = None
        self._stats = None

    def __getstate__(self):
        return {**self.__dict__, "_model": None, "_tokenizer": None}

    def _load(self):
        from transformers import AutoModelForSequenceClassification

        self._tokenizer = load_tokenizer(self.path)
        self._model = AutoModelForSequenceClassification.from_pretrained(
            self.path, num_labels=1, dtype=torch_dtype("auto")
        )
        if torch.cuda.is_available():
            self._model.to("cuda")
        stats = Path(self.path).parent / STATS_FILE
        keys = {"score_mean": (int, float), "score_std": (int, float)}
        self._stats = read_json(stats, "the reward model's score statistics", keys) if stats.exists() else None
        if self.normalize and self._stats is None:
            raise ValueError(f"normalize needs {stats} (written by rlft's reward_model stage)")

    def __call__(self, completions, prompts=None, **kwargs) -> list[float]:
        if prompts is None:
            raise ValueError("the reward model needs the prompts (TRL passes them as `prompts`)")
        if self._model is None:
            self._load()
        raw = score(self._model, self._tokenizer, prompts, completions, self.batch_size)
        if not self.normalize:
            return raw
        mean, std = self._stats["score_mean"], self._stats["score_std"] or 1.0
        return [(s - mean) / std for s in raw]
