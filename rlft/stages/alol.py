"""A-LoL (offline, advantage-weighted) with rlft's own loop (`rlft.alol.trainer`): the stage scores its fixed rows
with its rewards (any rlft reward or a trained reward model), then trains on those with a positive advantage
over the frozen reference's value of the prompt; no completion is sampled. Saves the adapter (or model) and
evaluates the held-out prompts as every training stage does (docs/alol.md)."""

from __future__ import annotations

import time

import torch

from rlft.alol.trainer import ALoLConfig, NothingToLearn, encode, train
from rlft.core.schema import ConfigError
from rlft.eval.evaluate import score_all
from rlft.models import save_stage_model
from rlft.stages.common import StageContext, starting_model
from rlft.stages.heldout import generation_eval
from rlft.stages.result import StageResult
from rlft.stages.trainer_config import make_trainer_config


def config_class():
    return ALoLConfig


def run(ctx: StageContext):
    train_rows, held_out = ctx.data()
    rewards = ctx.rewards()
    model, tokenizer, save_ref, peft = starting_model(ctx)
    cfg = make_trainer_config(ALoLConfig, ctx.stage, ctx.dir / "trainer", ctx.seed)
    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() and not cfg.use_cpu else "cpu"
    if peft is not None:
        from peft import get_peft_model

        model = get_peft_model(model, peft)
    model.to(device)

    # 1. score the logged completions with the stage's rewards (weighted sum, as TRL sums them)
    columns = {c: train_rows[c] for c in train_rows.column_names if c not in ("prompt", "completion")}
    total, per_fn = score_all(rewards, train_rows["completion"], prompts=train_rows["prompt"], **columns)
    rows = encode(tokenizer, train_rows["prompt"], train_rows["completion"])

    eval_cb = generation_eval(ctx, tokenizer, held_out, rewards)
    last: dict = {}

    def log(step, metrics):
        last.update(ctx.log(step, "train", metrics))
        ctx.echo(f"  [{ctx.name}] step {step}/{cfg.max_steps} loss={metrics['loss']:.4g} "
                 f"importance_weight={metrics['alol/importance_weight']:.4g}")

    if eval_cb is not None:
        eval_cb.at_start(model)  # with eval.at_start: the starting model's baseline
    start = time.perf_counter()
    try:
        steps, data = train(model, peft is not None, rows, torch.tensor(total), cfg, log,
                            on_step=lambda step: eval_cb is not None and eval_cb.at_step(model, step))
    except NothingToLearn as e:
        raise ConfigError(f"{ctx.key}.rewards", f"{e} ({len(total)} rows, every reward {total[0]:g})") from None
    wall = time.perf_counter() - start
    ctx.echo(f"  [{ctx.name}] {data['alol/rows_kept']} of {data['alol/rows']} rows with a positive advantage "
             f"(mean reward {data['alol/reward_mean']:.3g}, value MSE {data['alol/value_mse']:.3g})")
    if eval_cb is not None:
        eval_cb.finish(model, steps)
    out = save_stage_model(model, tokenizer, ctx.dir, save_ref, is_adapter=peft is not None)
    train_metrics = {k: v for k, v in last.items() if k not in ("stage", "step", "split")}
    train_metrics |= data | {k: v for k, v in per_fn.items() if v is not None} | {"global_step": steps}
    result = StageResult(out, train=train_metrics, timing={"train_runtime": wall})
    return eval_cb.record(result) if eval_cb is not None else result
