"""PPO with rlft's own trainer (`rlft.ppo.trainer`): the stage assembles rewards -> models (policy, reference and
value on one LoRA base, or separate without LoRA) -> config -> train -> save the policy (and value)
adapters in the ordinary peft format, and the value head (scalar or HL-Gauss, `rlft.ppo.value_head`). With
`env:`, each rollout plays one episode per row (multi-turn PPO, docs/ppo.md), the environment's `get_reward()`
joins the rewards with weight 1, and the held-out episodes are played after training as in a GRPO stage
(rlft.stages.environment)."""

from __future__ import annotations

import time

import torch

from rlft.eval.alarms import stop_if_diverged
from rlft.models import save_stage_model
from rlft.ppo.trainer import Models, PPOConfig, train
from rlft.stages import checkpoints, environment
from rlft.stages.common import StageContext, starting_model, tracker_names
from rlft.stages.heldout import generation_eval
from rlft.stages.precheck import at_stage_start
from rlft.stages.result import StageResult
from rlft.stages.trackers import Trackers
from rlft.stages.trainer_config import make_trainer_config


def config_class():
    return PPOConfig


def run(ctx: StageContext):
    train_rows, held_out = ctx.data()
    rewards = ctx.rewards()
    env = environment.spec(ctx.stage) if ctx.stage.env is not None else None
    if env is not None and ctx.stage.env.reward and env.reward() is not None:  # weight 1, as TRL adds it
        rewards = [*rewards, (env.reward(), 1.0)]
    model, tokenizer, save_ref, peft = starting_model(ctx)
    cfg = make_trainer_config(PPOConfig, ctx.stage, ctx.dir / "trainer", ctx.seed)
    if ctx.checkpoint is not None:  # resuming a killed run (rlft.runner.recovery)
        cfg.resume_from_checkpoint = str(ctx.checkpoint)
    device = "cuda" if torch.cuda.is_available() and not cfg.use_cpu else "cpu"
    model.to(device)
    at_stage_start(ctx, model, tokenizer, train_rows, rewards, cfg)  # with `check.enabled`
    models = Models(model, peft, cfg.value_lora_r, cfg.activation_checkpointing, cfg.value_head)
    ctx.trackers = Trackers.build(cfg, **tracker_names(ctx))  # trainer.report_to, as TRL's trainers report
    if ctx.trackers is not None:
        ctx.trackers.begin(models.policy)

    eval_cb = generation_eval(ctx, tokenizer, held_out, rewards)
    last: dict = dict(ctx.resume_state["last"]) if ctx.resume_state else {}
    if ctx.resume_state:
        checkpoints.restore_eval(eval_cb, ctx.resume_state)

    def log(step, metrics):
        last.update(ctx.log(step, "train", metrics))
        stop_if_diverged(f"{ctx.key}.trainer", metrics, step, cfg.learning_rate, cfg.max_grad_norm)
        shown = " ".join(f"{k}={metrics[k]:.4g}" for k in ("objective/scores", "objective/kl", "loss/value_avg"))
        ctx.echo(f"  [{ctx.name}] step {step}/{cfg.max_steps} {shown}")

    def on_step(step) -> bool:  # True: eval.stop_at_accuracy is reached, training stops
        return eval_cb is not None and eval_cb.at_step(models.policy, step)

    def on_save(path, step):  # completes the checkpoint: a killed run can continue from here
        checkpoints.save_state(path, step, checkpoints.stage_state(ctx, last, eval_cb, resumable=True))

    if eval_cb is not None and ctx.checkpoint is None:
        eval_cb.at_start(models.policy)  # with eval.at_start: the starting model's baseline
    start = time.perf_counter()
    steps = train(models, tokenizer, train_rows, rewards, cfg, log, on_step, on_save, env)
    wall = time.perf_counter() - start

    if eval_cb is not None:
        eval_cb.finish(models.policy, steps)
    out = save_stage_model(models.policy, tokenizer, ctx.dir, save_ref, is_adapter=models.lora)
    if models.lora:
        models.policy.save_pretrained(ctx.dir / "value", selected_adapters=["value"])
    models.value_head.save(ctx.dir)  # value_head.pt and value_head.json (type and support)

    train_metrics = {k: v for k, v in last.items() if k not in ("stage", "step", "split")} | {"global_step": steps}
    timing = {"train_runtime": wall, "eps": steps * cfg.per_device_train_batch_size / wall}
    result = StageResult(out, train=train_metrics, timing=timing)
    if env is not None and held_out is not None:  # the held-out episodes, played greedily
        result.extra.update(environment.evaluate(ctx, models.policy, tokenizer, held_out, steps))
    return eval_cb.record(result) if eval_cb is not None else result
