"""`expect:` blocks and `rlft verify`: claims judged on the IQM over seeds and its bootstrap interval."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import rlft
from rlft.analysis.verify import check_claims, failed, judge, render
from rlft.core.expect import ExpectSpec
from rlft.core.schema import ConfigError
from rlft.runner.sweeps import Run


def runs(finals, starts) -> list[Run]:
    """Runs whose summaries hold an SFT evaluation and a final evaluation."""
    return [Run(Path(f"s{i}"), "v", i, {"stages": {"eval_sft": {"eval": {"accuracy": s}},
                                                   "eval_grpo": {"eval": {"accuracy": f}}}})
            for i, (f, s) in enumerate(zip(finals, starts, strict=True))]  # fmt: skip


@pytest.mark.parametrize("kind, bound, low, high, verdict", [
    ("floor", 0.5, 0.5, 0.9, "holds"),       # the interval's low end on the floor counts
    ("floor", 0.5, 0.49, 0.9, "undecided"),
    ("floor", 0.5, 0.1, 0.49, "fails"),
    ("band", [0.4, 0.6], 0.4, 0.6, "holds"),
    ("band", [0.4, 0.6], 0.3, 0.5, "undecided"),
    ("band", [0.4, 0.6], 0.61, 0.7, "fails"),
    ("band", [0.4, 0.6], 0.1, 0.39, "fails"),
])
def test_judge(kind, bound, low, high, verdict):
    assert judge(kind, bound, low, high) == verdict


def test_claims_on_runs_that_keep_and_break_the_promise():
    expect = ExpectSpec(iqm_at_least=0.7, gain_over="eval_sft", gain_at_least=0.2, band=[0.7, 0.9])
    good = check_claims(expect, runs([0.8, 0.805, 0.74, 0.865, 0.77], [0.5, 0.58, 0.475, 0.465, 0.465]), reps=2000)
    assert [c["verdict"] for c in good] == ["holds", "holds", "holds"]
    assert good[0]["iqm"] == pytest.approx((0.77 + 0.8 + 0.805) / 3)  # 5 runs: the lowest and highest trimmed
    assert good[1]["values"] == pytest.approx([0.3, 0.225, 0.265, 0.4, 0.305])
    flat = check_claims(expect, runs([0.5, 0.58, 0.475], [0.5, 0.58, 0.475]), reps=2000)  # learned nothing
    assert [c["verdict"] for c in flat] == ["fails", "fails", "fails"]
    assert failed({"claims": flat}) and not failed({"claims": good})
    table = render([{"recipe": "q", "claims": good}])
    assert "| q | IQM of final_accuracy - eval_sft accuracy | >= 0.2 |" in table and "**holds**" in table


@pytest.mark.parametrize("block, message", [
    ({"gain_over": "nope", "gain_at_least": 0.2}, "expect.gain_over: 'nope' names no stage"),
    ({"gain_over": "sft"}, "expect.gain_at_least: gain_over and gain_at_least go together"),
    ({"seeds": [1, 1], "iqm_at_least": 0.5}, "expect.seeds: names a seed twice"),
    ({"band": [0.9, 0.1]}, r"expect.band: must be \[low, high\]"),
    ({"metric": "final_accuracy"}, "expect: states no claim"),
    ({"iqm_at_least": "high"}, "expect.iqm_at_least"),
])
def test_bad_expect_blocks_are_refused(block, message):
    with pytest.raises(ConfigError, match=message):
        rlft.load_recipe(ROOT / "recipes/quickstart.yaml", {"expect": block})


def test_shipped_expectations_say_where_they_come_from():
    """An expect: block names the command that measured it, over at least 3 seeds; the quickstart has one."""
    stated = {p.stem: rlft.load_recipe(p).expect for p in sorted((ROOT / "recipes").glob("*.yaml"))}
    assert stated["quickstart"] is not None
    for name, expect in stated.items():
        if expect is not None:
            assert expect.measured.startswith("rlft verify recipes/") and len(expect.seeds) >= 3, name


SHORT = ["stages.sft.trainer.max_steps=20", "stages.grpo.trainer.max_steps=2", "data.eval_size=40",
         "data.train_size=500"]


@pytest.mark.slow
def test_a_broken_learning_rate_fails_verification(tmp_path):
    """With `learning_rate: 0` GRPO cannot move the model: its gain over SFT is 0, below the recipe's floor."""
    cmd = [sys.executable, "-m", "rlft.cli", "verify", str(ROOT / "recipes/quickstart.yaml"),
           "stages.grpo.trainer.learning_rate=0", *SHORT, "--seeds", "0", "--run-dir", str(tmp_path / "v")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    gain = next(c for c in result["claims"] if "eval_sft" in c["claim"])
    assert gain["values"] == [0.0] and gain["verdict"] == "fails"
    assert "**fails**" in done.stdout and (tmp_path / "v" / "verify.md").read_text() in done.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)  # the finished seed is reused
    assert again.returncode == 1 and "running seeds" not in again.stdout


