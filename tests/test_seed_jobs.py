"""Seeds in parallel (`rlft run RECIPE --seeds ... --jobs N`): each seed in its own process with a thread budget
that adds up to the cores, run folders as a sequential sweep writes them, metrics.jsonl byte for byte that of
the seed alone with the same thread count, and one failing seed reported while the others finish."""

import json

import pytest
import yaml
from conftest import EVAL, SFT, smoke_recipe

import rlft
from rlft.cli import main
from rlft.core.schema import ConfigError
from rlft.runner import seed_jobs, sweeps


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(smoke_recipe(sft=SFT, test={**EVAL, "model": {"from_stage": "sft"}})))
    return path


def test_parallel_seeds_match_runs_alone(tmp_path, recipe, capsys):
    sweep = tmp_path / "sweep"
    assert main(["run", str(recipe), "--seeds", "0-2", "--jobs", "2", "--run-dir", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "[s0] rlft: recipe 'smoke', seed 0" in out and "[s2] rlft: finished" in out  # every seed's lines, labelled
    info = json.loads((sweep / "sweep.json").read_text())
    assert sorted(info["seeds"]) == [0, 1, 2] and info["label"] == "smoke"  # the thread budget is not a variant
    threads = seed_jobs.budget(2)
    for seed in (0, 1, 2):
        config = yaml.safe_load((sweep / f"s{seed}" / "config.yaml").read_text())
        assert config["seed"] == seed and config["num_threads"] == threads
        assert (sweep / "logs" / f"s{seed}.log").read_text().count("rlft: finished") == 1
    alone = tmp_path / "alone"
    assert main(["run", str(recipe), "seed=1", f"num_threads={threads}", "--run-dir", str(alone)]) == 0
    assert (sweep / "s1" / "metrics.jsonl").read_bytes() == (alone / "metrics.jsonl").read_bytes()
    assert sorted(r.seed for r in sweeps.find_runs(sweep)) == [0, 1, 2]  # recorded as they finished


def test_a_failing_seed_does_not_stop_the_others(tmp_path, recipe):
    path = sweeps.start(str(recipe), sweep_dir=tmp_path / "sweep", jobs=2, echo=lambda line: None)
    (path / "s1").mkdir()
    (path / "s1" / "notes.txt").write_text("not a run")  # the run of seed 1 refuses this folder
    lines = []
    with pytest.raises(ConfigError) as failure:
        sweeps.run_seeds(path, [0, 1, 2], jobs=2, echo=lines.append)
    message = str(failure.value)
    assert "seed 1 failed: error: --run-dir:" in message and "exit code 2" in message and "logs/s1.log" in message
    assert "seeds [0, 2] finished" in message
    assert sorted(json.loads((path / "sweep.json").read_text())["seeds"]) == [0, 2]
    assert (path / "s0" / "summary.json").is_file() and (path / "s2" / "summary.json").is_file()
    assert any(line.startswith("[s1] error:") for line in lines)


def test_jobs_refuses_python_rewards_and_bad_values(recipe):
    with pytest.raises(ConfigError, match="cannot be sent to other processes"):
        rlft.sweep(str(recipe), seeds="0-1", rewards=[lambda completions, **kw: [0.0] * len(completions)], jobs=2)
    with pytest.raises(ConfigError, match="--jobs: must be at least 1"):
        rlft.sweep(str(recipe), seeds="0-1", jobs=0)


def test_jobs_needs_seeds(recipe, capsys):
    assert main(["run", str(recipe), "--jobs", "2"]) == 2
    assert "--jobs: applies to a sweep" in capsys.readouterr().err
