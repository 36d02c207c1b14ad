"""Trackers (`trainer.report_to`, `rlft run --report-to`): TensorBoard event files and trackio's local database
hold the trainer's logs and rlft's held-out evaluations under the names of metrics.jsonl (`<split>/<key>`), for
TRL's stages and rlft's PPO alike; a tracker that is not installed is refused before training."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, SFT, smoke_recipe

import rlft
from rlft.cli import main
from rlft.core.schema import ConfigError
from rlft.runner.recipe import load_recipe, report_to_overrides

TRACKED_SFT = {**copy.deepcopy(SFT), "eval": {"every": 2, "max_new_tokens": 2, "size": 4}}
TRACKED_SFT["trainer"].update(max_steps=4, logging_steps=2)
PPO = {"algorithm": "ppo", "model": {"from_stage": "sft"}, "rewards": ["numeric_match"],
       "trainer": {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1, "max_completion_length": 2},
       "eval": {"every": 1, "max_new_tokens": 2, "size": 4}}
EVAL = {"algorithm": "eval", "model": {"from_stage": "ppo"}, "eval": {"max_new_tokens": 2, "size": 4}}


def tracked(report_to=None) -> dict:
    """sft (evaluated every 2 steps) -> rlft's PPO (every step) -> eval, each training stage reporting to
    `report_to` when given."""
    sft, ppo = copy.deepcopy(TRACKED_SFT), copy.deepcopy(PPO)
    if report_to:
        sft["trainer"]["report_to"] = ppo["trainer"]["report_to"] = report_to
    return smoke_recipe(sft=sft, ppo=ppo, eval=copy.deepcopy(EVAL))


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the one TensorBoard run under `folder`, read back by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run,) = [p for p in folder.iterdir() if p.is_dir()]
    assert list(run.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(run))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def series(records: list[dict], stage: str, split: str, key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in records if r["stage"] == stage and r["split"] == split and key in r]


def same(logged: list[tuple[int, float]], recorded: list[tuple[int, float]]) -> bool:
    """The same steps and, up to TensorBoard's float32, the same values."""
    return ([s for s, _ in logged] == [s for s, _ in recorded]
            and [v for _, v in logged] == pytest.approx([v for _, v in recorded], rel=1e-6))  # fmt: skip


def test_tensorboard_holds_train_loss_and_rlft_eval_metrics_for_sft_and_ppo(tmp_path):
    run = rlft.run(tracked(["tensorboard"]), run_dir=tmp_path / "run", echo=lambda _: None)
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    sft = scalars(run.path / "sft" / "trainer" / "runs")
    assert [s for s, _ in sft["train/loss"]] == [2, 4]
    assert same(sft["train/loss"], series(records, "sft", "train", "loss"))
    assert same(sft["eval/accuracy"], series(records, "sft", "eval", "accuracy")) and len(sft["eval/accuracy"]) == 2
    assert "eval/completions/clipped_ratio" in sft
    ppo = scalars(run.path / "ppo" / "trainer" / "runs")  # rlft's own loop, the same callbacks
    assert same(ppo["train/objective/kl"], series(records, "ppo", "train", "objective/kl"))
    assert [s for s, _ in ppo["eval/accuracy"]] == [1, 2]
    assert same(ppo["eval/rewards/numeric_match/mean"], series(records, "ppo", "eval", "rewards/numeric_match/mean"))
    assert not (run.path / "eval" / "trainer").exists()  # an eval stage does not train: no tracker

    plain = rlft.run(tracked(), run_dir=tmp_path / "plain", echo=lambda _: None)
    assert (plain.path / "metrics.jsonl").read_text() == (run.path / "metrics.jsonl").read_text()
    assert not (plain.path / "sft" / "trainer" / "runs").exists()


TRACKIO_RUN = """
import json, sys
from rlft.cli import main
code = main(["run", sys.argv[1], "--report-to", "trackio", "--run-dir", sys.argv[2]])
from trackio.sqlite_storage import SQLiteStorage
runs = SQLiteStorage.get_runs("tracked")
print(json.dumps({"code": code, "runs": {r: SQLiteStorage.get_logs("tracked", r) for r in runs}}))
"""


