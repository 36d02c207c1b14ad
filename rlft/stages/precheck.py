"""The pre-run check (rlft.eval.precheck) as a stage runs it: with the stage's sampling settings, rewards and
verifier, before training starts (`check: {enabled: true}`), and for `rlft check RECIPE`."""

from __future__ import annotations

import torch

from rlft.core.schema import ConfigError, join
from rlft.core.tracking import write_json
from rlft.eval.precheck import DEFAULT_K, CheckReport, run_check
from rlft.stages import ALGORITHMS
from rlft.stages.eval_extras import StageEval
from rlft.stages.trainer_config import make_trainer_config


def stage_settings(ctx, trainer_cfg=None, k: int | None = None) -> tuple[int, float, int]:
    """(k, temperature, max_new_tokens) as the stage's trainer will sample: `check.k`, else the algorithm's fixed
    group (Algorithm.group_size) or the trainer's num_generations, else 8; its temperature and length limit."""
    spec = ctx.stage.check
    algorithm = ALGORITHMS[ctx.stage.algorithm]
    if trainer_cfg is None:
        trainer_cfg = make_trainer_config(algorithm.load().config_class(), ctx.stage, ctx.dir / "trainer", ctx.seed)
    groups = algorithm.group_size or getattr(trainer_cfg, "num_generations", None)
    k = k or spec.k or groups or DEFAULT_K
    temperature = getattr(trainer_cfg, "temperature", None) or 1.0
    limit = getattr(trainer_cfg, "max_completion_length", None) or getattr(trainer_cfg, "max_new_tokens", None)
    return k, temperature, limit or ctx.stage.eval.max_new_tokens


def check_stage(ctx, model, tokenizer, train, rewards, trainer_cfg=None, prompts: int | None = None,
                k: int | None = None, model_name: str = "the stage's starting model") -> CheckReport:
    """The check on the first `prompts` (default `check.prompts`) training rows of a stage."""
    k, temperature, max_new_tokens = stage_settings(ctx, trainer_cfg, k)
    rows = train.select(range(min(prompts or ctx.stage.check.prompts, len(train))))
    return run_check(model, tokenizer, rows, rewards, ctx.verifier(), k, temperature, max_new_tokens,
                     ctx.stage.eval.batch_size, ctx.seed, StageEval(ctx).format_fn,
                     ctx.stage.check.max_zero_variance, ctx.name, model_name)  # fmt: skip


def at_stage_start(ctx, model, tokenizer, train, rewards, trainer_cfg) -> None:
    """With `check.enabled` (or `require_signal`): run the check before training, write `<stage>/check.json`,
    warn; with `require_signal`, stop (ConfigError) when the stage cannot learn. Not when resuming."""
    spec = ctx.stage.check
    if not (spec.enabled or spec.require_signal) or getattr(ctx, "checkpoint", None) is not None:
        return
    if torch.cuda.is_available() and not getattr(trainer_cfg, "use_cpu", False):
        model.to("cuda")  # the trainer puts it there anyway
    report = check_stage(ctx, model, tokenizer, train, rewards, trainer_cfg)
    write_json(ctx.dir / "check.json", report.to_dict())
    for line in report.render().splitlines():
        ctx.echo(f"  [{ctx.name}] {line.strip()}")
    for text in report.problems + report.warnings:
        ctx.echo(f"  [{ctx.name}] WARNING: {text}")
    if spec.require_signal and not report.ok:
        raise ConfigError(join(ctx.key, "check.require_signal"),
                          f"the starting model cannot learn here: {'; '.join(report.problems)}. Start from a "
                          "stronger model (a longer SFT warm-up), use a denser reward, or set require_signal: false")

