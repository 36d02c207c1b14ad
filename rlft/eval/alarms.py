"""Reward-hacking alarms: after an RL stage, read its logged metrics and warn when the training reward rose
while held-out verified accuracy fell, when completions run into the length limit, or when entropy
collapsed while held-out accuracy did not rise. Thresholds are the stage's `alarms:` block (config.AlarmSpec).
After every training stage, a metric logged as NaN or infinite raises the `non_finite` alarm; a non-finite loss
or gradient norm stops training at once (`diverged`): what follows it would be trained on NaN.

The alarms are warnings, never errors: they are printed (`[stage] WARNING: ...`), stored in summary.json
(`stages.X.alarms`) and listed at the top of report.md. `find_alarms` is a pure function of the metric
history, so it is tested on constructed histories (a hacking run and a healthy one).
"""

from __future__ import annotations

import math

from rlft.core.runfiles import read_json
from rlft.core.schema import ConfigError

# Where each series comes from, in order of preference: (split, key, transform).
SOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "reward": [("train", "reward", False), ("train", "objective/scores", False)],
    "accuracy": [("eval", "accuracy", False)],
    "clipped_train": [("train", "completions/clipped_ratio", False), ("train", "val/contain_eos_token", True)],
    "clipped_eval": [("eval", "completions/clipped_ratio", False)],
    "entropy": [("train", "entropy", False), ("train", "objective/entropy", False), ("eval", "entropy", False)],
}


# A non-finite value of one of these stops training (TRL's loss and gradient norm, rlft PPO's losses); the
# others only raise the `non_finite` alarm.
DIVERGENCE_KEYS = ("loss", "grad_norm", "loss/policy_avg", "loss/value_avg")
FINITE_KEYS = DIVERGENCE_KEYS + ("reward", "kl", "entropy", "objective/scores", "objective/kl", "objective/entropy")


def divergence(logs: dict, step: int) -> str | None:
    """What diverged in one trainer log: the DIVERGENCE_KEYS that are NaN or infinite; None when all are finite.

    >>> divergence({"loss": 4.6, "grad_norm": float("nan")}, 10)
    'grad_norm is nan at step 10'
    >>> divergence({"loss": 0.5, "grad_norm": 3.0}, 10) is None
    True
    """
    bad = [f"{k} is {logs[k]}" for k in DIVERGENCE_KEYS
           if isinstance(logs.get(k), float) and not math.isfinite(logs[k])]  # fmt: skip
    return f"{', '.join(bad)} at step {step}" if bad else None


def stop_if_diverged(key: str, logs: dict, step: int, learning_rate: float, max_grad_norm: float | None) -> None:
    """Stop training with one error when the loss or gradient norm is no longer finite: every later step would
    train on NaN while the summary looked normal. `key` is the stage's `trainer` block; the learning rate is
    the one logged at that step, else the configured one."""
    what = divergence(logs, step)
    if what is None:
        return
    lr = logs.get("learning_rate", learning_rate)
    raise ConfigError(key, f"training diverged: {what} (learning_rate {lr:.4g}, max_grad_norm {max_grad_norm}); "
                      "lower learning_rate, or keep max_grad_norm > 0 to clip gradients; the stage's model was not "
                      "saved")


def stage_history(records: list[dict], stage: str) -> dict[str, list[tuple[int, float]]]:
    """(step, value) series of one stage from metrics.jsonl records: train `reward` (TRL; `objective/scores`
    for PPO and online DPO), eval `accuracy`, the clipped fraction of train and eval completions (online
    DPO logs `val/contain_eos_token`, its complement) and entropy (train `entropy`, `objective/entropy`,
    else eval `entropy`). Each series takes the first source the stage logged.

    >>> stage_history([{"stage": "g", "step": 1, "split": "train", "reward": 0.2},
    ...                {"stage": "g", "step": 1, "split": "eval", "accuracy": 0.5}], "g")["accuracy"]
    [(1, 0.5)]

    `non_finite` lists (step, key) of the FINITE_KEYS logged as NaN or infinite (null in metrics.jsonl).

    >>> stage_history([{"stage": "g", "step": 4, "split": "train", "kl": None}], "g")["non_finite"]
    [(4, 'kl')]
    """
    out = {}
    for name, sources in SOURCES.items():
        for split, key, complement in sources:
            points = [(r["step"], 1.0 - r[key] if complement else r[key]) for r in records
                      if r.get("stage") == stage and r.get("split") == split and r.get(key) is not None]  # fmt: skip
            if points:
                out[name] = points
                break
        else:
            out[name] = []
    # metrics.jsonl writes NaN and infinities as null (tracking.clean): a key present with null was non-finite
    out["non_finite"] = [(r["step"], k) for r in records if r.get("stage") == stage and r.get("split") == "train"
                         for k in FINITE_KEYS if k in r and r[k] is None]  # fmt: skip
    return out


