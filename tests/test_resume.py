"""Crash and resume: runs killed with SIGKILL at several points continue with `rlft run --resume` and end
with the metrics of an uninterrupted run; finished stages are never rewritten; a changed recipe is refused."""

import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import EVAL, GRPO, ROOT, SFT, TINY, smoke_recipe

import rlft
from rlft.cli import main
from rlft.core.config import to_dict
from rlft.runner import recovery
from rlft.stages import checkpoints

SLOW = {"name": f"{ROOT}/tests/fixtures/slow_rewards.py:slow_digit_fraction"}  # 0.1 s per call: time to kill


def chain_recipe() -> dict:
    """SFT -> GRPO -> eval, both training stages checkpointing every 4 steps."""
    sft = copy.deepcopy(SFT)
    sft["trainer"].update(max_steps=12, logging_steps=2, save_strategy="steps", save_steps=4, learning_rate=3e-3)
    sft["eval"] = {"every": 4, "max_new_tokens": 4}
    grpo = {**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}, "rewards": [SLOW, "numeric_match"]}
    grpo["trainer"].update(max_steps=12, logging_steps=2, save_strategy="steps", save_steps=4, learning_rate=1e-3)
    grpo["eval"] = {"every": 4, "max_new_tokens": 4}
    evaluation = {**EVAL, "model": {"from_stage": "grpo"}, "rewards": ["numeric_match"]}
    return smoke_recipe(sft=sft, grpo=grpo, eval=evaluation)


def ppo_recipe() -> dict:
    ppo = {"algorithm": "ppo", "model": TINY, "rewards": [SLOW], "lora": {"r": 4, "lora_alpha": 8},
           "eval": {"every": 2, "max_new_tokens": 4},
           "trainer": {"max_steps": 8, "per_device_train_batch_size": 8, "num_mini_batches": 2, "logging_steps": 1,
                       "learning_rate": 1e-2, "max_completion_length": 4, "save_strategy": "steps", "save_steps": 2}}
    return smoke_recipe(ppo=ppo)


def kill_when(args: list[str], ready, timeout: float = 120) -> None:
    """Start `rlft <args>` as a process and SIGKILL it as soon as `ready()` holds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "rlft.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the run ended before the kill point:\n{proc.communicate()[0].decode()[-3000:]}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def complete_checkpoint(stage_dir, step: int):
    return lambda: (stage_dir / "trainer" / f"checkpoint-{step}" / checkpoints.STATE_FILE).exists()


def comparable(run_dir) -> dict:
    """summary.json without wall-clock figures and with the run folder's own path left out."""
    summary = json.loads((run_dir / "summary.json").read_text().replace(str(run_dir), "<run>"))
    summary.pop("wall_s")
    for stage in summary["stages"].values():
        stage.pop("wall_s")
        stage.pop("timing", None)
    return summary


def snapshot(folder) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def write_recipe(tmp_path, recipe: dict):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.slow
def test_killed_at_several_points_resumes_to_the_uninterrupted_result(tmp_path):
    straight = rlft.run(chain_recipe(), run_dir=tmp_path / "straight", echo=lambda s: None).path
    recipe, run = write_recipe(tmp_path, chain_recipe()), tmp_path / "killed"

    # (a) during the first stage
    kill_when(["run", str(recipe), "--run-dir", str(run)], lambda: (run / "sft" / "init" / "config.json").exists())
    assert not recovery.is_complete(run / "sft")
    # (b) between stages: right after the first stage's completion marker
    kill_when(["run", "--resume", str(run)], lambda: recovery.is_complete(run / "sft"))
    assert not recovery.is_complete(run / "grpo")
    finished = snapshot(run / "sft")
    sft_records = (run / "metrics.jsonl").read_text()
    # (c) mid-stage, after a checkpoint
    kill_when(["run", "--resume", str(run)], complete_checkpoint(run / "grpo", 4))
    assert not recovery.is_complete(run / "grpo")

    lines = []
    result = rlft.resume(run, echo=lines.append)
    assert "[sft] complete: skipped" in lines and any(s.startswith("[grpo] resuming from checkpoint-") for s in lines)
    assert comparable(run) == comparable(straight) and result.summary["stages"].keys() == {"sft", "grpo", "eval"}
    assert (run / "metrics.jsonl").read_text() == (straight / "metrics.jsonl").read_text()
    assert (run / "metrics.jsonl").read_text().startswith(sft_records)
    assert snapshot(run / "sft") == finished  # nothing of the finished stage was rewritten
    assert len(json.loads((run / "env.json").read_text())["resumed"]) == 3

    # a finished run resumed again: reported complete, nothing touched
    everything = snapshot(run)
    lines = []
    rlft.resume(run, echo=lines.append)
    assert "is complete" in lines[0] and snapshot(run) == everything

    # a stage folder without its marker is not complete: it continues from its checkpoint, the next reruns
    (run / "summary.json").unlink()
    (run / "grpo" / "summary.json").unlink()
    lines = []
    rlft.resume(run, echo=lines.append)
    assert "[sft] complete: skipped" in lines and "[grpo] resuming from checkpoint-8" in lines
    assert comparable(run) == comparable(straight)
    assert (run / "metrics.jsonl").read_text() == (straight / "metrics.jsonl").read_text()
    assert snapshot(run / "sft") == finished


