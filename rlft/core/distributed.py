"""Data-parallel runs: `torchrun --nproc_per_node N -m rlft.cli run ...` or `accelerate launch --multi_gpu
--num_processes N -m rlft.cli run ...` (docs/scaling.md).

Every process runs the whole pipeline, because each TRL trainer needs all of them for its gradient all-reduce;
rank 0 alone decides the run folder, writes it (config, env, metrics, summaries, report, models), prints, and
runs rlft's own evaluation during training. The other ranks wait for it where they need what it wrote, and
take its decisions (the run folder, a model's path, stopping at an accuracy) by broadcast. An exception on
rank 0 in such a step is raised on every rank, so no rank waits for one that has stopped.

rlft refuses a launch that would silently train N unsynchronised copies, or one process where N were asked:
- TRL on a CPU joins the process group only with `use_cpu: true` (rlft's default there); with `use_cpu: false`
  `torchrun` runs N independent trainings and says nothing. rlft compares the launch's world size with the
  trainer's before it trains, and refuses `use_cpu: false` without CUDA at the start of the run.
- `accelerate launch --cpu --num_processes N` (or without `--multi_gpu`) starts ONE process; accelerate's
  simple launcher leaves MASTER_ADDR/MASTER_PORT set but no WORLD_SIZE, which is how rlft recognises it.
- rlft's PPO is single-device, and sweeps (`--seeds`) would race for their folders: both are refused.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch

from rlft.core.schema import ConfigError, join
from rlft.core.tracking import TIMING_KEYS, MetricsLog, clean

WORLD_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
TIMEOUT = timedelta(seconds=1800)  # transformers' default `ddp_timeout`: how long a rank waits for the others
HOW = ("launch with `torchrun --nproc_per_node N -m rlft.cli run ...` or `accelerate launch --multi_gpu "
       "--num_processes N -m rlft.cli run ...` (docs/scaling.md)")
_announced = False


# ---------------------------------------------------------------- what was launched


def expected_world_size() -> int:
    """The number of processes the launcher says it started (1 without a launcher)."""
    sizes = [int(os.environ[v]) for v in WORLD_SIZE_VARS if os.environ.get(v, "").isdigit()]
    return max(sizes, default=1)


def launcher() -> str | None:
    """Which launcher started this process, from the variables it sets; None for a plain `rlft run`."""
    env = os.environ
    if "ACCELERATE_MIXED_PRECISION" in env:  # set by every `accelerate launch`
        return "accelerate launch"
    if "TORCHELASTIC_RUN_ID" in env:
        return "torchrun"
    if any(v in env for v in WORLD_SIZE_VARS[1:]):
        return "mpirun"
    return "WORLD_SIZE" if "WORLD_SIZE" in env else None


def sharded() -> str | None:
    """The sharding strategy `accelerate launch` set up (parameters split across ranks), if any."""
    env = os.environ
    if env.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "FSDP"
    if env.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3":
        return "DeepSpeed ZeRO-3"
    return None


def check_launch() -> None:
    """Refuse `accelerate launch --cpu --num_processes N`: it starts one process (see the module docstring)."""
    env = os.environ
    one_of_many = "MASTER_PORT" in env and not any(v in env for v in (*WORLD_SIZE_VARS, "RANK", "LOCAL_RANK"))
    if launcher() == "accelerate launch" and one_of_many:
        raise ConfigError("", "accelerate launch started a single process although more were asked for: its "
                          "simple launcher (used with --cpu, or without --multi_gpu) starts only one. For data "
                          f"parallelism {HOW}; for one process, leave out --num_processes (or unset MASTER_PORT)")




def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_trainer(args, key: str) -> None:
    """Before training: the TRL config must train with every launched process, or each would train alone."""
    n = expected_world_size()
    if n > 1 and getattr(args, "world_size", n) != n:
        raise ConfigError(join(key, "trainer"), f"{n} processes were launched but the {type(args).__name__} "
                          f"trains with world size {args.world_size}: each process would train its own copy "
                          "without syncing gradients. On a CPU keep use_cpu: true (rlft's default); check "
                          "ddp_backend and the launcher (docs/scaling.md)")  # fmt: skip


# ---------------------------------------------------------------- the process group


def setup(echo: Callable[[str], None] = print) -> None:
    """At the start of a run: refuse launches that would not be data-parallel, join the process group, and
    print (rank 0, once) the world size the run really has."""
    global _announced
    check_launch()
    n = expected_world_size()
    if n > 1 and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available(), timeout=TIMEOUT)  # gloo on CPUs, nccl on GPUs
    if n > 1 and world_size() != n:
        raise ConfigError("", f"{launcher()} announced {n} processes but torch.distributed runs with "
                          f"{world_size()}: the processes would train independent copies; {HOW}")
    if (n > 1 or launcher()) and is_main() and not _announced:
        _announced = True
        backend = torch.distributed.get_backend() if world_size() > 1 else "none"
        backend = torch.distributed.get_backend_config() if backend == "undefined" else backend  # e.g. cpu:gloo
        device = "cuda" if torch.cuda.is_available() else "cpu"
        sharding = f", {sharded()}" if sharded() else ""
        echo(f"rlft: world size {world_size()} ({launcher()}, backend {backend}, {device}{sharding})")


def world_size() -> int:
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    return torch.distributed.get_world_size() if initialised else 1


def rank() -> int:
    return torch.distributed.get_rank() if world_size() > 1 else 0


def is_main() -> bool:
    return rank() == 0


def describe() -> dict:
    """For env.json: how many processes trained, and how they were launched."""
    return {"world_size": world_size(), "launcher": launcher(), "sharded": sharded()}


def barrier() -> None:
    if world_size() > 1:
        torch.distributed.barrier()


def broadcast(value):
    """Rank 0's value on every rank (picklable values; a no-op in one process)."""
    if world_size() == 1:
        return value
    box = [value if is_main() else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def on_main(fn: Callable, *args, **kwargs):
    """`fn` on rank 0 only; every rank gets its result once it is done. If it raises, every rank raises."""
    if world_size() == 1:
        return fn(*args, **kwargs)
    value = error = None
    if is_main():
        try:
            value = fn(*args, **kwargs)
        except BaseException as e:  # re-raised below, once the other ranks have heard of it
            error = e
    sent = None if error is None else (isinstance(error, ConfigError), f"{type(error).__name__}: {error}")
    value, failed = broadcast((value, sent))
    if error is not None:
        raise error
    if failed is not None:
        config, text = failed
        if config:
            raise ConfigError("", text.split(": ", 1)[1])
        raise RuntimeError(f"rank 0 failed in {getattr(fn, '__name__', fn)}: {text}")
    return value


def main_echo(echo: Callable[[str], None]) -> Callable[[str], None]:
    """Progress lines from rank 0 only."""
    return echo if is_main() else (lambda line: None)


class RankMetricsLog(MetricsLog):
    """metrics.jsonl as seen by ranks other than 0: records are built as usual and not written."""

    def __init__(self, path: Path):
        self.path = path

    def log(self, stage: str, step: int, split: str, metrics: dict) -> dict:
        record = {"stage": stage, "step": step, "split": split}
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not any(t in key for t in TIMING_KEYS):
                record[key] = clean(value)
        return record


def metrics_log(path: Path) -> MetricsLog:
    return MetricsLog(path) if is_main() else RankMetricsLog(path)