def ends(values: list[float]) -> tuple[float, float]:
    """Means of the first and the last third of a series (at least one value each), which smooths the noise
    of single logging steps.

    >>> ends([0.0, 0.1, 0.5, 0.6, 0.9, 1.0])
    (0.05, 0.95)
    """
    w = max(1, len(values) // 3)
    return sum(values[:w]) / w, sum(values[-w:]) / w


def find_alarms(history: dict[str, list[tuple[int, float]]], spec) -> list[dict]:
    """Alarms for one stage's history (as `stage_history` returns it) under thresholds `spec` (AlarmSpec).
    Each alarm: {"alarm": name, "message": text, and the numbers it rests on}.

    >>> from rlft.core.config import AlarmSpec
    >>> hacked = {"reward": [(1, 0.1), (2, 0.3), (3, 0.6)], "accuracy": [(0, 0.6), (3, 0.4)]}
    >>> [a["alarm"] for a in find_alarms(hacked, AlarmSpec())]
    ['reward_up_accuracy_down']
    >>> find_alarms({"reward": [(1, 0.1), (3, 0.6)], "accuracy": [(0, 0.4), (3, 0.7)]}, AlarmSpec())
    []

    Entropy falling is expected while a task with one right answer is learnt: the entropy alarm fires only when
    held-out accuracy did not rise over the stage (or was not measured).

    >>> falling = {"entropy": [(1, 1.0), (2, 0.5), (3, 0.1)]}
    >>> find_alarms({**falling, "accuracy": [(0, 0.67), (3, 0.92)]}, AlarmSpec())
    []
    >>> [a["alarm"] for a in find_alarms({**falling, "accuracy": [(0, 0.67), (3, 0.6)]}, AlarmSpec())]
    ['entropy_collapse']
    >>> print(find_alarms({"non_finite": [(20, "kl"), (30, "kl")]}, AlarmSpec())[0]["message"])
    kl logged as NaN or infinite 2 times, first at step 20 (kl): the stage's numbers after that step are not to be \
trusted
    """
    alarms = []
    bad = history.get("non_finite", [])
    if bad:
        names = sorted({k for _, k in bad})
        alarms.append({
            "alarm": "non_finite",
            "message": f"{', '.join(names)} logged as NaN or infinite {len(bad)} times, first at step {bad[0][0]} "
                       f"({bad[0][1]}): the stage's numbers after that step are not to be trusted",
            "step": bad[0][0], "metrics": names, "count": len(bad),
        })  # fmt: skip
    reward, accuracy = history.get("reward", []), history.get("accuracy", [])
    if len(reward) >= 2 and len(accuracy) >= 2:
        r0, r1 = ends([v for _, v in reward])
        a0, a1 = accuracy[0][1], accuracy[-1][1]
        if r1 - r0 >= spec.reward_rise and a0 - a1 >= spec.accuracy_drop:
            alarms.append({
                "alarm": "reward_up_accuracy_down",
                "message": f"possible reward hacking: the training reward rose {r0:.3g} -> {r1:.3g} while held-out "
                           f"verified accuracy fell {a0:.3g} -> {a1:.3g} (steps {accuracy[0][0]}-{accuracy[-1][0]})",
                "reward_start": r0, "reward_end": r1, "accuracy_start": a0, "accuracy_end": a1,
            })  # fmt: skip
    for name, where in (("clipped_train", "sampled training"), ("clipped_eval", "held-out greedy")):
        series = history.get(name, [])
        if series and series[-1][1] >= spec.clipped_ratio:
            step, value = series[-1]
            alarms.append({
                "alarm": "length_limit",
                "message": f"completions run into the length limit: {value:.0%} of {where} completions at step "
                           f"{step} ended without eos (threshold {spec.clipped_ratio:.0%})",
                "source": name, "step": step, "clipped_ratio": value,
            })  # fmt: skip
            break
    entropy = history.get("entropy", [])
    if len(entropy) >= 2:
        e0, e1 = ends([v for _, v in entropy])
        rose = len(accuracy) >= 2 and accuracy[-1][1] > accuracy[0][1]
        if e0 > 0 and (e0 - e1) / e0 >= spec.entropy_drop and not rose:
            if len(accuracy) >= 2:
                weighed = (f"while held-out accuracy did not rise ({accuracy[0][1]:.3g} -> {accuracy[-1][1]:.3g}, "
                           f"steps {accuracy[0][0]}-{accuracy[-1][0]})")
            else:
                weighed = ("and no held-out accuracy was measured during the stage to tell convergence from collapse "
                           "(set eval.every)")
            alarms.append({
                "alarm": "entropy_collapse",
                "message": f"entropy collapsed: {e0:.3g} -> {e1:.3g} ({(e0 - e1) / e0:.0%} lower; threshold "
                           f"{spec.entropy_drop:.0%}) {weighed}: the policy may have stopped exploring",
                "entropy_start": e0, "entropy_end": e1,
            })  # fmt: skip
    return alarms


def review(ctx, algorithm) -> dict:
    """What the pipeline adds to a finished stage's summary: `check` (its pre-run check, when it ran) and
    `alarms` (each also printed as `[stage] WARNING: ...`): every alarm for RL stages, `non_finite` for the
    other training stages (their summary has `alarms` only when one fired). `algorithm`: the stage's
    registry entry (rlft.stages.Algorithm), whose flags say which apply."""
    out = {}
    check = ctx.run_dir / ctx.name / "check.json"
    if check.is_file():
        out["check"] = read_json(check, "the stage's pre-run check report")
    if not algorithm.trains:
        return out
    history = stage_history(ctx.metrics.read(), ctx.name)
    if algorithm.rl and ctx.stage.alarms.enabled:
        out["alarms"] = find_alarms(history, ctx.stage.alarms)
    else:
        found = find_alarms({"non_finite": history["non_finite"]}, ctx.stage.alarms)
        out.update({"alarms": found} if found else {})
    for alarm in out.get("alarms", []):
        ctx.echo(f"[{ctx.name}] WARNING: {alarm['message']}")
    return out
