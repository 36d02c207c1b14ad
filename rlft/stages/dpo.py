"""Direct Preference Optimisation with TRL's DPOTrainer on (prompt, chosen, rejected) pairs.

`trainer.loss_type` and `trainer.beta` pass through to DPOConfig. With LoRA the reference model is the base
with the adapter disabled (no second copy in memory); without LoRA TRL keeps a frozen copy.

With `data.policy_pairs: n`, the pairs are made from the starting model itself, as in "RLHF Workflow"
(Dong et al., 2024): n answers are sampled per prompt, the stage's rewards (rules or a reward model) rank
them, and the best and worst become chosen and rejected; prompts whose samples all score the same are
dropped (they carry no preference).
"""

from __future__ import annotations

from rlft.eval.evaluate import as_completions, generate, score_all
from rlft.models import load_model, load_tokenizer
from rlft.stages.common import StageContext, run_trainer, source_ref


def config_class():
    from trl import DPOConfig

    return DPOConfig


def best_worst(prompts: list, completions: list, scores: list[float], n: int) -> dict[str, list]:
    """Chosen = best-scored and rejected = worst-scored of each prompt's n completions (prompt-major);
    prompts whose completions tie are left out.

    >>> best_worst(["p", "q"], ["a", "b", "c", "d"], [0.0, 1.0, 0.5, 0.5], n=2)
    {'prompt': ['p'], 'chosen': ['b'], 'rejected': ['a']}
    """
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": []}
    for i, prompt in enumerate(prompts):
        group = list(zip(scores[i * n : (i + 1) * n], completions[i * n : (i + 1) * n]))
        best, worst = max(group, key=lambda x: x[0]), min(group, key=lambda x: x[0])
        if best[0] > worst[0]:
            rows["prompt"].append(prompt)
            rows["chosen"].append(best[1])
            rows["rejected"].append(worst[1])
    return rows


def policy_pairs(ctx: StageContext, train, n: int):
    """Preference pairs ranked from the starting model's own samples (see the module docstring)."""
    from datasets import Dataset

    ref = source_ref(ctx)
    model = load_model(ref, ctx.stage.model)
    tokenizer = load_tokenizer(ctx.stage.model.tokenizer or ref.tokenizer or ref.base)
    prompts = train["prompt"]
    texts, _, _ = generate(model, tokenizer, prompts, ctx.stage.eval.max_new_tokens, batch_size=256,
                           num_samples=n, temperature=1.0)  # fmt: skip
    repeated = [p for p in prompts for _ in range(n)]
    completions = as_completions(repeated, texts)
    columns = {c: [v for v in train[c] for _ in range(n)] for c in train.column_names if c != "prompt"}
    totals, _ = score_all(ctx.rewards(), completions, prompts=repeated, **columns)
    rows = best_worst(prompts, completions, totals, n)
    ctx.echo(f"  [{ctx.name}] {len(rows['prompt'])} of {len(prompts)} prompts gave a preference pair")
    return Dataset.from_dict(rows)


def run(ctx: StageContext):
    from trl import DPOTrainer

    train, held_out = ctx.data()
    n = ctx.recipe.stage_data(ctx.name).policy_pairs
    if n:
        train = policy_pairs(ctx, train, n)
    return run_trainer(ctx, DPOTrainer, config_class(), train, held_out)
