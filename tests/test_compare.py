"""`rlft run --seeds` and `rlft compare`: on fake run folders where training is not the point, and end to end
on two tiny sweeps."""

import copy
import json

import numpy as np
import pytest
import yaml
from conftest import EVAL, SFT, smoke_recipe

import rlft
from rlft.analysis import stats
from rlft.analysis.comparison import DEFAULT_METRIC, gather, metric_value
from rlft.cli import main
from rlft.runner.sweeps import parse_seeds

A = [0.0, 0.1, 0.2, 0.3, 0.4, 1.0]   # IQM 0.25 (drops 0 and 1.0), mean 1/3, median 0.25
B = [0.5, 0.6, 0.7, 0.8, 0.9, 0.9]


def fake_run(path, seed, accuracy, recipe="fake", curve=(0.0, 0.0)):
    """A run folder with what compare reads: summary.json and metrics.jsonl."""
    path.mkdir(parents=True)
    summary = {"recipe": recipe, "seed": seed, "wall_s": 1.0, "stages": {
        "sft": {"algorithm": "sft", "train": {"train_loss": 1.0 - accuracy}, "eval": {"accuracy": curve[-1]}},
        "test": {"algorithm": "eval", "eval": {"accuracy": accuracy, "num_samples": 16}}}}
    (path / "summary.json").write_text(json.dumps(summary))
    records = [{"stage": "sft", "step": 10 * (i + 1), "split": "eval", "accuracy": a} for i, a in enumerate(curve)]
    records.append({"stage": "test", "step": 0, "split": "eval", "accuracy": accuracy})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def fake_sweep(path, label, scores):
    for seed, acc in enumerate(scores):
        fake_run(path / f"s{seed}", seed, acc, curve=(acc / 2, acc))
    (path / "recipe.yaml").write_text("name: fake\n")
    (path / "sweep.json").write_text(json.dumps({"recipe": "fake", "label": label, "overrides": {},
                                                 "seeds": list(range(len(scores))), "planned": []}))
    return path


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("0,2,5") == [0, 2, 5]
    assert parse_seeds("0-1,7") == [0, 1, 7] and parse_seeds(" 3 ") == [3]
    for bad, why in [("4-1", "counts down"), ("a", "not a list"), ("", "not a list"), ("0-2,2", "twice"),
                     ("-1", "not a list"), ("1-", "not a list")]:
        with pytest.raises(rlft.ConfigError, match=why):
            parse_seeds(bad)


def test_compare_numbers_agree_with_the_definitions(tmp_path):
    a, b = fake_sweep(tmp_path / "a", "base", A), fake_sweep(tmp_path / "b", "tuned", B)
    result = rlft.compare([a, b], out=tmp_path / "out", reps=2000, echo=lambda s: None)
    on_disk = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    res = result["results"][DEFAULT_METRIC]
    base = res["variants"]["base"]
    assert base["n"] == 6 and base["scores"] == A
    assert base["iqm"] == pytest.approx(0.25) and base["mean"] == pytest.approx(1 / 3)
    assert base["median"] == pytest.approx(0.25)
    assert (base["ci_low"], base["ci_high"]) == tuple(base["ci"]["iqm"])
    assert base["ci"]["iqm"] == list(stats.interval(A, stats.iqm, 2000, 0.95, base_seed(result, "base", "iqm")))
    assert base["ci_low"] <= base["iqm"] <= base["ci_high"]
    (pair,) = res["pairs"]
    # B's runs beat A's except A's 1.0: 5 of A's 6 runs lose to all 6 of B's, A's 1.0 beats all of B
    assert (pair["x"], pair["y"]) == ("base", "tuned") and pair["prob_improvement"] == pytest.approx(6 / 36)
    assert 0.0 <= pair["ci_low"] <= pair["prob_improvement"] <= pair["ci_high"] <= 1.0
    prof = res["profile"]
    assert prof["variants"]["base"]["fraction"][0] == 1.0 and prof["variants"]["tuned"]["fraction"][-1] == 0.0
    (curve,) = result["curves"]   # the sft eval curve; the eval stage's single point is no curve
    assert curve["stage"] == "sft" and curve["variants"]["base"]["step"] == [10, 20]
    assert curve["variants"]["base"]["mean"][1] == pytest.approx(np.mean(A))
    for name in ("compare.md", "plots/estimates.png", "plots/improvement.png", "plots/profile.png",
                 "plots/curves.png"):
        assert (tmp_path / "out" / name).exists(), name
    md = (tmp_path / "out" / "compare.md").read_text()
    assert "| base | 6 | 0.333 [" in md and "| base | tuned | 0.167 [" in md