@pytest.mark.slow
def test_ppo_killed_after_a_checkpoint_resumes_bit_for_bit(tmp_path):
    straight = rlft.run(ppo_recipe(), run_dir=tmp_path / "straight", echo=lambda s: None).path
    recipe, run = write_recipe(tmp_path, ppo_recipe()), tmp_path / "killed"
    kill_when(["run", str(recipe), "--run-dir", str(run)], complete_checkpoint(run / "ppo", 2))
    assert not recovery.is_complete(run / "ppo")
    assert main(["run", "--resume", str(run)]) == 0
    assert comparable(run) == comparable(straight)
    assert (run / "metrics.jsonl").read_text() == (straight / "metrics.jsonl").read_text()
    assert (run / "ppo" / "adapter" / "adapter_model.safetensors").read_bytes() == (
        straight / "ppo" / "adapter" / "adapter_model.safetensors"
    ).read_bytes()


def started_run(tmp_path, recipe: dict):
    """A run folder as `rlft run` leaves it before the first stage: its resolved config.yaml."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(to_dict(rlft.load_recipe(recipe)), sort_keys=False))
    return run


def test_a_changed_recipe_is_refused_naming_the_keys(tmp_path, capsys):
    run = started_run(tmp_path, chain_recipe())
    with pytest.raises(rlft.ConfigError) as err:
        rlft.resume(run, overrides={"seed": 3, "stages.grpo.trainer.max_steps": 20})
    message = str(err.value)
    assert "seed" in message and "stages.grpo.trainer.max_steps" in message and "12 -> 20" in message
    changed = chain_recipe()
    changed["stages"]["sft"]["eval"]["every"] = 6
    assert main(["run", str(write_recipe(tmp_path, changed)), "--resume", str(run)]) == 2
    assert "stages.sft.eval.every" in capsys.readouterr().err
    assert main(["run", "--resume", str(run), "stages.sft.lora={r: 4}"]) == 2
    assert "stages.sft.lora" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path)]) == 2  # not a run folder
    assert "no config.yaml" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]  # nothing ran


def test_checkpoints_must_fall_on_logging_steps():
    recipe = chain_recipe()
    recipe["stages"]["sft"]["trainer"]["save_steps"] = 3
    with pytest.raises(rlft.ConfigError, match=r"stages\.sft\.trainer\.save_steps: must be a multiple of"):
        rlft.load_recipe(recipe)


def test_only_complete_resumable_checkpoints_are_used(tmp_path):
    trainer = tmp_path / "stage" / "trainer"
    # 8 has no state, 12 is not resumable, 14's state was edited (no metrics_bytes), 16 is a partial save
    for step, state in [(4, {"resumable": True, "metrics_bytes": 0, "last": {}}), (8, None),
                        (12, {"resumable": False, "metrics_bytes": 0, "last": {}}),
                        (14, {"resumable": True, "last": {}})]:  # fmt: skip
        (trainer / f"checkpoint-{step}").mkdir(parents=True)
        if state is not None:
            checkpoints.save_state(trainer / f"checkpoint-{step}", step, state)
    (trainer / "checkpoint-16.tmp").mkdir()
    (tmp_path / "stage" / "model").mkdir()  # a half-saved model
    found, state = checkpoints.newest_checkpoint(trainer)
    assert found.name == "checkpoint-4" and state["step"] == 4
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"stage": "a", "step": 1}\n')
    checkpoint, _ = recovery.prepare(tmp_path, "stage", metrics, ["a"], True, echo=lambda s: None)
    assert checkpoint == found and [p.name for p in (tmp_path / "stage").iterdir()] == ["trainer"]
    assert sorted(p.name for p in trainer.iterdir()) == ["checkpoint-4"]
    assert metrics.read_text() == ""  # cut back to its length at the checkpoint


def test_an_interrupted_stage_without_checkpoint_restarts_cleanly(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    kept = '{"stage": "a", "step": 1}\n{"stage": "a", "step": 2}\n'
    metrics.write_text(kept + '{"stage": "b", "step": 1}\n{"stage": "b", "st')  # torn last line
    (tmp_path / "b" / "trainer").mkdir(parents=True)
    assert recovery.prepare(tmp_path, "b", metrics, ["a"], True, echo=lambda s: None) == (None, None)
    assert not (tmp_path / "b").exists() and metrics.read_text() == kept
