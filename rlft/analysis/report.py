"""What `rlft compare` shows: compare.md, the console table and plots/*.png, all drawn from compare.json."""

from __future__ import annotations

from pathlib import Path

from rlft.analysis.adastop import describe

STATS = [("mean", "mean"), ("median", "median"), ("iqm", "IQM")]


def _fmt(v: float) -> str:
    """Three significant decimals, no trailing noise.

    >>> _fmt(0.123456), _fmt(12.0), _fmt(-0.5)
    ('0.123', '12', '-0.5')
    """
    return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:.4g}"


def _ci(entry: dict, name: str) -> str:
    low, high = entry["ci"][name]
    return f"{_fmt(entry[name])} [{_fmt(low)}, {_fmt(high)}]"


def _colors(result: dict) -> dict[str, str]:
    return {label: f"C{i % 10}" for i, label in enumerate(result["variants"])}


def console(result: dict) -> str:
    """A few lines for the terminal: per metric and variant the IQM with its interval, and the pairs."""
    pct = round(100 * result["confidence"])
    lines = []
    for metric, res in result["results"].items():
        lines.append(f"{metric}: IQM [{pct}% CI] over seeds")
        for label, e in res["variants"].items():
            lines.append(f"  {label}: {_ci(e, 'iqm')}  (n={e['n']}, mean {_fmt(e['mean'])})")
        for p in res["pairs"]:
            lines.append(f"  P({p['x']} > {p['y']}) = {_fmt(p['prob_improvement'])} "
                         f"[{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}]")
    test = result.get("adaptive")
    if test:
        lines.append(f"adastop on {test['metric']} (alpha {test['alpha']}): " + "; ".join(
            describe(p["x"], p["decision"], p["y"]) for p in test["pairs"]) + f"; seeds used {test['seeds_used']}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """compare.md: the runs, a table per metric, the pairs, the AdaStop decisions and the plots."""
    pct = round(100 * result["confidence"])
    lines = [f"# Comparison: {' vs '.join(result['variants'])}", ""]
    lines += ["| variant | seeds | runs |", "| --- | --- | --- |"]
    for label, v in result["variants"].items():
        lines.append(f"| {label} | {', '.join(map(str, v['seeds']))} | {'<br>'.join(v['runs'])} |")
    lines += ["", f"Intervals: {pct}% stratified bootstrap percentile intervals over seeds, {result['reps']} "
              f"resamples, seed {result['seed']}. P(X > Y): probability that a run of X scores above a run of Y "
              "(ties count half). See docs/compare.md."]
    if min(e["n"] for r in result["results"].values() for e in r["variants"].values()) < 4:
        lines.append("With fewer than 4 runs a variant's IQM trims nothing (it is the mean) and its intervals are "
                     "rough; add seeds.")
    for metric, res in result["results"].items():
        lines += ["", f"## `{metric}`", "", f"| variant | n | mean [{pct}% CI] | median [{pct}% CI] | "
                  f"IQM [{pct}% CI] | scores |", "| --- | --- | --- | --- | --- | --- |"]
        for label, e in res["variants"].items():
            scores = ", ".join(_fmt(s) for s in e["scores"])
            lines.append(f"| {label} | {e['n']} | {_ci(e, 'mean')} | {_ci(e, 'median')} | {_ci(e, 'iqm')} | "
                         f"{scores} |")
        if res["pairs"]:
            lines += ["", f"| X | Y | P(X > Y) [{pct}% CI] |", "| --- | --- | --- |"]
            lines += [f"| {p['x']} | {p['y']} | {_fmt(p['prob_improvement'])} [{_fmt(p['ci_low'])}, "
                      f"{_fmt(p['ci_high'])}] |" for p in res["pairs"]]
    test = result.get("adaptive")
    if test:
        lines += ["", f"## AdaStop on `{test['metric']}`", "",
                  f"alpha {test['alpha']}, batches of {test['batch']} seeds, at most {test['interims']} interims "
                  f"({test['batch'] * test['interims']} seeds per variant), {test['permutations']} permutations; "
                  f"{test['interims_run']} interims run, level spent {test['level_spent']}.", "",
                  "| X | Y | decision | decided at interim |", "| --- | --- | --- | --- |"]
        lines += [f"| {p['x']} | {p['y']} | {p['decision']} | {p['interim'] or ''} |" for p in test["pairs"]]
        lines += ["", "Seeds used: " + ", ".join(f"{k} {v}" for k, v in test["seeds_used"].items()) + "."]
        lines.append("`larger`/`smaller`: X's mean score is significantly above/below Y's; `equal`: no difference "
                     "found within the seed budget.")
    for name in result.get("plots", []):
        lines += ["", f"![{Path(name).stem}]({name})"]
    return "\n".join(lines) + "\n"


def plot(result: dict, folder: Path) -> list[str]:
    """Draw the plots into `folder`; return their paths relative to compare.md."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend and figures stay as they were

    folder.mkdir(parents=True, exist_ok=True)
    colors, drawn = _colors(result), []
    labels = list(result["variants"])
    metrics = list(result["results"])

    fig = Figure(figsize=(11, 0.6 * len(labels) * len(metrics) + 1.4 * len(metrics)))
    axes = fig.subplots(len(metrics), len(STATS), squeeze=False)
    for row, metric in enumerate(metrics):
        for col, (name, title) in enumerate(STATS):
            ax = axes[row][col]
            for y, label in enumerate(labels):
                e = result["results"][metric]["variants"][label]
                low, high = e["ci"][name]
                ax.errorbar([e[name]], [y], xerr=[[e[name] - low], [high - e[name]]], fmt="o", capsize=4,
                            color=colors[label])
            ax.set_yticks(range(len(labels)), labels if col == 0 else [""] * len(labels))
            ax.set_ylim(-0.6, len(labels) - 0.4)
            ax.set_title(title if row == 0 else "", fontsize=10)
            ax.set_xlabel(metric, fontsize=8)
            ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(folder / "estimates.png", dpi=100)
    drawn.append("plots/estimates.png")

    pairs = {m: r["pairs"] for m, r in result["results"].items() if r["pairs"]}
    if pairs:
        n = max(len(p) for p in pairs.values())
        fig = Figure(figsize=(5 * len(pairs), 0.5 * n + 1.4))
        axes = fig.subplots(1, len(pairs), squeeze=False)[0]
        for ax, (metric, rows) in zip(axes, pairs.items()):
            for y, p in enumerate(rows):
                v = p["prob_improvement"]
                ax.errorbar([v], [y], xerr=[[v - p["ci_low"]], [p["ci_high"] - v]], fmt="o", capsize=4,
                            color=colors[p["x"]])
            ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
            ax.set_yticks(range(len(rows)), [f"P({p['x']} > {p['y']})" for p in rows], fontsize=8)
            ax.set_xlim(-0.02, 1.02)
            ax.set_title(metric, fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / "improvement.png", dpi=100)
        drawn.append("plots/improvement.png")

    fig = Figure(figsize=(4.5 * len(metrics), 3.4))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        prof = result["results"][metric]["profile"]
        for label, p in prof["variants"].items():
            ax.step(prof["tau"], p["fraction"], where="post", color=colors[label], label=label)
            ax.fill_between(prof["tau"], p["ci_low"], p["ci_high"], step="post", color=colors[label], alpha=0.2)
        ax.set_xlabel(f"{metric} (tau)", fontsize=8)
        ax.set_ylabel("fraction of runs > tau")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "profile.png", dpi=100)
    drawn.append("plots/profile.png")

    if result.get("curves"):
        panels = result["curves"]
        fig = Figure(figsize=(4.5 * len(panels), 3.4))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            for label, c in panel["variants"].items():
                ax.plot(c["step"], c["mean"], color=colors[label], label=label)
                ax.fill_between(c["step"], c["ci_low"], c["ci_high"], color=colors[label], alpha=0.2)
            ax.set_title(f"{panel['stage']}: {panel['metric']} ({panel['split']})", fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "curves.png", dpi=100)
        drawn.append("plots/curves.png")
    return drawn