def test_verify_needs_an_expect_block(tmp_path):
    recipe = copy.deepcopy(rlft.load_recipe(ROOT / "recipes/quickstart.yaml").__dict__)
    assert recipe["expect"] is not None
    with pytest.raises(ConfigError, match="expect: .* has no expect: block"):
        from rlft.analysis.verify import verify

        verify(str(ROOT / "recipes/quickstart.yaml"), [0], ["expect=null"], tmp_path / "v", echo=lambda _: None)


def test_a_sweep_is_reused_after_its_expect_claims_change(tmp_path):
    """Claims are written after the measurement they come from: they train nothing, so the sweep's runs stay
    reusable; a change that trains differently is still refused."""
    from rlft.runner.sweeps import start

    recipe = yaml_recipe(tmp_path, {"iqm_at_least": 0.1})
    path = start(recipe, sweep_dir=tmp_path / "sweep", echo=lambda s: None)
    assert start(yaml_recipe(tmp_path, {"iqm_at_least": 0.7, "gain_over": "eval_sft", "gain_at_least": 0.2}),
                 sweep_dir=path, echo=lambda s: None) == path
    with pytest.raises(ConfigError, match="a different recipe or overrides"):
        start(recipe, ["stages.grpo.trainer.learning_rate=0"], sweep_dir=path, echo=lambda s: None)


def yaml_recipe(folder: Path, claims: dict) -> Path:
    """The quickstart with these `expect:` claims, as a file."""
    import yaml

    raw = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    raw["expect"] = {"seeds": [0, 1, 2], **claims}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_gain_over_an_earlier_stage_reads_the_same_metric_there():
    """Episode metrics have no held-out accuracy: the gain is the claim's metric minus the same path under the
    earlier stage (an imitation warm-up, then RL)."""
    episodes = [Run(Path(f"s{i}"), "v", i, {"wall_s": 60.0, "stages": {"sft": {"episodes": {"env/success": s}},
                                                       "grpo": {"episodes": {"env/success": f}}}})
                for i, (s, f) in enumerate([(0.2, 0.5), (0.3, 0.6), (0.25, 0.55)])]  # fmt: skip
    expect = ExpectSpec(metric="stages.grpo.episodes.env/success", gain_over="sft", gain_at_least=0.2)
    (gain,) = check_claims(expect, episodes, reps=2000)
    assert gain["values"] == pytest.approx([0.3, 0.3, 0.3]) and gain["verdict"] == "holds"
    assert gain["claim"] == "IQM of stages.grpo.episodes.env/success - sft value"
    with pytest.raises(ConfigError, match="a gain needs a stage's metric"):
        check_claims(ExpectSpec(metric="wall_s", gain_over="sft", gain_at_least=0.1), episodes)
    with pytest.raises(ConfigError, match="no 'nope' under stages"):
        check_claims(ExpectSpec(metric="stages.grpo.episodes.env/success", gain_over="nope", gain_at_least=0.1),
                     episodes)
