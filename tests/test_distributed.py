"""Data parallelism on the CPU (docs/scaling.md): real 2-process launches of a GRPO and a DPO stage with torchrun
and accelerate launch, the launches rlft refuses, and the shipped accelerate config files."""

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import GRPO, ROOT, TINY, smoke_recipe

import rlft
from rlft.core import distributed as dist
from rlft.core.schema import ConfigError
from rlft.stages.distributed import check_launch

BIN = Path(sys.executable).parent
DRIVER = ROOT / "tests" / "fixtures" / "dist_dump.py"  # rlft.cli plus a per-rank dump of the trained parameters
CONFIGS = sorted((ROOT / "recipes" / "accelerate").glob("*.yaml"))
ACCELERATE = ["launch", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
LAUNCH_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT", "MASTER_ADDR", "TORCHELASTIC_RUN_ID",
               "ACCELERATE_MIXED_PRECISION", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED", "PMI_SIZE")  # fmt: skip


def recipe_file(tmp_path: Path, **overrides) -> Path:
    """GRPO from a tiny model (random reward: every group has a signal), then DPO from it; 2 steps each."""
    grpo = copy.deepcopy(GRPO)
    grpo.update(model=TINY, rewards=["random_reward"])
    grpo["trainer"]["learning_rate"] = 1e-3
    dpo = {"algorithm": "dpo", "model": {"from_stage": "grpo"},
           "trainer": {"max_steps": 2, "per_device_train_batch_size": 8, "logging_steps": 1, "learning_rate": 1e-3}}
    recipe = {**smoke_recipe(grpo=grpo, dpo=dpo), "output_dir": str(tmp_path / "runs"), **overrides}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def launch(tool: str, args: list, tmp_path: Path, procs: str = "--multi_gpu") -> subprocess.CompletedProcess:
    port = free_port()
    if tool == "torchrun":
        cmd = [BIN / "torchrun", "--nproc_per_node", "2", "--master_port", port, *args]
    else:
        cmd = [BIN / "accelerate", *ACCELERATE, procs, "--num_processes", "2", "--main_process_port", port, *args]
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(OMP_NUM_THREADS="1", RLFT_TEST_DUMP=str(tmp_path))
    return subprocess.run([str(c) for c in cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["torchrun", "accelerate"])
def test_two_processes_train_one_synchronised_model(tool, tmp_path):
    proc = launch(tool, [DRIVER, "run", recipe_file(tmp_path)], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert proc.stdout.count("rlft: world size 2 (") == 1, out[-4000:]  # printed once, by rank 0
    assert "backend gloo, cpu" in proc.stdout
    (run,) = (tmp_path / "runs" / "smoke").iterdir()  # rank 0 named the folder; no rank made its own
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["stage"] == "grpo" and "reward" in r] == [1, 2]  # written once
    for stage, start in (("grpo", run / "grpo" / "init"), ("dpo", run / "grpo" / "model")):
        ranks = [torch.load(tmp_path / f"{stage}-rank{r}.pt") for r in (0, 1)]
        for record in ranks:
            assert record["world_size"] == 2 and record["wrapped"] == "DistributedDataParallel"
        first, second = (r["params"] for r in ranks)
        assert first.keys() == second.keys()
        assert all(torch.equal(first[k], second[k]) for k in first), f"{stage}: ranks differ after training"
        before, saved = weights(start), weights(run / stage / "model")
        assert any(not torch.equal(first[k], before[k]) for k in before), f"{stage}: nothing was trained"
        assert all(torch.equal(first[k], saved[k]) for k in saved)  # rank 0 saved the synchronised model


@pytest.mark.slow
def test_use_cpu_false_is_refused_under_torchrun(tmp_path):
    """With use_cpu: false on a CPU, TRL would run two unsynchronised trainings: refused before any stage."""
    proc = launch("torchrun", ["-m", "rlft.cli", "run", recipe_file(tmp_path), "stages.grpo.trainer.use_cpu=false"],
                  tmp_path)  # fmt: skip
    assert proc.returncode != 0
    assert "stages.grpo.trainer.use_cpu: is false on a machine without CUDA" in proc.stderr, proc.stderr[-3000:]
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_accelerate_launch_cpu_starting_one_process_is_refused(tmp_path):
    """`accelerate launch --cpu --num_processes 2` starts one process; rlft says so instead of training alone."""
    proc = launch("accelerate", ["-m", "rlft.cli", "run", recipe_file(tmp_path)], tmp_path, procs="--cpu")
    assert proc.returncode != 0
    assert proc.stderr.count("accelerate launch started a single process") == 1, proc.stderr[-3000:]
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- the checks, without launching


@pytest.fixture
def launched(monkeypatch):
    """Set launcher variables in this process (nothing joins a process group here)."""
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    return lambda **env: [monkeypatch.setenv(k, v) for k, v in env.items()]


def test_launch_detection(launched):
    assert dist.expected_world_size() == 1 and dist.launcher() is None
    dist.check_launch()
    launched(WORLD_SIZE="4", RANK="0", LOCAL_RANK="0", MASTER_PORT="29500", TORCHELASTIC_RUN_ID="x")
    assert dist.expected_world_size() == 4 and dist.launcher() == "torchrun"
    dist.check_launch()


def test_accelerate_simple_launcher_signature_is_refused(launched):
    launched(ACCELERATE_MIXED_PRECISION="no")
    dist.check_launch()  # `accelerate launch` with one process: fine
    launched(MASTER_ADDR="127.0.0.1", MASTER_PORT="29500")  # what it adds for --num_processes 2 without --multi_gpu
    with pytest.raises(ConfigError, match="started a single process"):
        dist.check_launch()


def test_ppo_and_use_cpu_false_are_refused_under_several_processes(launched):
    ppo = rlft.load_recipe(smoke_recipe(ppo={"algorithm": "ppo", "model": TINY, "rewards": ["numeric_match"]}))
    grpo = smoke_recipe(grpo={**copy.deepcopy(GRPO), "model": TINY})
    grpo = rlft.load_recipe(grpo, ["stages.grpo.trainer.use_cpu=false"])
    check_launch(ppo)
    check_launch(grpo)
    launched(WORLD_SIZE="2")
    with pytest.raises(ConfigError, match="stages.ppo.algorithm: rlft's ppo trains on one device"):
        check_launch(ppo)
    with pytest.raises(ConfigError, match="stages.grpo.trainer.use_cpu: is false"):
        check_launch(grpo)


def test_rank_zero_generation_is_refused_with_sharded_weights(launched):
    recipe = rlft.load_recipe(smoke_recipe(grpo={**copy.deepcopy(GRPO), "model": TINY, "eval": {"every": 1}}))
    launched(WORLD_SIZE="2", ACCELERATE_USE_FSDP="true")
    with pytest.raises(ConfigError, match="stages.grpo.eval.every: .* FSDP splits"):
        check_launch(recipe)


def test_trainer_without_the_launched_world_is_refused(launched):
    class Args:
        world_size = 1

    dist.check_trainer(Args(), "stages.grpo")
    launched(WORLD_SIZE="2")
    with pytest.raises(ConfigError, match="2 processes were launched but the Args trains with world size 1"):
        dist.check_trainer(Args(), "stages.grpo")


def test_use_vllm_without_cuda_or_vllm_stops_before_training(tmp_path):
    recipe = smoke_recipe(grpo={**copy.deepcopy(GRPO), "model": TINY})
    recipe["stages"]["grpo"]["trainer"] = {**GRPO["trainer"], "use_vllm": True, "vllm_mode": "server"}
    loaded = rlft.load_recipe(recipe)  # a GPU recipe validates anywhere
    with pytest.raises(ConfigError, match="stages.grpo.trainer.use_vllm: vLLM generation needs a CUDA GPU"):
        rlft.run(loaded, run_dir=tmp_path / "run", echo=lambda s: None)
    assert not (tmp_path / "run").exists()


def test_one_process_helpers_are_plain_calls():
    assert dist.world_size() == 1 and dist.is_main()
    assert dist.broadcast(3) == 3 and dist.on_main(lambda x: x + 1, 1) == 2
    with pytest.raises(KeyError):
        dist.on_main({}.__getitem__, "missing")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_accelerate_configs_are_valid(path, launched):
    """Each file loads with accelerate's own loader and launch-time validation, and gives the environment its
    launcher would (which rlft reads to recognise sharded weights)."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    config = load_config_from_file(str(path))
    parser = launch_command_parser()
    known = {a.dest for a in parser._actions}
    nested = [*config.deepspeed_config, *(k if k.startswith("fsdp") else f"fsdp_{k}" for k in config.fsdp_config)]
    assert [k for k in nested if k not in known] == []
    args, defaults, _ = _validate_launch_command(parser.parse_args(["--config_file", str(path), "-m", "rlft.cli"]))
    env = {}
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        env = prepare_deepspeed_cmd_env(args)[1]
    elif args.multi_gpu or args.use_fsdp:
        env = prepare_multi_gpu_env(args)
    launched(**{k: v for k, v in env.items() if k.startswith(("ACCELERATE_USE", "ACCELERATE_DEEPSPEED_ZERO"))})
    expected = {"fsdp.yaml": "FSDP", "deepspeed_zero3.yaml": "DeepSpeed ZeRO-3"}.get(path.name)
    assert dist.sharded() == expected
    assert args.mixed_precision == "bf16" and (args.num_processes == 1) == (path.name == "single_gpu.yaml")
