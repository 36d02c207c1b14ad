"""`eval.stop_keep`: when stop_at_accuracy stops a stage, keep the model that reached the target, the last one
evaluated below it, or the closer of the two; the saved weights are the kept ones."""

import pytest
from conftest import SFT, smoke_recipe
from safetensors.torch import load_file

import rlft
from rlft.core.schema import ConfigError
from rlft.rewards import REWARDS, register

CALLS = {"n": 0}


def scripted_verifier(completions, **kwargs):
    """Accuracy 0 at the first two evaluations (steps 0 and 1), then 1: the target is reached at step 2."""
    CALLS["n"] += 1
    return [1.0 if CALLS["n"] >= 3 else 0.0] * len(completions)


@pytest.fixture
def scripted():
    CALLS["n"] = 0
    register(scripted_verifier)
    yield
    REWARDS.pop("scripted_verifier")


def sft_recipe(max_steps: int, **eval_block) -> dict:
    trainer = {**SFT["trainer"], "max_steps": max_steps, "lr_scheduler_type": "constant", "learning_rate": 1e-2}
    evaluation = {"every": 1, "at_start": True, "max_new_tokens": 2, "verifier": "scripted_verifier", **eval_block}
    return smoke_recipe(sft={**SFT, "trainer": trainer, "eval": evaluation})


def weights(run) -> dict:
    return load_file(run.path / "sft" / "model" / "model.safetensors")


@pytest.mark.parametrize("rule, kept_step", [("reached", 2), ("below", 1), ("closest", 1)])
def test_stop_keep_saves_the_chosen_model(tmp_path, scripted, rule, kept_step):
    run = rlft.run(sft_recipe(5, stop_at_accuracy=0.3, stop_keep=rule), run_dir=tmp_path / rule, echo=lambda _: None)
    sft = run.summary["stages"]["sft"]
    assert sft["stopped_at_accuracy_step"] == 2 and sft["train"]["global_step"] == 2
    assert sft["eval"]["step"] == kept_step and sft["eval"]["accuracy"] == (1.0 if kept_step == 2 else 0.0)
    assert sft["eval"]["verifier"] == "scripted_verifier"
    if rule != "reached":
        assert sft["stop_kept"] == {"rule": rule, "step": 1, "accuracy": 0.0}
        assert "Kept the step-1 model" in (run.path / "report.md").read_text()
    CALLS["n"] = -100  # the reference run never reaches the target
    reference = rlft.run(sft_recipe(kept_step), run_dir=tmp_path / f"ref-{rule}", echo=lambda _: None)
    saved, expected = weights(run), weights(reference)
    assert saved.keys() == expected.keys()
    assert all((saved[k] == expected[k]).all() for k in saved)  # bit for bit the model of that step


def test_stop_keep_needs_a_target():
    with pytest.raises(ConfigError, match="stages.sft.eval.stop_keep: needs stop_at_accuracy"):
        rlft.load_recipe(sft_recipe(5, stop_keep="below"))
    with pytest.raises(ConfigError, match="stop_keep"):
        rlft.load_recipe(sft_recipe(5, stop_at_accuracy=0.3, stop_keep="nearest"))
