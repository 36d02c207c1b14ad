"""Held-out evaluation beyond greedy accuracy (pass@k, format, entropy, KL, the eval verifier), the
reward-hacking alarms and report.md."""

import copy
import itertools
import json
import math

import pytest
from conftest import EVAL, GRPO, SFT, TINY, smoke_recipe

import rlft
from rlft.core.config import AlarmSpec
from rlft.core.schema import ConfigError
from rlft.core.tracking import MetricsLog
from rlft.eval import alarms as alarms_lib
from rlft.eval.alarms import find_alarms, stage_history, stop_if_diverged
from rlft.eval.metrics import mean_pass_at_k, pass_at_k
from rlft.rewards import REWARDS, register
from rlft.stages import ALGORITHMS
from rlft.stages.common import StageContext

COIN = [{"name": "random_reward", "kwargs": {"seed": 0}}]  # moves a random-init model: groups vary


# ---------------------------------------------------------------- pass@k


def exhaustive_pass_at_k(n: int, c: int, k: int) -> float:
    """The definition: the fraction of all k-subsets of n samples (c correct) that hold a correct one."""
    draws = list(itertools.combinations([True] * c + [False] * (n - c), k))
    return sum(any(d) for d in draws) / len(draws)


def test_pass_at_k_equals_exhaustive_enumeration():
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = exhaustive_pass_at_k(n, c, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)
                assert exact == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats():
    with pytest.raises(OverflowError):
        float(math.comb(2000, 1000))
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)  # one correct sample: in half of the subsets
    assert pass_at_k(10**6, 3, 1) == pytest.approx(3e-6)
    assert pass_at_k(200, 0, 100) == 0.0 and pass_at_k(200, 101, 100) == 1.0


