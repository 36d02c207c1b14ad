"""Turn a run's metrics.jsonl and summary into plots/*.png and report.md (the text: rlft/runner/report_md.py)."""

from __future__ import annotations

from pathlib import Path

from rlft.core.tracking import write_text, writing
from rlft.runner import report_md

# Panels drawn per training stage when the stage logged them: (metric keys, first logged wins; split; title).
PANELS = [
    (("loss",), "train", "training loss"),
    (("reward", "objective/scores"), "train", "reward (train, sampled)"),
    (("accuracy",), "eval", "held-out accuracy (greedy) and pass@k"),
    (("completions/mean_length",), "train", "completion length (tokens)"),
    (("entropy", "objective/entropy"), "train", "entropy (train)"),
    (("kl",), "eval", "KL to the starting model (held-out)"),
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


def stage_panels(records: list[dict], stage: str) -> list[tuple[str, str, list[tuple[str, list, list]]]]:
    """(title, first key, lines) of each panel the stage has data for; a line is (label, steps, values). The
    accuracy panel also draws every `pass@k` the evaluations logged.

    >>> recs = [{"stage": "a", "step": 1, "split": "train", "objective/scores": 0.5}]
    >>> [(t, k) for t, k, _ in stage_panels(recs, "a")]
    [('reward (train, sampled)', 'objective/scores')]
    """
    out = []
    for keys, split, title in PANELS:
        key = next((k for k in keys if series(records, stage, k, split)[0]), None)
        if key is None:
            continue
        lines = [(key, *series(records, stage, key, split))]
        if key == "accuracy":
            passes = sorted({k for r in records if r["stage"] == stage for k in r if k.startswith("pass@")},
                            key=lambda k: int(k[5:]))  # fmt: skip
            lines += [(k, *series(records, stage, k, split)) for k in passes]
        out.append((title, key, lines))
    return out


def plot_stage(records: list[dict], stage: str, out: Path) -> bool:
    """One PNG with a panel per logged metric of the stage (three to a row); False when it logged nothing."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend and figures stay as they were

    panels = stage_panels(records, stage)
    if not panels:
        return False
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax, (title, key, lines) in zip(axes, panels):
        for label, steps, values in lines:
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if key == "accuracy":
            ax.set_ylim(-0.02, 1.02)
            if len(lines) > 1:
                ax.legend(fontsize=8)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
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
    """plots/<stage>.png, plots/overview.png and report.md in the run folder (rlft.runner.report_md)."""
    plots = run_dir / "plots"
    with writing(plots, "the plots", only_storage=True):  # a full disk: WriteError naming the file
        plots.mkdir(exist_ok=True)
        training = [name for name, s in summary["stages"].items() if "train" in s]
        drawn = {name for name in training if plot_stage(records, name, plots / f"{name}.png")}
        has_overview = plot_overview(summary, plots / "overview.png")
    text = report_md.render(run_dir, summary, drawn, has_overview)
    write_text(run_dir / "report.md", text, "the report")
