"""A scripted player of guess_number that stands in for a model's `generate`: it reads the transcript (the
decoded context) and answers with binary search's next `guess` call, in the tool-call format of the
`tool_calling` tiny tokenizer. A random tiny model calls no tools; this one makes every episode multi-turn."""

from __future__ import annotations

import json
import re


def call(name: str, arguments: dict) -> str:
    """A reply that calls one tool, as the tiny `tool_calling` template renders it (TRL parses it)."""
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call><|im_end|>"


def binary_search(text: str) -> str:
    """The next guess of binary search, from the guesses and answers in the transcript so far."""
    low, high = 1, int(re.search(r"between 1 and (\d+)", text)[1])
    guesses = [int(n) for n in re.findall(r'"n": (\d+)', text)]
    answers = re.findall(r"<tool_response>(\w+)", text)
    for n, answer in zip(guesses, answers, strict=False):
        low, high = (n + 1, high) if answer == "higher" else (low, n - 1)
    return call("guess", {"n": (low + high) // 2})


def scripted_generate(tokenizer, policy=binary_search):
    """A `generate(self, input_ids, ...)` method answering each row with `policy(decoded context)`, cut at
    `max_new_tokens` and padded: patch it onto a model class to make the model play by script."""
    import torch

    def generate(self, input_ids, attention_mask=None, max_new_tokens=128, **kwargs):
        replies = []
        for ids in input_ids.tolist():
            text = policy(tokenizer.decode(ids, skip_special_tokens=False))
            replies.append(tokenizer(text, add_special_tokens=False)["input_ids"][:max_new_tokens])
        width = max(map(len, replies))
        padded = [r + [tokenizer.pad_token_id] * (width - len(r)) for r in replies]
        return torch.cat([input_ids, torch.tensor(padded, device=input_ids.device)], dim=1)

    return generate


class ScriptedModel:
    """A stand-in model that answers each turn with `policy(transcript)` (default: binary search's next guess)."""

    device = "cpu"

    def __init__(self, tokenizer, policy=binary_search):
        self.generate = scripted_generate(tokenizer, policy).__get__(self)
