"""Held-out accuracy per reasoning-gym task of a finished run's stages: greedy completions on the run's own
held-out rows, judged by the `reasoning_gym` verifier, grouped by each row's `task`.

    python bench/rg_per_task.py runs/rg_mixture/<run> sft grpo

A mixture's overall accuracy can hide a task that has not started: this shows where GRPO has something to
work with. It reads the run's `config.yaml`, so the rows are the ones the run trained and evaluated on.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import torch

import rlft
from rlft.core.config import ModelSpec
from rlft.data import load_splits
from rlft.eval.evaluate import as_completions, generate
from rlft.models import load_model, load_tokenizer, path_ref
from rlft.rewards import resolve


def per_task(tasks: list[str], scores: list) -> dict[str, tuple[int, int]]:
    """(right, rows) per task, in order of first appearance; a row is right when its verifier gives 1.

    >>> per_task(["a", "b", "a"], [1.0, 0.5, 0.0])
    {'a': (1, 2), 'b': (0, 1)}
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for task, score in zip(tasks, scores, strict=True):
        counts[task][0] += score == 1.0
        counts[task][1] += 1
    return {task: (right, rows) for task, (right, rows) in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished run folder (holds config.yaml)")
    parser.add_argument("stages", nargs="+", help="stages that left a model (sft, grpo, ...)")
    parser.add_argument("--max-new-tokens", type=int, help="default: the largest eval.max_new_tokens of the run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = rlft.load_recipe(Path(args.run) / "config.yaml")
    max_new_tokens = args.max_new_tokens or max(stage.eval.max_new_tokens for stage in recipe.stages.values())
    _, held = load_splits(recipe.data, recipe.seed)
    prompts = list(held["prompt"])
    columns = {c: list(held[c]) for c in held.column_names if c not in ("prompt", "completion")}
    verifier = resolve("reasoning_gym", {})
    for stage in args.stages:
        ref = path_ref(str(Path(args.run) / stage))
        model, tokenizer = load_model(ref, ModelSpec(path=ref.base)), load_tokenizer(ref.tokenizer)
        texts, _, _ = generate(model, tokenizer, prompts, max_new_tokens, 200)
        scores = verifier(as_completions(prompts, texts), prompts=prompts, **columns)
        parts = [f"{task} {right / rows:.3f} ({right}/{rows})" for task, (right, rows) in
                 sorted(per_task(held["task"], scores).items())]  # fmt: skip
        print(f"{stage}: all {sum(s == 1.0 for s in scores) / len(scores):.3f}; " + "; ".join(parts))


if __name__ == "__main__":
    main()
