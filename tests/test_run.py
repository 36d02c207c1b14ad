"""End to end: stages on a few steps, the run folder, the Python API, determinism, LoRA hand-off."""

import copy
import json

import pytest
from conftest import EVAL, GRPO, ROOT, SFT, smoke_recipe

import rlft
from rlft.cli import main


def pipeline(overrides=None):
    recipe = smoke_recipe(
        sft=copy.deepcopy(SFT),
        eval_sft={**EVAL, "model": {"from_stage": "sft"}},
        grpo={**copy.deepcopy(GRPO), "model": {"from_stage": "sft"}},
        eval_grpo={**EVAL, "model": {"from_stage": "grpo"}, "rewards": ["numeric_match"]},
    )
    return rlft.load_recipe(recipe, overrides)


def test_pipeline_leaves_a_complete_run_folder(tmp_path):
    result = rlft.run(pipeline(), run_dir=tmp_path / "run", echo=lambda s: None)
    run = result.path
    for name in ("config.yaml", "env.json", "metrics.jsonl", "summary.json", "report.md", "plots/sft.png",
                 "plots/grpo.png", "plots/overview.png", "sft/model/config.json", "grpo/model/model.safetensors",
                 "sft/init/config.json", "grpo/output.json", "eval_grpo/summary.json"):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary == result.summary
    assert {"recipe", "seed", "wall_s", "stages"} <= summary.keys()
    assert list(summary["stages"]) == ["sft", "eval_sft", "grpo", "eval_grpo"]
    for name in ("eval_sft", "eval_grpo"):
        ev = summary["stages"][name]["eval"]
        assert 0.0 <= ev["accuracy"] <= 1.0 and ev["num_samples"] == 16
    assert "rewards/numeric_match/mean" in summary["stages"]["eval_grpo"]["eval"]
    assert summary["stages"]["grpo"]["train"]["global_step"] == 2
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 0 and env["packages"]["trl"].startswith("1.16")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all({"stage", "step", "split"} <= r.keys() for r in records)
    grpo_train = [r for r in records if r["stage"] == "grpo" and r["split"] == "train" and "reward" in r]
    assert len(grpo_train) == 2 and "rewards/numeric_match/mean" in grpo_train[0]
    assert not any("runtime" in k for r in records for k in r)


def test_same_seed_same_metrics_other_seed_differs(tmp_path):
    def metrics(seed, name):
        rlft.run(pipeline({"seed": seed}), run_dir=tmp_path / name, echo=lambda s: None)
        return (tmp_path / name / "metrics.jsonl").read_text()

    first, second, other = metrics(0, "a"), metrics(0, "b"), metrics(1, "c")
    assert first == second
    assert first != other


def test_lora_stages_hand_adapters_on(tmp_path):
    recipe = pipeline({"stages.sft.lora": {"r": 4, "lora_alpha": 8}, "stages.grpo.lora": {"r": 4}})
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    out = json.loads((result.path / "grpo" / "output.json").read_text())
    assert out["base"].endswith("sft/init") and len(out["adapters"]) == 2
    assert (result.path / "grpo" / "adapter" / "adapter_model.safetensors").exists()
    assert result.summary["stages"]["eval_grpo"]["eval"]["num_samples"] == 16


def test_continue_training_an_adapter(tmp_path):
    recipe = pipeline({"stages.sft.lora": {"r": 4}, "stages.grpo.model.merge_adapter": False})
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    out = json.loads((result.path / "grpo" / "output.json").read_text())
    assert out["adapters"] == [str(result.path / "grpo" / "adapter")]


def test_python_rewards_are_added_to_stages(tmp_path):
    calls = []

    def my_reward(completions, answer, **kwargs):
        calls.append(len(completions))
        return [0.5] * len(completions)

    result = rlft.run(pipeline(), run_dir=tmp_path / "run", rewards=[my_reward], echo=lambda s: None)
    assert calls
    assert result.summary["stages"]["eval_grpo"]["eval"]["rewards/my_reward/mean"] == 0.5
    assert result.summary["stages"]["grpo"]["train"]["rewards/my_reward/mean"] == 0.5


def test_sft_stops_at_accuracy_and_logs_eval(tmp_path):
    recipe = smoke_recipe(sft={**SFT, "eval": {"every": 1, "max_new_tokens": 4, "stop_at_accuracy": 0.0001}})
    recipe["stages"]["sft"]["trainer"] = {**SFT["trainer"], "max_steps": 200, "learning_rate": 3e-3}
    result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    sft = result.summary["stages"]["sft"]
    assert sft["train"]["global_step"] < 200
    assert sft["stopped_at_accuracy_step"] == sft["train"]["global_step"]
    assert sft["eval"]["accuracy"] >= 0.0001


def test_cli_run_prints_run_folder(tmp_path, capsys, monkeypatch):
    import yaml

    path = tmp_path / "r.yaml"
    recipe = smoke_recipe(sft=copy.deepcopy(SFT), eval={**EVAL, "model": {"from_stage": "sft"}})
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "stages.sft.trainer.max_steps=1"]) == 0
    out = capsys.readouterr().out
    assert "run folder: runs/smoke/" in out
    run_dirs = list((tmp_path / "runs" / "smoke").iterdir())
    assert len(run_dirs) == 1 and run_dirs[0].name.endswith("-s0")
    assert yaml.safe_load((run_dirs[0] / "config.yaml").read_text())["stages"]["sft"]["trainer"]["max_steps"] == 1


def test_cli_list(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("recipes/quickstart.yaml", "arithmetic", "numeric_match", "grpo"):
        assert word in out


def test_model_that_cannot_be_loaded_is_a_clear_error(tmp_path):
    (tmp_path / "empty_model").mkdir()
    recipe = smoke_recipe(e={**EVAL, "model": {"path": str(tmp_path / "empty_model")}})
    with pytest.raises(rlft.ConfigError, match="stages.e.model: cannot load"):
        rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)


def test_cli_overrides_may_follow_options(tmp_path):
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(smoke_recipe(e={**EVAL, "model": {"tiny": {"hidden_size": 16, "num_layers": 1,
                                                                              "num_heads": 2, "num_kv_heads": 1}}}),
                                   sort_keys=False))
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run"), "seed=3", "data.eval_size=4"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["stages"]["e"]["eval"]["num_samples"] == 4
    with pytest.raises(SystemExit):
        main(["run", str(path), "--run-dir", str(tmp_path / "run2"), "--bogus"])