def test_trackio_stores_sft_and_ppo_logs_offline_through_the_command_line(tmp_path):
    """`rlft run --report-to trackio` in a process of its own: trackio reads its folder ($TRACKIO_DIR) once,
    when it is imported."""
    recipe = tmp_path / "tracked.yaml"
    recipe.write_text(yaml.safe_dump({**tracked(), "name": "tracked"}, sort_keys=False))
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", TRACKIO_RUN, str(recipe), str(tmp_path / "run")], env=env,
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, out.stderr[-2000:]
    assert sorted(result["runs"]) == ["run/ppo", "run/sft"]
    sft, ppo = result["runs"]["run/sft"], result["runs"]["run/ppo"]
    assert [(r["train/global_step"], r["eval/accuracy"]) for r in sft if "eval/accuracy" in r] == [(2, 0.0), (4, 0.0)]
    assert [r["train/global_step"] for r in sft if "train/loss" in r] == [2, 4]
    assert [r["train/global_step"] for r in ppo if "train/objective/kl" in r] == [1, 2]
    assert [r["train/global_step"] for r in ppo if "eval/accuracy" in r] == [1, 2]
    assert (tmp_path / "trackio" / "tracked.db").is_file()


@pytest.mark.parametrize("stage", ["sft", "ppo"])
def test_a_tracker_whose_package_is_missing_is_refused_at_validation(monkeypatch, stage):
    from transformers.integrations import integration_utils

    monkeypatch.setattr(integration_utils, "is_tensorboard_available", lambda: False)
    recipe = tracked()
    recipe["stages"][stage]["trainer"]["report_to"] = ["tensorboard"]
    with pytest.raises(ConfigError, match=rf"stages\.{stage}\.trainer\.report_to: \['tensorboard'\]: "
                       r"TensorBoardCallback requires tensorboard .* install tensorboardX; `pip install "
                       r"'rlft\[trackers\]'` installs tensorboard, trackio$"):
        load_recipe(recipe)


@pytest.mark.parametrize("report_to, words", [
    (["tensorboard", "trackio"], None),
    ("none", None),
    (["tensorbord"], "t.report_to: ['tensorbord']: tensorbord is not supported, only"),
    (5, "t.report_to: expected a tracker's name or a list of them (e.g. [tensorboard]), got 5"),
])  # fmt: skip
def test_ppo_trackers_are_built_at_validation_as_the_run_builds_them(report_to, words):
    """rlft's PPOConfig is no TrainingArguments: validation builds the arguments its trackers read, too."""
    from rlft.ppo.trainer import PPOConfig
    from rlft.stages.builds import check_reporting
    from rlft.stages.trackers import Trackers

    config = PPOConfig(output_dir="/tmp/rlft-validate", report_to=report_to, max_steps=7, learning_rate=3e-4)
    if words is None:
        check_reporting(config, "t")
        trackers = Trackers.build(config, project="p", run_name="r/ppo")
        assert (trackers is None) == (report_to == "none")
        if trackers is not None:
            args = trackers.args
            assert (args.output_dir, args.learning_rate, args.run_name, args.project) == (
                "/tmp/rlft-validate", 3e-4, "r/ppo", "p")
            assert [type(t).__name__ for t in trackers.integrations] == ["TensorBoardCallback", "TrackioCallback"]
    else:
        with pytest.raises(ConfigError) as e:
            check_reporting(config, "t")
        assert str(e.value).startswith(words)


def test_report_to_flag_sets_every_training_stage_and_is_checked_like_an_override(tmp_path, capsys):
    overrides = report_to_overrides(tracked(), [], "tensorboard,trackio")
    assert overrides == ["stages.sft.trainer.report_to=[tensorboard, trackio]",
                         "stages.ppo.trainer.report_to=[tensorboard, trackio]"]
    recipe = load_recipe(tracked(), overrides)
    assert recipe.stages["ppo"].trainer["report_to"] == ["tensorboard", "trackio"]
    assert recipe.stages["eval"].trainer == {}

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(tracked(), sort_keys=False))
    assert main(["validate", str(path), "--report-to", "tensorboard"]) == 0
    for flags, words in [(["--report-to", "tensorbord"], "stages.sft.trainer.report_to: ['tensorbord']: tensorbord "
                          "is not supported"),
                         (["--report-to", " , "], "--report-to: name at least one tracker"),
                         (["--resume", str(tmp_path), "--report-to", "tensorboard"], "--report-to: a resumed run "
                          "keeps the trackers it started with")]:  # fmt: skip
        capsys.readouterr()
        assert main(["run", str(path), *flags]) == 2
        assert words in capsys.readouterr().err
