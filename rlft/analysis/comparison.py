"""`rlft compare`: final metrics per variant across seeds, with intervals, pairwise probabilities of
improvement, performance profiles, learning curves and, with `adaptive`, an AdaStop test that runs seeds.

A variant is every run with one label: a sweep's label (recipe name and overrides), a run's recipe name,
or the `labels` given per input. The statistics are in rlft/analysis/stats.py and rlft/analysis/adastop.py; the files
written (compare.json, compare.md, plots/) are described in docs/compare.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from rlft.analysis import adastop, stats
from rlft.analysis import report as comparison_report
from rlft.core.expect import DEFAULT_METRIC  # each run's last held-out accuracy
from rlft.core.runfiles import read_jsonl
from rlft.core.schema import ConfigError
from rlft.core.tracking import write_json
from rlft.runner.recipe import load_recipe
from rlft.runner.sweeps import RECIPE_FILE, SWEEP_FILE, Run, final_accuracy, find_runs, read_sweep, run_seeds, start

PROFILE_REPS = 2_000  # rliable's create_performance_profile default; also used for learning-curve bands
CURVES = [("eval", "accuracy"), ("train", "reward")]  # (split, key) drawn per stage when logged at 2+ steps


def gather(paths: list, labels: list[str] | None = None) -> dict[str, list[Run]]:
    """Runs per variant label, each variant's runs sorted by seed; a run given twice counts once."""
    if labels and len(labels) != len(paths):
        raise ConfigError("--label", f"give one label per input: {len(labels)} labels for {len(paths)} inputs")
    variants: dict[str, list[Run]] = {}
    seen: set[Path] = set()
    for i, path in enumerate(paths):
        found = find_runs(path, labels[i] if labels else None)
        if not found:
            raise ConfigError("", f"{path} holds no finished run")
        for run in found:
            if run.path.resolve() not in seen:
                seen.add(run.path.resolve())
                variants.setdefault(run.label, []).append(run)
    for label, runs in variants.items():
        seeds = [r.seed for r in runs]
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        if twice:
            where = ", ".join(str(r.path) for r in runs if r.seed == twice[0])
            raise ConfigError("", f"variant '{label}' has seed {twice[0]} twice ({where}): the same seed is the "
                              "same run, not a new sample; give the inputs different --label values")
        runs.sort(key=lambda r: r.seed)
    return variants


def metric_value(summary: dict, metric: str, where: str) -> float:
    """A number from a run's summary.json by dotted path; `final_accuracy` is the last measured accuracy.

    >>> s = {"stages": {"grpo": {"train": {"rewards/numeric_match/mean": 0.8}}, "t": {"eval": {"accuracy": 0.5}}}}
    >>> metric_value(s, "stages.grpo.train.rewards/numeric_match/mean", "run"), metric_value(s, DEFAULT_METRIC, "run")
    (0.8, 0.5)
    """
    if metric == DEFAULT_METRIC:
        value = final_accuracy(summary)[1]
        if value is None:
            raise ConfigError("--metric", f"{where}: no stage measured held-out accuracy; name a metric with --metric")
        return float(value)
    node, parts, done = summary, metric.split("."), []
    while parts:
        # a key may itself hold dots: take the shortest run of parts that names a key
        for n in range(1, len(parts) + 1):
            key = ".".join(parts[:n])
            if isinstance(node, dict) and key in node:
                node, parts, done = node[key], parts[n:], [*done, key]
                break
        else:
            shown = ", ".join(sorted(map(str, node))[:20]) if isinstance(node, dict) else type(node).__name__
            at = ".".join(done) or "the top level"
            raise ConfigError("--metric", f"'{metric}' is not in {where}/summary.json: no '{parts[0]}' under "
                              f"{at} (there: {shown})")
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not np.isfinite(node):
        shown = f"a mapping (keys: {', '.join(sorted(map(str, node))[:20])})" if isinstance(node, dict) else repr(node)
        raise ConfigError("--metric", f"'{metric}' in {where}/summary.json is {shown[:200]}, not a finite number")
    return float(node)


def _seed(seed: int, *keys: str) -> list[int]:
    """A bootstrap seed per (metric, variant): results do not depend on which other variants are compared."""
    return [seed, *(zlib.crc32(k.encode()) for k in keys)]


