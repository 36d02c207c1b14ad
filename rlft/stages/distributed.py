"""What a stage does differently when a launch runs several processes (rlft.core.distributed has the process
group): the checks a recipe must pass before such a launch trains, and saving a model trained by all ranks."""

from __future__ import annotations

from pathlib import Path

import torch

from rlft.core import distributed as dist
from rlft.core.schema import ConfigError, join
from rlft.models import ModelRef, save_stage_model
from rlft.stages import ALGORITHMS


def check_launch(recipe) -> None:
    """What cannot run in this launch, found before any stage starts: vLLM without CUDA or vllm; under several
    processes rlft's PPO, `use_cpu: false` without CUDA, and rank-0-only generation with sharded weights."""
    cuda = torch.cuda.is_available()
    n, shards = dist.expected_world_size(), dist.sharded()
    for name, stage in recipe.stages.items():
        key = f"stages.{name}"
        if stage.trainer.get("use_vllm"):
            have = (("a CUDA GPU", cuda), ("the vllm package", dist.vllm_installed()))
            missing = [what for what, ok in have if not ok]
            if missing:
                raise ConfigError(join(key, "trainer.use_vllm"), f"vLLM generation needs {' and '.join(missing)}, "
                                  "which this machine lacks; remove use_vllm to generate with transformers "
                                  "(docs/scaling.md)")  # fmt: skip
        if n == 1:
            continue
        algorithm = ALGORITHMS[stage.algorithm]
        if not algorithm.multi_process:
            others = " or ".join(a.name for a in ALGORITHMS.values() if a.rl and a.multi_process)
            raise ConfigError(join(key, "algorithm"), f"rlft's {stage.algorithm} trains on one device; it cannot "
                              f"run in a {n}-process launch. Run this recipe without torchrun/accelerate launch, "
                              f"or use {others}, which TRL runs data-parallel")  # fmt: skip
        if stage.trainer.get("use_cpu") is False and not cuda:
            raise ConfigError(join(key, "trainer.use_cpu"), f"is false on a machine without CUDA: the {n} "
                              "processes would each train their own copy without syncing gradients. Remove it "
                              "(rlft sets use_cpu: true on a CPU, which makes TRL join the process group)")
        generates = [what for what, on in (("eval.every", stage.eval.every), ("eval.at_start", stage.eval.at_start),
                                          ("check", stage.check.enabled or stage.check.require_signal))
                     if on and algorithm.trains]  # fmt: skip
        if shards and (generates or algorithm.scores_on_rank0):
            what = generates[0] if generates else "algorithm"
            raise ConfigError(join(key, what), f"runs rlft's own generation or scoring on rank 0 with the trained "
                              f"model, which {shards} splits across ranks: not supported. Evaluate in an eval "
                              "stage, or use DDP or ZeRO-2 (docs/scaling.md)")  # fmt: skip


def save_trained(trainer, tokenizer, out_dir: Path, source, is_adapter: bool):
    """Save a stage's trained model (or adapter); returns the ModelRef later stages load. In one process this is
    `rlft.models.save_stage_model`; in several, every rank calls the trainer's own `save_model` (which gathers
    ZeRO-3/FSDP shards and writes on rank 0, model and tokenizer), then waits until it is on disk."""
    if dist.world_size() == 1:
        return save_stage_model(trainer.model, tokenizer, out_dir, source, is_adapter)
    target = out_dir / ("adapter" if is_adapter else "model")
    trainer.save_model(str(target))
    dist.barrier()
    if is_adapter:
        return ModelRef(base=source.base, adapters=[*source.adapters, str(target)], tokenizer=str(target))
    return ModelRef(base=str(target), tokenizer=str(target))

