"""report.md: what a person reads instead of metrics.jsonl. Alarms first, then a table of the stages, then
per stage its learning curves, pre-run check, held-out evaluation table, reward-model quality, held-out
episodes with sample transcripts, last training metrics and sample completions with their rewards; the
resolved recipe and the environment at the end."""

from __future__ import annotations

from pathlib import Path

from rlft.core.runfiles import read_json, read_yaml

# Held-out evaluation columns, in this order, when any evaluation of the stage logged them.
EVAL_COLUMNS = ["accuracy", "reward", "format_compliance", "entropy", "kl", "completions/mean_length",
                "completions/max_length", "completions/clipped_ratio", "num_samples"]  # fmt: skip
# Last logged training metrics worth a glance (TRL's and rlft's PPO names).
TRAIN_KEYS = ["global_step", "train_loss", "loss", "reward", "reward_std", "frac_reward_zero_std", "objective/scores",
              "objective/kl", "kl", "entropy", "objective/entropy", "completions/mean_length",
              "completions/clipped_ratio", "mean_token_accuracy", "rewards/accuracies", "grad_norm"]  # fmt: skip
MAX_EVAL_ROWS = 12


def cell(value) -> str:
    """A value as a markdown table cell: numbers to 4 significant digits, text with pipes and newlines escaped.

    >>> cell(0.123456), cell(None), cell("a|b\\nc"), cell(True), cell(200)
    ('0.1235', '', 'a\\\\|b⏎c', 'True', '200')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", "⏎")


def table(header: list[str], rows: list[list]) -> list[str]:
    """Markdown table lines.

    >>> table(["a", "b"], [[1, 0.5]])
    ['| a | b |', '| --- | --- |', '| 1 | 0.5 |']
    """
    return [f"| {' | '.join(header)} |", f"| {' | '.join('---' for _ in header)} |",
            *(f"| {' | '.join(cell(v) for v in row)} |" for row in rows)]  # fmt: skip


def thin(rows: list, n: int = MAX_EVAL_ROWS) -> list:
    """At most n rows, evenly spaced, always keeping the first and the last.

    >>> thin(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    if len(rows) <= n:
        return rows
    picks = sorted({round(i * (len(rows) - 1) / (n - 1)) for i in range(n)})
    return [rows[i] for i in picks]


def pass_keys(evals: list[dict]) -> list[str]:
    """The `pass@k` keys present, by k."""
    return sorted({k for e in evals for k in e if k.startswith("pass@")}, key=lambda k: int(k[5:]))


def task_keys(evals: list[dict]) -> list[str]:
    """The per-task accuracy keys (`accuracy/<task>`) present, by task name."""
    return sorted({k for e in evals for k in e if k.startswith("accuracy/")})


def eval_table(evals: list[dict]) -> list[str]:
    """Held-out evaluations as a table: a `step` column when there are several, then the columns logged (with
    the accuracy of each task when the rows mix tasks)."""
    passes = pass_keys(evals)
    columns = [c for c in ["accuracy", *task_keys(evals), *passes, *EVAL_COLUMNS[1:]]
               if any(e.get(c) is not None for e in evals)]  # fmt: skip
    stepped = any("step" in e for e in evals)
    header = (["step"] if stepped else []) + columns
    return table(header, [([e.get("step")] if stepped else []) + [e.get(c) for c in columns] for e in thin(evals)])


def alarm_lines(summary: dict) -> list[str]:
    """The alarms section: every alarm and every pre-run check problem, or a line saying none fired."""
    items, checked = [], []
    for name, s in summary["stages"].items():
        if "alarms" in s:
            checked.append(name)
        items += [f"- **{name}**: {a['message']}" for a in s.get("alarms", [])]
        items += [f"- **{name}** (pre-run check): {p}" for p in s.get("check", {}).get("problems", [])]
    if not items and not checked:
        return []
    return ["## Alarms", "", *(items or [f"None fired (checked: {', '.join(checked)})."]), ""]


def stage_lines(run_dir: Path, name: str, s: dict, drawn: set[str]) -> list[str]:
    lines = [f"### {name} ({s['algorithm']})", ""]
    if name in drawn:
        lines += [f"![{name}](plots/{name}.png)", ""]
    check = s.get("check")
    if check:
        lines += [f"Pre-run check of {check['model']}: {check['prompts']} training prompts x {check['k']} samples "
                  f"(temperature {check['temperature']}, at most {check['max_new_tokens']} tokens): "
                  f"**{'can learn' if check['ok'] else 'cannot learn'}**", ""]  # fmt: skip
        lines += table(["measure", "value"], [[k, v] for k, v in check["metrics"].items()]) + [""]
        lines += [f"- {text}" for text in check["problems"] + check["warnings"]]
        lines += [""] if check["problems"] + check["warnings"] else []
    ev = s.get("eval", {})
    if "pairwise_accuracy" in ev:
        lines += ["Reward model quality on held-out pairs:", ""]
        lines += table(["measure", "value"], [[k, v] for k, v in ev.items()]) + [""]
        if (run_dir / name / "scores.png").exists():
            lines += [f"![{name} scores]({name}/scores.png)", ""]
    elif ev:
        history = s.get("eval_history") or [ev]
        note = f" ({len(history)} evaluations, {MAX_EVAL_ROWS} shown)" if len(history) > MAX_EVAL_ROWS else ""
        lines += [f"Held-out evaluation{note}:", ""] + eval_table(history) + [""]
    if s.get("stopped_at_accuracy_step") is not None:
        lines += [f"Stopped at step {s['stopped_at_accuracy_step']}: held-out accuracy reached eval.stop_at_accuracy.",
                  ""]  # fmt: skip
    if s.get("stop_kept"):
        kept = s["stop_kept"]
        lines += [f"Kept the step-{kept['step']} model (held-out accuracy {kept['accuracy']:.3f}; eval.stop_keep: "
                  f"{kept['rule']}).", ""]  # fmt: skip
    train = s.get("train", {})
    shown = [k for k in TRAIN_KEYS if train.get(k) is not None]
    shown += sorted(k for k in train if k.startswith("rewards/") and k.endswith("/mean"))
    if shown:
        lines += ["Last logged training metrics:", ""] + table(shown, [[train[k] for k in shown]]) + [""]
    lines += episode_lines(s)
    examples = s.get("examples") or []
    if examples:
        extra = [k for k in ("reward", "format") if any(k in e for e in examples)]
        lines += ["Sample completions (greedy, held-out):", ""]
        lines += table(["prompt", "completion", "answer", "correct", *extra],
                       [[e.get("prompt"), e.get("completion"), e.get("answer"), e.get("correct"),
                         *(e.get(k) for k in extra)] for e in examples]) + [""]  # fmt: skip
    warnings = [f"- WARNING: {a['message']}" for a in s.get("alarms", [])]
    return lines + (warnings + [""] if warnings else [])


def episode_lines(s: dict) -> list[str]:
    """A stage with `env:`: its held-out episode metrics, then sample episodes turn by turn.

    >>> print("\\n".join(episode_lines({"episodes": {"env/success": 1.0}, "episode_examples": [{"observation": "Go.",
    ...     "turns": [{"model": "guess(n=1)", "environment": "correct"}], "return": 1.0, "optimal": 1.0}]})))
    Held-out episodes (greedy):
    <BLANKLINE>
    | env/success |
    | --- |
    | 1 |
    <BLANKLINE>
    Episode 1: return 1 (the scripted policy's: 1)
    <BLANKLINE>
    | turn | model | environment |
    | --- | --- | --- |
    | 0 |  | Go. |
    | 1 | guess(n=1) | correct |
    <BLANKLINE>
    """
    metrics = s.get("episodes") or {}
    if not metrics:
        return []
    lines = ["Held-out episodes (greedy):", ""] + table(list(metrics), [list(metrics.values())]) + [""]
    for i, e in enumerate(s.get("episode_examples") or [], 1):
        best = f" (the scripted policy's: {cell(e['optimal'])})" if e.get("optimal") is not None else ""
        lines += [f"Episode {i}: return {cell(e['return'])}{best}", ""]
        rows = [[0, "", e["observation"]]] + [[t, turn["model"], turn["environment"]]
                                             for t, turn in enumerate(e["turns"], 1)]
        lines += table(["turn", "model", "environment"], rows) + [""]
    return lines


def environment_lines(run_dir: Path) -> list[str]:
    path = run_dir / "env.json"
    if not path.is_file():
        return []
    env = read_json(path, "the run's environment")
    keys = ["python", "platform", "device", "cuda", "torch_threads", "cpu_count", "seed", "git_commit", "started"]
    rows = [[k, env.get(k)] for k in keys if k in env]
    rows += [[name, version] for name, version in (env.get("packages") or {}).items()]
    if env.get("resumed"):
        rows.append(["resumed", f"{len(env['resumed'])} time(s)"])
    return ["## Environment", "", *table(["", "value"], rows), ""]


def render(run_dir: Path, summary: dict, drawn: set[str], has_overview: bool) -> str:
    """The text of report.md."""
    config = run_dir / "config.yaml"
    description = ""
    if config.is_file():
        description = str(read_yaml(config, "the run's resolved recipe").get("description") or "").strip()
    lines = [f"# {summary['recipe']} (seed {summary['seed']})", ""]
    if description:
        lines += [description, ""]
    wall = summary.get("wall_s")
    lines += [f"Run folder `{run_dir}`" + (f", {wall:.1f} s in all." if wall is not None else "."), ""]
    lines += alarm_lines(summary)
    stages = summary["stages"]
    passes = pass_keys([s.get("eval", {}) for s in stages.values()])
    lines += ["## Stages", ""]
    rows = []
    for name, s in stages.items():
        ev, train = s.get("eval", {}), s.get("train", {})
        reward = ev.get("reward", train.get("reward", train.get("objective/scores")))
        rows.append([name, s["algorithm"], train.get("global_step"), ev.get("accuracy"), *(ev.get(k) for k in passes),
                     reward, len(s.get("alarms", [])) or None, s["wall_s"]])  # fmt: skip
    lines += table(["stage", "algorithm", "steps", "accuracy", *passes, "reward", "alarms", "wall s"], rows) + [""]
    if has_overview:
        lines += ["![overview](plots/overview.png)", ""]
    for name, s in stages.items():
        lines += stage_lines(run_dir, name, s, drawn)
    if config.is_file():
        lines += ["## Recipe (resolved, as run)", "", "<details><summary>config.yaml</summary>", "", "```yaml",
                  config.read_text().rstrip(), "```", "", "</details>", ""]  # fmt: skip
    lines += environment_lines(run_dir)
    return "\n".join(lines).rstrip() + "\n"
