"""Turn a run's metrics.jsonl and summary into plots/*.png and report.md."""

from __future__ import annotations

import json
from pathlib import Path

# Panels drawn per training stage when the stage logged them: (metric key, split, title).
PANELS = [
    ("loss", "train", "training loss"),
    ("reward", "train", "reward (train, sampled)"),
    ("accuracy", "eval", "held-out accuracy (greedy)"),
    ("completions/mean_length", "train", "completion length (tokens)"),
]


def series(records: list[dict], stage: str, key: str, split: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric of one stage, skipping missing values.

    >>> series([{"stage": "a", "step": 1, "split": "train", "loss": 2.0}, {"stage": "a", "step": 2,
    ...          "split": "train"}], "a", "loss", "train")
    ([1], [2.0])
    """
    points = [
        (r["step"], r[key])
        for r in records
        if r["stage"] == stage and r["split"] == split and r.get(key) is not None
    ]
    return [p[0] for p in points], [p[1] for p in points]


def plot_stage(records: list[dict], stage: str, out: Path) -> bool:
    """One PNG with a panel per logged metric of the stage; False when it logged nothing to plot."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend and figures stay as they were

    panels = [(k, s, t, *series(records, stage, k, s)) for k, s, t in PANELS]
    panels = [p for p in panels if p[3]]
    if not panels:
        return False
    fig = Figure(figsize=(4 * len(panels), 3.2))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (key, _, title, steps, values) in zip(axes[0], panels):
        ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key == "accuracy":
            ax.set_ylim(-0.02, 1.02)
    fig.suptitle(f"stage {stage}")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return True


def plot_overview(summary: dict, out: Path) -> bool:
    """Bar chart of held-out accuracy after each stage that measured it."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend and figures stay as they were

    points = [
        (name, s["eval"]["accuracy"])
        for name, s in summary["stages"].items()
        if s.get("eval", {}).get("accuracy") is not None
    ]
    if not points:
        return False
    fig = Figure(figsize=(1.2 * len(points) + 2, 3.2))
    ax = fig.subplots()
    ax.bar([p[0] for p in points], [p[1] for p in points], color="tab:blue")
    for i, (_, acc) in enumerate(points):
        ax.text(i, acc + 0.02, f"{acc:.2f}", ha="center")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"{summary['recipe']} (seed {summary['seed']})")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return True


def write(run_dir: Path, summary: dict, records: list[dict]) -> None:
    """plots/<stage>.png, plots/overview.png and report.md in the run folder."""
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    training = [name for name, s in summary["stages"].items() if "train" in s]
    drawn = [name for name in training if plot_stage(records, name, plots / f"{name}.png")]
    has_overview = plot_overview(summary, plots / "overview.png")

    lines = [f"# {summary['recipe']} (seed {summary['seed']})", ""]
    lines += ["| stage | algorithm | accuracy | reward | wall s |", "| --- | --- | --- | --- | --- |"]
    for name, s in summary["stages"].items():
        ev = s.get("eval", {})
        acc, rew = ev.get("accuracy"), ev.get("reward", s.get("train", {}).get("reward"))
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"| {name} | {s['algorithm']} | {fmt(acc)} | {fmt(rew)} | {s['wall_s']:.1f} |")
    if has_overview:
        lines += ["", "![overview](plots/overview.png)"]
    for name in drawn:
        lines += ["", f"## {name}", "", f"![{name}](plots/{name}.png)"]
    for name, s in summary["stages"].items():
        if "pairwise_accuracy" in s.get("eval", {}):
            lines += ["", f"### reward model quality: {name}", "", "| measure | value |", "| --- | --- |"]
            lines += [f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in s["eval"].items()]
            if (run_dir / name / "scores.png").exists():
                lines += ["", f"![{name} scores]({name}/scores.png)"]
    for name, s in summary["stages"].items():
        if s.get("examples"):
            lines += ["", f"### sample completions after {name}", "", "```"]
            lines += [json.dumps(e) for e in s["examples"]]
            lines += ["```"]
    (run_dir / "report.md").write_text("\n".join(lines) + "\n")