def base_seed(result, label, stat):
    from rlft.analysis.comparison import _seed

    return _seed(result["seed"], DEFAULT_METRIC, label, stat)


def test_compare_is_seeded_and_independent_of_the_other_variants(tmp_path):
    a, b, c = (fake_sweep(tmp_path / n, n, s) for n, s in [("a", A), ("b", B), ("c", [0.3, 0.3, 0.6])])
    kw = {"reps": 2000, "echo": lambda s: None}
    first = rlft.compare([a, b], out=tmp_path / "1", **kw)["results"][DEFAULT_METRIC]
    again = rlft.compare([a, b], out=tmp_path / "2", **kw)["results"][DEFAULT_METRIC]
    three = rlft.compare([a, b, c], out=tmp_path / "3", **kw)["results"][DEFAULT_METRIC]
    other = rlft.compare([a, b], out=tmp_path / "4", seed=1, **kw)["results"][DEFAULT_METRIC]
    assert first == again
    assert three["variants"]["a"] == first["variants"]["a"] and three["pairs"][0] == first["pairs"][0]
    assert len(three["pairs"]) == 3
    assert other["variants"]["a"]["ci"] != first["variants"]["a"]["ci"]


def test_gather_labels_and_duplicates(tmp_path):
    a = fake_sweep(tmp_path / "a", "base", A[:2])
    single = fake_run(tmp_path / "single", 5, 0.5, recipe="other")
    variants = gather([a / "s1", single, a])   # a run inside a sweep takes the sweep's label; counted once
    assert {k: [r.seed for r in v] for k, v in variants.items()} == {"base": [0, 1], "other": [5]}
    assert list(gather([a, single], labels=["x", "x"])) == ["x"]
    with pytest.raises(rlft.ConfigError, match="seed 0 twice"):
        gather([a, fake_sweep(tmp_path / "b", "base", A[:1])])
    with pytest.raises(rlft.ConfigError, match="one label per input"):
        gather([a], labels=["x", "y"])


def test_metric_paths():
    summary = {"stages": {"grpo": {"train": {"rewards/x.y/mean": 0.25}}, "eval": {"eval": {"accuracy": 0.5}}}}
    assert metric_value(summary, "stages.grpo.train.rewards/x.y/mean", "r") == 0.25   # a key with a dot
    assert metric_value(summary, DEFAULT_METRIC, "r") == 0.5
    with pytest.raises(rlft.ConfigError, match="no 'acc' under stages.eval.eval"):
        metric_value(summary, "stages.eval.eval.acc", "r")
    with pytest.raises(rlft.ConfigError, match="not a finite number"):
        metric_value(summary, "stages.eval", "r")
    with pytest.raises(rlft.ConfigError, match="no stage measured"):
        metric_value({"stages": {}}, DEFAULT_METRIC, "r")


