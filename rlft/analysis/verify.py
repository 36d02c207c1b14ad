"""`rlft verify RECIPE...`: does a recipe still keep the promise of its `expect:` block (rlft/core/expect.py)?

For each recipe it runs the seeds into one sweep folder (seeds already finished there are reused), takes the
metric of every run, and judges each claim on the IQM over seeds and its stratified bootstrap interval
(rlft.analysis.stats, after rliable): a floor **holds** when the whole interval is at or above it, **fails** when
the whole interval is below, and is **undecided** when the interval straddles it (more seeds decide); a band holds
when the interval lies inside it and fails when the interval lies wholly outside. `--against RUNS` adds the
probability that the new runs beat stored runs of an earlier version (rlft compare's statistic) and flags a drop
when its whole interval is below 1/2. Writes verify.json and verify.md into each sweep folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlft.analysis import stats
from rlft.analysis.comparison import metric_value
from rlft.core.expect import DEFAULT_METRIC, ExpectSpec
from rlft.core.schema import ConfigError
from rlft.core.tracking import write_json, write_text
from rlft.runner.recipe import load_recipe
from rlft.runner.sweeps import Run, find_runs, read_sweep, run_seeds, start

REPS = 20_000  # bootstrap replicates per interval: its percentile ends move by < 0.005 between seeds
VERDICTS = ("holds", "undecided", "fails")


def judge(kind: str, bound, low: float, high: float) -> str:
    """The verdict on a claim from the interval [low, high] of its statistic.

    >>> [judge("floor", 0.7, *ci) for ci in ((0.72, 0.9), (0.6, 0.8), (0.5, 0.69))]
    ['holds', 'undecided', 'fails']
    >>> [judge("band", [0.7, 0.9], *ci) for ci in ((0.72, 0.88), (0.65, 0.8), (0.91, 0.95))]
    ['holds', 'undecided', 'fails']
    """
    if kind == "floor":
        return "holds" if low >= bound else "fails" if high < bound else "undecided"
    lo, hi = bound
    if lo <= low and high <= hi:
        return "holds"
    return "fails" if high < lo or low > hi else "undecided"


def stage_value(run: Run, stage: str, metric: str) -> float:
    """What an earlier stage measured of the claim's metric: its held-out accuracy for `final_accuracy`, else the
    same summary path under that stage (`stages.grpo.episodes.env/success` -> `stages.sft.episodes.env/success`).

    >>> run = Run(Path("s0"), "v", 0, {"stages": {"sft": {"episodes": {"env/success": 0.25}}}})
    >>> stage_value(run, "sft", "stages.grpo.episodes.env/success")
    0.25
    """
    if metric == DEFAULT_METRIC:
        entry = run.summary.get("stages", {}).get(stage, {})
        value = entry.get("eval", {}).get("accuracy") if isinstance(entry.get("eval"), dict) else None
        if value is None:
            raise ConfigError("expect.gain_over", f"stage '{stage}' measured no held-out accuracy in {run.path} "
                              "(name a stage with an eval: block, or an eval stage)")
        return float(value)
    head, _, rest = metric.partition(".")
    if head != "stages" or "." not in rest:
        raise ConfigError("expect.gain_over", f"a gain needs a stage's metric: expect.metric '{metric}' is not "
                          "final_accuracy or stages.<stage>.<...>")
    path = f"stages.{stage}.{rest.split('.', 1)[1]}"
    try:
        return metric_value(run.summary, path, str(run.path))
    except ConfigError as e:
        raise ConfigError("expect.gain_over", e.message) from None


def check_claims(expect: ExpectSpec, runs: list[Run], reps: int = REPS, confidence: float = stats.CONFIDENCE,
                 seed: int = 0) -> list[dict]:
    """Each claim of `expect` judged on the runs: the statistic, its interval, the per-seed values, the verdict."""
    values = np.array([metric_value(r.summary, expect.metric, str(r.path)) for r in runs])
    out = []
    for name, kind, bound in expect.claims():
        x = values
        if name == "gain":
            x = values - np.array([stage_value(r, expect.gain_over, expect.metric) for r in runs])
        point = float(stats.iqm(x))
        low, high = stats.interval(x, stats.iqm, reps, confidence, seed)
        before = "accuracy" if expect.metric == DEFAULT_METRIC else "value"
        what = f"IQM of {expect.metric}" + (f" - {expect.gain_over} {before}" if name == "gain" else "")
        out.append({"claim": what, "kind": kind, "bound": bound, "iqm": point, "ci_low": low, "ci_high": high,
                    "values": x.tolist(), "seeds": [r.seed for r in runs], "verdict": judge(kind, bound, low, high)})
    return out


def against(runs: list[Run], older: str, metric: str, reps: int = REPS, confidence: float = stats.CONFIDENCE,
            seed: int = 0) -> dict:
    """P(new > old) on the metric against stored runs of an earlier version, with its interval; `drop` when the
    whole interval is below 1/2."""
    old = find_runs(older)
    x = [metric_value(r.summary, metric, str(r.path)) for r in runs]
    y = [metric_value(r.summary, metric, str(r.path)) for r in old]
    p = float(stats.probability_of_improvement(x, y))
    low, high = stats.improvement_interval(x, y, reps, confidence, seed)
    return {"against": str(older), "n_old": len(old), "prob_improvement": p, "ci_low": low, "ci_high": high,
            "drop": high < 0.5}


def verify(recipe: str, seeds: list[int] | None = None, overrides: list[str] | None = None, run_dir=None,
           jobs: int = 1, older: str | None = None, echo: Callable[[str], None] = print,
           use_cache: bool = True) -> dict:
    """Run (or reuse) the seeds of one recipe and judge its `expect:` claims; returns what verify.json holds."""
    loaded = load_recipe(recipe, overrides)
    if loaded.expect is None:
        raise ConfigError("expect", f"{recipe} has no expect: block (what it promises over seeds; see "
                          "docs/verify.md)")
    seeds = list(seeds) if seeds is not None else list(loaded.expect.seeds)
    folder = Path(run_dir) if run_dir else Path(loaded.output_dir) / loaded.name / "verify"
    path = start(recipe, overrides, folder, jobs=jobs, echo=echo)
    missing = [s for s in seeds if s not in read_sweep(path)["seeds"]]
    if missing:
        echo(f"rlft verify: {loaded.name}: running seeds {', '.join(map(str, missing))} into {path}")
        run_seeds(path, missing, jobs, echo=echo, use_cache=use_cache)
    runs = sorted((r for r in find_runs(path) if r.seed in seeds), key=lambda r: r.seed)
    result = {"recipe": loaded.name, "source": str(recipe), "sweep": str(path), "metric": loaded.expect.metric,
              "measured": loaded.expect.measured, "claims": check_claims(loaded.expect, runs)}
    if older is not None:
        result["against"] = against(runs, older, loaded.expect.metric)
    write_json(path / "verify.json", result)
    write_text(path / "verify.md", render([result]), "the verification report")
    return result


def failed(result: dict) -> bool:
    """Whether a claim fails or the runs dropped against stored ones (undecided is not a failure)."""
    return any(c["verdict"] == "fails" for c in result["claims"]) or result.get("against", {}).get("drop", False)


def render(results: list[dict]) -> str:
    """The verdicts as a markdown table (the console shows the same table)."""
    lines = ["| recipe | claim | bound | IQM | 95% CI | seeds | verdict |", "|" + " --- |" * 7]
    for r in results:
        for c in r["claims"]:
            bound = f">= {c['bound']}" if c["kind"] == "floor" else f"in [{c['bound'][0]}, {c['bound'][1]}]"
            seeds = ", ".join(map(str, c["seeds"]))
            lines.append(f"| {r['recipe']} | {c['claim']} | {bound} | {c['iqm']:.3f} | "
                         f"[{c['ci_low']:.3f}, {c['ci_high']:.3f}] | {seeds} | **{c['verdict']}** |")
        if "against" in r:
            a = r["against"]
            verdict = "**drop**" if a["drop"] else "no significant drop"
            lines.append(f"| {r['recipe']} | P(new > runs in {a['against']}) | >= 0.5 unless a drop | "
                         f"{a['prob_improvement']:.3f} | [{a['ci_low']:.3f}, {a['ci_high']:.3f}] | "
                         f"{a['n_old']} stored | {verdict} |")
    return "\n".join(lines) + "\n"