@pytest.mark.parametrize("n, c, k", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_refuses_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_leaves_out_verdicts_that_do_not_apply():
    out = mean_pass_at_k([[True, None, False], [None, None, None], [False, False, False]], [1, 2, 3])
    assert out == {"pass@1": pytest.approx(0.25), "pass@2": pytest.approx(0.5), "pass@3": 0.0}


# ---------------------------------------------------------------- alarms


def records(reward, accuracy, stage="grpo", reward_key="reward", **train_extra):
    """metrics.jsonl records: train `reward_key` logged at steps 10, 20, ...; held-out accuracy at 0, 50, 100..."""
    out = [{"stage": stage, "step": 10 * (i + 1), "split": "train", reward_key: r,
            **{k: v[i] for k, v in train_extra.items()}} for i, r in enumerate(reward)]  # fmt: skip
    out += [{"stage": stage, "step": 50 * i, "split": "eval", "accuracy": a} for i, a in enumerate(accuracy)]
    return out


RISING = [0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9]


def test_alarm_fires_on_a_hacking_run_and_stays_quiet_on_a_healthy_one():
    hacking = stage_history(records(RISING, [0.6, 0.5, 0.3]), "grpo")
    alarms = find_alarms(hacking, AlarmSpec())
    assert [a["alarm"] for a in alarms] == ["reward_up_accuracy_down"]
    assert alarms[0]["accuracy_start"] == 0.6 and alarms[0]["accuracy_end"] == 0.3
    assert alarms[0]["reward_end"] > alarms[0]["reward_start"] + 0.5
    assert "reward hacking" in alarms[0]["message"] and "0.6 -> 0.3" in alarms[0]["message"]

    healthy = stage_history(records(RISING, [0.5, 0.7, 0.8]), "grpo")
    assert find_alarms(healthy, AlarmSpec()) == []
    flat_reward = stage_history(records([0.5] * 10, [0.6, 0.5, 0.3]), "grpo")  # accuracy falls, reward does not rise
    assert find_alarms(flat_reward, AlarmSpec()) == []
    assert find_alarms(hacking, AlarmSpec(accuracy_drop=0.5)) == []  # thresholds are the config's
    assert find_alarms(hacking, AlarmSpec(enabled=False)) != []  # `enabled` is the pipeline's switch, not this one's


def test_length_limit_and_entropy_collapse_alarms():
    clipped = stage_history(records(RISING, [], **{"completions/clipped_ratio": [0.1] * 9 + [0.8]}), "grpo")
    assert [a["alarm"] for a in find_alarms(clipped, AlarmSpec())] == ["length_limit"]
    assert find_alarms(clipped, AlarmSpec(clipped_ratio=0.9)) == []
    collapsing = stage_history(records(RISING, [], entropy=[2.0, 1.9, 1.8, 1.5, 1.2, 1.0, 0.6, 0.4, 0.3, 0.2]), "grpo")
    alarms = find_alarms(collapsing, AlarmSpec())
    assert [a["alarm"] for a in alarms] == ["entropy_collapse"] and alarms[0]["entropy_end"] < 0.5
    assert find_alarms(collapsing, AlarmSpec(entropy_drop=0.9)) == []
    steady = stage_history(records(RISING, [], entropy=[2.0, 1.9] * 5), "grpo")
    assert find_alarms(steady, AlarmSpec()) == []


@pytest.mark.parametrize("accuracy, fires, words", [
    ([], True, "no held-out accuracy was measured"),
    ([0.67, 0.92], False, None),  # learning a task with one right answer: entropy falls as accuracy rises
    ([0.67, 0.67], True, "did not rise (0.67 -> 0.67"),
    ([0.67, 0.5], True, "did not rise (0.67 -> 0.5"),
])  # fmt: skip
def test_entropy_alarm_weighs_held_out_accuracy(accuracy, fires, words):
    history = stage_history(records([0.5] * 10, accuracy, entropy=[2.0, 1.8, 1.5, 1.0, 0.6, 0.4, 0.3, 0.2, 0.2, 0.2]),
                            "grpo")  # fmt: skip
    alarms = [a for a in find_alarms(history, AlarmSpec()) if a["alarm"] == "entropy_collapse"]
    assert bool(alarms) == fires
    if fires:
        assert words in alarms[0]["message"]


def test_alarms_read_ppo_and_online_dpo_metric_names():
    recs = records(RISING, [0.6, 0.3], reward_key="objective/scores", **{"val/contain_eos_token": [0.9] * 9 + [0.2]})
    history = stage_history(recs, "grpo")
    assert history["reward"][-1] == (100, 0.9) and history["clipped_train"][-1] == (100, pytest.approx(0.8))
    assert {a["alarm"] for a in find_alarms(history, AlarmSpec())} == {"reward_up_accuracy_down", "length_limit"}


def review(ctx: StageContext) -> dict:
    return alarms_lib.review(ctx, ALGORITHMS[ctx.stage.algorithm])


def test_review_prints_and_returns_the_alarms(tmp_path):
    recipe = rlft.load_recipe(smoke_recipe(grpo={**GRPO, "model": TINY}))
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for r in records(RISING, [0.6, 0.3]) + records(RISING, [0.1, 0.9], stage="other"):
        log.log(r.pop("stage"), r.pop("step"), r.pop("split"), r)
    lines = []
    out = review(StageContext(recipe, "grpo", tmp_path, log, echo=lines.append))
    assert [a["alarm"] for a in out["alarms"]] == ["reward_up_accuracy_down"]
    assert lines == [f"[grpo] WARNING: {out['alarms'][0]['message']}"]


def test_non_finite_metrics_raise_an_alarm_in_every_training_stage(tmp_path):
    """metrics.jsonl writes NaN as null: a key logged as null is the non_finite alarm, for an SFT stage (which
    has no reward-hacking alarms) as for an RL one; finite histories and eval stages stay quiet."""
    recipe = rlft.load_recipe(smoke_recipe(sft={**SFT, "model": TINY}, grpo={**GRPO, "model": {"from_stage": "sft"}},
                                           e={**EVAL, "model": {"from_stage": "grpo"}}))
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for stage in ("sft", "grpo"):
        log.log(stage, 10, "train", {"loss": 1.5, "grad_norm": 2.0})
        log.log(stage, 20, "train", {"loss": 1.4, "grad_norm": float("nan"), "kl": float("inf")})
    log.log("e", 0, "eval", {"accuracy": 0.5})
    assert stage_history(log.read(), "sft")["non_finite"] == [(20, "grad_norm"), (20, "kl")]
    for stage in ("sft", "grpo"):
        lines = []
        alarms = review(StageContext(recipe, stage, tmp_path, log, echo=lines.append))["alarms"]
        assert [a["alarm"] for a in alarms] == ["non_finite"] and alarms[0]["metrics"] == ["grad_norm", "kl"]
        assert alarms[0]["step"] == 20 and lines == [f"[{stage}] WARNING: {alarms[0]['message']}"]
    assert "alarms" not in review(StageContext(recipe, "e", tmp_path, log, echo=print))
    assert find_alarms(stage_history(records(RISING, [0.5, 0.6]), "grpo"), AlarmSpec()) == []


def test_a_diverging_loss_stops_training_with_one_error():
    """The stop is decided on each log: any non-finite loss or gradient norm, with the learning rate in the
    message; finite logs (and other non-finite metrics, left to the alarm) pass."""
    stop_if_diverged("stages.s.trainer", {"loss": 0.5, "grad_norm": 1.0, "kl": float("nan")}, 3, 1e-3, 1.0)
    with pytest.raises(ConfigError) as e:
        stop_if_diverged("stages.s.trainer", {"loss": float("inf"), "learning_rate": 0.25}, 7, 1e-3, 0.0)
    assert str(e.value) == ("stages.s.trainer: training diverged: loss is inf at step 7 (learning_rate 0.25, "
                            "max_grad_norm 0.0); lower learning_rate, or keep max_grad_norm > 0 to clip gradients; "
                            "the stage's model was not saved")


# ---------------------------------------------------------------- evaluation in a run


def eval_recipe(lora: bool = False, **eval_extra) -> dict:
    grpo = {**copy.deepcopy(GRPO), "model": TINY, "rewards": COIN,
            "eval": {"every": 1, "at_start": True, "max_new_tokens": 4, "size": 8, **eval_extra}}  # fmt: skip
    grpo["trainer"].update(max_steps=3, learning_rate=1e-2)
    if lora:
        grpo["lora"] = {"r": 4, "lora_alpha": 8}
    test = {**EVAL, "model": {"from_stage": "grpo"}, "eval": {"max_new_tokens": 4, "kl": True, "entropy": True}}
    return smoke_recipe(grpo=grpo, test=test)


FULL = {"num_samples": 4, "pass_k": [1, 2, 4], "entropy": True, "kl": True, "format": "format_strict"}


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_evaluation_logs_pass_at_k_format_entropy_and_kl(tmp_path, lora):
    result = rlft.run(eval_recipe(lora, **FULL), run_dir=tmp_path / "run", echo=lambda s: None)
    history = result.summary["stages"]["grpo"]["eval_history"]
    assert [h["step"] for h in history] == [0, 1, 2, 3]
    for h in history:
        assert 0 <= h["pass@1"] <= h["pass@2"] <= h["pass@4"] <= 1
        assert h["format_compliance"] == 0.0 and 0 < h["entropy"] < math.log(128)  # ~100 symbols
    # the starting model against itself (a frozen copy, or the adapters switched off): exactly no divergence
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert abs(history[-1]["kl"]) > 1e-3  # lr 1e-2 moved the policy
    test = result.summary["stages"]["test"]["eval"]
    assert abs(test["kl"]) > 1e-3 and test["entropy"] > 0 and "pass@1" not in test
    logged = [json.loads(line) for line in (result.path / "metrics.jsonl").read_text().splitlines()]
    assert sum("pass@4" in r for r in logged if r["split"] == "eval") == 4
    report = (result.path / "report.md").read_text()
    for part in ("## Alarms", "## Stages", "### grpo (grpo)", "Held-out evaluation", "| pass@4 |", "| kl |",
                 "Sample completions", "| reward |", "## Recipe (resolved, as run)", "## Environment", "| trl | 1.16"):
        assert part in report, part


def test_evaluation_sampling_leaves_training_unchanged(tmp_path):
    def train_records(name, **extra):
        result = rlft.run(eval_recipe(**extra), run_dir=tmp_path / name, echo=lambda s: None)
        lines = (result.path / "metrics.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r["split"] == "train"]

    assert train_records("plain") == train_records("sampled", num_samples=4, kl=True, entropy=True)


def test_eval_verifier_replaces_the_tasks_own(tmp_path):
    def always_right(completions, **kwargs):
        return [1.0] * len(completions)

    register(always_right)
    try:
        recipe = smoke_recipe(m={"algorithm": "sft", "model": TINY, "trainer": {"max_steps": 1}},
                              test={**EVAL, "model": {"from_stage": "m"},
                                    "eval": {"max_new_tokens": 4, "verifier": "always_right", "num_samples": 2}})
        result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda s: None)
    finally:
        del REWARDS["always_right"]
    ev = result.summary["stages"]["test"]["eval"]
    assert ev["accuracy"] == 1.0 and ev["pass@1"] == 1.0 and ev["pass@2"] == 1.0
    example = result.summary["stages"]["test"]["examples"][0]
    assert example["correct"] == 1.0 and "+" in example["prompt"]  # the user message's text


@pytest.mark.parametrize("change, key", [
    ({"stages.grpo.eval.pass_k": [8], "stages.grpo.eval.num_samples": 4}, "stages.grpo.eval.pass_k[0]"),
    ({"stages.grpo.eval.pass_k": [1]}, "stages.grpo.eval.pass_k"),
    ({"stages.grpo.eval.every": 0}, "stages.grpo.eval.at_start"),
    ({"stages.grpo.eval.verifier": "nope_match"}, "stages.grpo.eval.verifier.name"),
    ({"stages.grpo.eval.format": {"name": "reward_model", "kwargs": {"path": "x"}}}, "stages.grpo.eval.format.name"),
    ({"stages.grpo.alarms.entropy_drop": 0}, "stages.grpo.alarms.entropy_drop"),
    ({"stages.test.alarms.reward_rise": 0.1}, "stages.test.alarms"),
    ({"stages.test.model": TINY}, "stages.test.eval.kl"),
    ({"stages.grpo.check.k": 1}, "stages.grpo.check.k"),
])  # fmt: skip
def test_evaluation_settings_are_checked_at_load_time(change, key):
    with pytest.raises(ConfigError) as e:
        rlft.load_recipe(eval_recipe(), change)
    assert e.value.key == key


def test_held_out_rows_that_mix_tasks_get_accuracy_per_task(tmp_path):
    """A `task` column with two tasks: accuracy/<task> beside accuracy, in metrics.jsonl, summary and report."""
    import datasets

    rows = [{"prompt": f"{a}+{b}=", "answer": str(a + b), "task": "add" if a < 5 else "big"}
            for a in range(10) for b in range(3)]  # fmt: skip
    datasets.Dataset.from_list(rows).to_json(tmp_path / "mix.jsonl")
    recipe = smoke_recipe(e={**EVAL, "model": TINY})
    recipe["data"] = {"path": str(tmp_path / "mix.jsonl"), "eval_path": str(tmp_path / "mix.jsonl")}
    run = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda _: None)
    ev = run.summary["stages"]["e"]["eval"]
    assert set(ev) >= {"accuracy/add", "accuracy/big"} and ev["num_samples"] == 30
    assert ev["accuracy"] == pytest.approx((ev["accuracy/add"] * 15 + ev["accuracy/big"] * 15) / 30)
    assert "accuracy/add" in (run.path / "report.md").read_text()