def summarize(scores: dict[str, np.ndarray], metric: str, reps: int, confidence: float, seed: int) -> dict:
    """compare.json's entry for one metric: per variant the point estimates and intervals, per pair the
    probability of improvement, and the performance profile."""
    variants = {}
    for label, x in scores.items():
        entry = {"n": int(len(x)), "scores": [float(v) for v in x]}
        cis = {}
        for name, fn in stats.STATISTICS.items():
            entry[name] = float(fn(x))
            cis[name] = list(stats.interval(x, fn, reps, confidence, _seed(seed, metric, label, name)))
        entry.update(ci_low=cis["iqm"][0], ci_high=cis["iqm"][1], ci=cis)
        variants[label] = entry
    labels = list(scores)
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            low, high = stats.improvement_interval(scores[a], scores[b], reps, confidence, _seed(seed, metric, a, b))
            pairs.append({"x": a, "y": b, "prob_improvement": float(stats.probability_of_improvement(scores[a],
                          scores[b])), "ci_low": low, "ci_high": high})  # fmt: skip
    taus = stats.tau_grid(list(scores.values()))
    profile = {"tau": [float(t) for t in taus], "variants": {}}
    for label, x in scores.items():
        low, high = stats.profile_band(x, taus, min(reps, PROFILE_REPS), confidence, _seed(seed, metric, label, "p"))
        profile["variants"][label] = {"fraction": stats.performance_profile(x, taus).tolist(),
                                      "ci_low": low.tolist(), "ci_high": high.tolist()}
    return {"variants": variants, "pairs": pairs, "profile": profile}


def _records(run: Run) -> list[dict]:
    return read_jsonl(run.path / "metrics.jsonl", "the run's metrics")


def curves(variants: dict[str, list[Run]], reps: int, confidence: float, seed: int) -> list[dict]:
    """Learning curves across seeds: per stage and logged metric, per variant the mean at each step over the
    runs that logged that step, with a bootstrap interval of that mean."""
    series: dict[tuple, dict[str, dict[int, list[float]]]] = {}
    for label, runs in variants.items():
        for run in runs:
            for r in _records(run):
                for split, key in CURVES:
                    if r.get("split") == split and r.get(key) is not None:
                        steps = series.setdefault((r["stage"], split, key), {}).setdefault(label, {})
                        steps.setdefault(int(r["step"]), []).append(float(r[key]))
    out = []
    for (stage, split, key), by_label in series.items():
        if max(len(steps) for steps in by_label.values()) < 2:
            continue  # one point (an eval stage) is no curve
        panel = {"stage": stage, "split": split, "metric": key, "variants": {}}
        for label, steps in by_label.items():
            xs = sorted(steps)
            bands = [stats.interval(steps[s], stats.mean, min(reps, PROFILE_REPS), confidence,
                                    _seed(seed, stage, key, label, str(s))) for s in xs]
            panel["variants"][label] = {
                "step": xs, "mean": [float(np.mean(steps[s])) for s in xs], "n": [len(steps[s]) for s in xs],
                "ci_low": [b[0] for b in bands], "ci_high": [b[1] for b in bands],
            }  # fmt: skip
        out.append(panel)
    return out