@pytest.mark.parametrize("argv, message", [
    (["compare", "{tmp}"], "neither a run folder"),
    (["compare", "{tmp}/missing"], "does not exist"),
    (["compare", "{a}", "--metric", "stages.sft.eval.acc"], "--metric: 'stages.sft.eval.acc' is not in"),
    (["compare", "{a}", "--label", "x", "--label", "y"], "one label per input"),
    (["compare", "{a}", "{a}/s0", "--adaptive"], "is not a sweep folder or a recipe file"),
    (["compare", "{a}", "{a}", "--adaptive", "--batch", "3", "--max-seeds", "4"], "multiple of --batch"),
    (["run", "recipes/quickstart.yaml", "--seeds", "4-1"], "--seeds: '4-1' counts down"),
    (["run", "recipes/quickstart.yaml", "--seeds", "0-1", "seed=3"], "seed: a sweep sets the seed"),
    (["run", "recipes/quickstart.yaml", "--label", "x"], "use it with --seeds"),
])  # fmt: skip
def test_bad_input_is_one_error_line(tmp_path, capsys, monkeypatch, argv, message):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    a = fake_sweep(tmp_path / "a", "base", A[:2])
    argv = [s.format(tmp=tmp_path, a=a) for s in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_adaptive_on_recorded_seeds_runs_nothing(tmp_path):
    # ten seeds each, far apart: AdaStop decides on the first batch of five and trains nothing
    a = fake_sweep(tmp_path / "a", "base", [0.1, 0.12, 0.11, 0.13, 0.1] * 2)
    b = fake_sweep(tmp_path / "b", "tuned", [0.8, 0.82, 0.81, 0.79, 0.8] * 2)
    result = rlft.compare([a, b], out=tmp_path / "out", reps=1000, adaptive=True, batch=5, max_seeds=10,
                          echo=lambda s: None)
    test = result["adaptive"]
    assert test["pairs"][0]["decision"] == "smaller" and test["pairs"][0]["interim"] == 1
    assert test["seeds_used"] == {"base": 5, "tuned": 5} and test["interims_run"] == 1
    assert result["variants"]["base"]["seeds"] == [0, 1, 2, 3, 4]   # the statistics cover the seeds tested
    assert "| base | tuned | smaller | 1 |" in (tmp_path / "out" / "compare.md").read_text()


def smoke_yaml(tmp_path):
    recipe = smoke_recipe(sft={**copy.deepcopy(SFT), "eval": {"every": 2, "max_new_tokens": 4}},
                          test={**EVAL, "model": {"from_stage": "sft"}})
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.slow
def test_sweeps_then_compare_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = smoke_yaml(tmp_path)
    assert main(["run", str(recipe), "--seeds", "0-1", "--run-dir", "sweep_a"]) == 0
    b = rlft.sweep(recipe, seeds=[0, 1], overrides={"stages.sft.trainer.learning_rate": 0.01}, sweep_dir="sweep_b",
                   echo=lambda s: None)
    assert [r.summary["seed"] for r in b.runs] == [0, 1]
    info = json.loads((tmp_path / "sweep_b" / "sweep.json").read_text())
    assert info["label"] == "smoke[stages.sft.trainer.learning_rate=0.01]" and info["seeds"] == [0, 1]
    assert (tmp_path / "sweep_a" / "s1" / "summary.json").exists()
    capsys.readouterr()

    metrics = ["--metric", DEFAULT_METRIC, "--metric", "stages.sft.train.train_loss"]
    assert main(["compare", "sweep_a", "sweep_b", *metrics, "--reps", "1000", "--out", "cmp"]) == 0
    out = capsys.readouterr().out
    assert "final_accuracy: IQM" in out and "comparison written to cmp/compare.md" in out
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    losses = result["results"]["stages.sft.train.train_loss"]["variants"]
    assert list(losses) == ["smoke", "smoke[stages.sft.trainer.learning_rate=0.01]"]
    assert all(v["n"] == 2 for v in losses.values())
    assert result["curves"][0]["stage"] == "sft" and (tmp_path / "cmp" / "plots" / "curves.png").exists()

    # one seed per batch never decides a pair, so AdaStop runs to its budget of 3: one new seed per sweep, each in
    # a process of its own (--jobs)
    assert main(["compare", "sweep_a", "sweep_b", "--adaptive", "--batch", "1", "--max-seeds", "3",
                 "--reps", "500", "--out", "ada", "--jobs", "2"]) == 0
    assert (tmp_path / "sweep_a" / "logs" / "s2.log").is_file()
    test = json.loads((tmp_path / "ada" / "compare.json").read_text())["adaptive"]
    assert test["pairs"][0]["decision"] == "equal" and set(test["seeds_used"].values()) == {3}
    assert json.loads((tmp_path / "sweep_a" / "sweep.json").read_text())["seeds"] == [0, 1, 2]
    assert (tmp_path / "sweep_b" / "s2" / "summary.json").exists()
