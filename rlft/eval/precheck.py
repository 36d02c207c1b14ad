"""Can this RL stage learn at all? A pre-run check of its starting model (`rlft check RECIPE`, or at the
start of a grpo/rloo/ppo/online_dpo stage with `check: {enabled: true}`).

It samples k completions per prompt from the starting model on a slice of the training data, as the trainer
will, scores them with the stage's rewards and the verifier, and reports pass@1 and pass@k, the reward's
mean and spread, the fraction of prompt groups whose k samples all get one reward (GRPO and RLOO compute
zero advantages there: no learning signal), format compliance and lengths. "Cannot learn" means pass@k = 0
(the verifier never passes a sample) or more zero-variance groups than `check.max_zero_variance`; with
`check.require_signal: true` the stage then stops before training. Measured on a 2-core CPU, GRPO gave no
gain from starts below ~0.3 greedy accuracy, where most groups had zero variance, while the quickstart's
starts at 0.465-0.580 gained +0.225 to +0.400 (docs/quickstart_seeds.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from rlft.eval.evaluate import as_completions, generate, mean, score_all, std
from rlft.eval.metrics import fraction_passing, isolated_rng, mean_pass_at_k
from rlft.rewards.checker import is_flat

DEFAULT_K = 8


@dataclass
class CheckReport:
    """What `run_check` measured; `ok` is False when the stage cannot learn (`problems` says why)."""

    stage: str
    model: str
    prompts: int
    k: int
    temperature: float
    max_new_tokens: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "ok": self.ok}

    def render(self) -> str:
        """Plain text, one fact per line."""
        m = self.metrics
        f = lambda v: "n/a" if v is None else f"{v:.3g}"  # noqa: E731
        lines = [f"check of stage '{self.stage}': {self.model}",
                 f"  {self.prompts} training prompts x {self.k} samples, temperature {self.temperature}, "
                 f"at most {self.max_new_tokens} new tokens"]  # fmt: skip
        passes = ", ".join(f"{key} {f(v)}" for key, v in m.items() if key.startswith("pass@"))
        if passes:
            lines.append(f"  {passes} (verifier {m.get('verifier')})")
        if m.get("reward") is not None:
            lines.append(f"  reward: mean {f(m['reward'])}, std {f(m.get('reward_std'))}")
        if m.get("zero_variance") is not None:
            lines.append(f"  zero-variance groups: {m['zero_variance']:.0%} of prompts get one {m['scored_by']} "
                         f"score for all {self.k} samples (no GRPO/RLOO signal from them)")
        if m.get("format_compliance") is not None:
            lines.append(f"  format compliance: {f(m['format_compliance'])}")
        lines.append(f"  lengths: mean {f(m.get('completions/mean_length'))}, max {f(m.get('completions/max_length'))}"
                     f" tokens; {m.get('completions/clipped_ratio') or 0:.0%} hit the limit")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  CANNOT LEARN: {p}" for p in self.problems]
        lines.append("  verdict: " + ("ok, the stage can learn" if self.ok else "the stage cannot learn as set up"))
        return "\n".join(lines)


def run_check(model, tokenizer, rows, rewards: list[tuple[Callable, float]], verifier: Callable | None, k: int,
              temperature: float, max_new_tokens: int, batch_size: int = 64, seed: int = 0,
              format_fn: Callable | None = None, max_zero_variance: float = 0.9, stage: str = "",
              model_name: str = "") -> CheckReport:
    """Sample k completions for each row of `rows` (a Dataset with `prompt`) and judge them; see the module
    docstring. Sampling is seeded and leaves torch's global generator as it was."""
    prompts = rows["prompt"]
    columns = {c: rows[c] for c in rows.column_names if c not in ("prompt", "completion")}
    with isolated_rng(seed, next(model.parameters()).device):
        texts, lengths, ended = generate(model, tokenizer, prompts, max_new_tokens, batch_size, k, temperature)
    rep_prompts = [p for p in prompts for _ in range(k)]
    rep_columns = {c: [v for v in col for _ in range(k)] for c, col in columns.items()}
    completions = as_completions(rep_prompts, texts)
    groups = lambda values: [values[i * k : (i + 1) * k] for i in range(len(prompts))]  # noqa: E731
    report = CheckReport(stage, model_name, len(prompts), k, temperature, max_new_tokens)
    m = report.metrics
    verdicts = None
    if verifier is not None:
        verdicts = verifier(completions, prompts=rep_prompts, **rep_columns)
        flags = [None if v is None else v == 1.0 for v in verdicts]
        m.update(mean_pass_at_k(groups(flags), sorted({1, k})))
        m["verifier"] = getattr(verifier, "__name__", "verifier")
    if rewards:
        total, per_fn = score_all(rewards, completions, prompts=rep_prompts, **rep_columns)
        m.update({"reward": mean(total), "reward_std": std(total), **per_fn})
        scored, m["scored_by"] = total, "reward"
    else:
        scored, m["scored_by"] = verdicts, "verifier"
    if scored is not None:
        m["zero_variance"] = sum(is_flat(g) for g in groups(scored)) / len(prompts)
    if format_fn is not None:
        m["format_compliance"] = fraction_passing(format_fn(completions, prompts=rep_prompts, **rep_columns))
    m["completions/mean_length"] = mean(lengths)
    m["completions/max_length"] = float(max(lengths))
    m["completions/clipped_ratio"] = mean([0.0 if e else 1.0 for e in ended])
    judge(report, max_zero_variance)
    return report


def judge(report: CheckReport, max_zero_variance: float) -> CheckReport:
    """Fill `problems` (the stage cannot learn) and `warnings` from the measured metrics.

    >>> r = judge(CheckReport("s", "m", 32, 8, 1.0, 5, {"pass@8": 0.0, "zero_variance": 1.0}), 0.9)
    >>> [p.split(":")[0] for p in r.problems]
    ['pass@8 = 0', 'zero-variance groups 1 > max_zero_variance 0.9']
    >>> judge(CheckReport("s", "m", 32, 8, 1.0, 5, {"pass@8": 0.5, "zero_variance": 0.2}), 0.9).ok
    True
    """
    m, k = report.metrics, report.k
    if m.get(f"pass@{k}") == 0.0:
        report.problems.append(f"pass@{k} = 0: the starting model solves none of {report.prompts} prompts in {k} "
                               "samples, so no sample ever earns the verifier's reward")
    zero = m.get("zero_variance")
    if zero is not None and zero > max_zero_variance:
        report.problems.append(f"zero-variance groups {zero:.3g} > max_zero_variance {max_zero_variance}: "
                               f"almost every prompt's {k} samples get one {m.get('scored_by')} score, so GRPO/RLOO "
                               "advantages are zero")
    elif zero is not None and zero > 0.5:
        report.warnings.append(f"{zero:.0%} of prompt groups have zero reward variance: most prompts teach nothing")
    if (m.get("completions/clipped_ratio") or 0.0) > 0.5:
        report.warnings.append(f"{m['completions/clipped_ratio']:.0%} of samples hit the length limit "
                               f"({report.max_new_tokens} tokens) without ending")
    if m.get("format_compliance") == 0.0:
        report.warnings.append("no sample follows the format (format_compliance = 0)")
    return report


# ---------------------------------------------------------------- from a recipe stage