def _adaptive(paths: list, labels: list[str] | None, metric: str, batch: int, max_seeds: int, alpha: float,
              permutations: int, seed: int, echo: Callable[[str], None], use_cache: bool, jobs: int = 1):
    """Run AdaStop over sweeps (or recipe files, each started as a new sweep), running the seeds it asks
    for; returns (runs per variant that the test used, the test's result)."""
    if batch < 1:
        raise ConfigError("--batch", f"must be at least 1, got {batch}")
    if max_seeds < batch or max_seeds % batch:
        raise ConfigError("--max-seeds", f"must be a multiple of --batch ({batch}), got {max_seeds}")
    if not 0.0 < alpha < 1.0 or permutations < 2:
        raise ConfigError("--alpha", f"need 0 < alpha < 1 and permutations >= 2, got {alpha} and {permutations}")
    if labels and len(labels) != len(paths):
        raise ConfigError("--label", f"give one label per input: {len(labels)} labels for {len(paths)} inputs")
    sweeps: dict[str, Path] = {}
    for i, p in enumerate(map(Path, paths)):
        is_recipe = p.is_file() and p.suffix in (".yaml", ".yml")
        if not is_recipe and not ((p / SWEEP_FILE).exists() and (p / RECIPE_FILE).exists()):
            raise ConfigError("--adaptive", f"{p} is not a sweep folder or a recipe file: the test runs more seeds "
                              "of a sweep (rlft run RECIPE --seeds ...), not of a single run")
        label = labels[i] if labels else load_recipe(p).name if is_recipe else read_sweep(p)["label"]
        if label in sweeps:
            raise ConfigError("--label", f"two inputs are both '{label}'; give them different --label values")
        sweeps[label] = p
    if len(sweeps) < 2:
        raise ConfigError("--adaptive", "needs two or more variants to compare")
    sweeps = {label: p if p.is_dir() else start(p, label=label, jobs=jobs, echo=echo) for label, p in sweeps.items()}
    order = {}
    for label, p in sweeps.items():
        done = sorted(read_sweep(p)["seeds"])
        order[label] = done + list(range(max(done, default=-1) + 1, max(done, default=-1) + 1 + max_seeds))
    used: dict[str, list[Run]] = {label: [] for label in sweeps}

    def sample(label: str, interim: int) -> list[float]:
        values = []
        wanted = order[label][interim * batch : (interim + 1) * batch]
        missing = [s for s in wanted if s not in read_sweep(sweeps[label])["seeds"]]
        if missing:
            echo(f"adastop: running '{label}' seeds {missing}" + (f", {jobs} at a time" if jobs > 1 else ""))
            run_seeds(sweeps[label], missing, jobs, echo=lambda line: None, use_cache=use_cache)
        for s in wanted:
            run = next(r for r in find_runs(sweeps[label], label) if r.seed == s)
            used[label].append(run)
            values.append(metric_value(run.summary, metric, str(run.path)))
        return values

    test = adastop.run(list(sweeps), sample, batch, max_seeds // batch, alpha, permutations, seed, echo)
    result = {"metric": metric, **test.result(), "sweeps": {k: str(v) for k, v in sweeps.items()}}
    return used, result


def compare(paths: list, metrics: list[str] | None = None, labels: list[str] | None = None, out=None,
            reps: int = stats.REPS, confidence: float = stats.CONFIDENCE, seed: int = 0, adaptive: bool = False,
            batch: int = 5, max_seeds: int = 20, alpha: float = adastop.ALPHA,
            permutations: int = adastop.PERMUTATIONS, echo: Callable[[str], None] = print,
            use_cache: bool = True, jobs: int = 1) -> dict:
    """Compare runs and sweeps; write compare.json, compare.md and plots/ to `out`; return compare.json's
    content (with `path`, the output folder). With `adaptive`, `jobs` seeds of a batch run at a time."""
    if not paths:
        raise ConfigError("", "give one or more run or sweep folders to compare")
    metrics = list(metrics or [DEFAULT_METRIC])
    if reps < 1 or not 0.0 < confidence < 1.0:
        raise ConfigError("--reps", f"need reps >= 1 and 0 < confidence < 1, got {reps} and {confidence}")
    if out and Path(out).exists() and not Path(out).is_dir():
        raise ConfigError("--out", f"'{out}' is a file; give a folder to write compare.md, compare.json and plots/ to")
    if adaptive:
        variants, test = _adaptive(paths, labels, metrics[0], batch, max_seeds, alpha, permutations, seed, echo,
                                   use_cache, jobs)
    else:
        variants, test = gather(paths, labels), None
    out = Path(out) if out else Path("runs") / "compare" / datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file on the way, no permission
        raise ConfigError("--out", f"cannot make the folder '{out}': {e.strerror}") from None
    result = {
        "path": str(out), "metrics": metrics, "reps": reps, "confidence": confidence, "seed": seed,
        "variants": {label: {"seeds": [r.seed for r in runs], "runs": [str(r.path) for r in runs]}
                     for label, runs in variants.items()},
        "results": {},
    }  # fmt: skip
    for metric in metrics:
        scores = {label: np.array([metric_value(r.summary, metric, str(r.path)) for r in runs])
                  for label, runs in variants.items()}
        result["results"][metric] = summarize(scores, metric, reps, confidence, seed)
    result["curves"] = curves(variants, reps, confidence, seed)
    if test is not None:
        result["adaptive"] = test
    result["plots"] = comparison_report.plot(result, out / "plots")
    write_json(out / "compare.json", result)
    (out / "compare.md").write_text(comparison_report.markdown(result))
    echo(comparison_report.console(result))
    echo(f"rlft: comparison written to {out}/compare.md")
    return result
