"""Check a reward before training with it (`rlft check-reward`): does it keep TRL's contract on awkward
completions and on the recipe's rows, is it deterministic and fast, what range does it span, and would a
GRPO group of answers to one prompt get different rewards (else that prompt teaches nothing)?

Groups are sampled from a model when one is given (`model=`, k completions per prompt); otherwise each
row's group is synthetic: its gold completion, perturbed copies of it, and the fixtures below.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field

from rlft.rewards.guard import Guard, RewardError, RewardTimeout
from rlft.rewards.text import completion_text, shorten

# Completions that break careless rewards: one of each kind the issue tracker keeps seeing.
FIXTURES: dict[str, str] = {
    "empty": "",
    "whitespace": " \n\t ",
    "truncated": "<think>\nFirst add the ones: 7 + 8 = 1",
    "malformed_tags": "<think>7 + 8</answer><answer>15</think>",
    "very_long": "Let me think about it. " * 2000,
    "unicode": "Ответ: ١٥ ✓ — 十五 🙂 <answer>15</answer>",
    "code_fenced": "```python\nprint(7 + 8)\n```",
    "repeated_answer": "15 " * 400,
}
# Seconds a call may take in `check-reward` before it counts as hung (`--timeout`; training has no limit
# unless a reward sets `timeout`).
TIMEOUT = 10.0
# A row to score the fixtures against when no recipe gives one.
DEFAULT_ROW = {"prompt": [{"role": "user", "content": "7+8="}], "answer": "15", "solution": "15"}


def perturb(text: str) -> list[str]:
    """Near misses of a gold answer: last digit changed, last character dropped, doubled, and wrapped.

    >>> perturb("46")
    ['47', '4', '4646', 'The answer is 46.']
    >>> perturb("")
    []
    """
    if not text:
        return []
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    out = []
    if digits:
        i = digits[-1]
        out.append(text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :])
    out += [text[:-1], text + text, f"The answer is {text}."]
    return [t for t in dict.fromkeys(out) if t != text]


def gold_text(row: dict) -> str | None:
    """The reference completion of a row: its `completion`, else its `answer` or `solution`."""
    for column in ("completion", "answer", "solution"):
        if row.get(column) is not None:
            return completion_text(row[column]) if column == "completion" else str(row[column])
    return None


def is_flat(scores: list) -> bool:
    """True when a group's rewards carry no learning signal: all None, or all the same number.

    >>> is_flat([1.0, 1.0, None]), is_flat([None, None]), is_flat([0.0, 1.0])
    (True, True, False)
    """
    kept = {s for s in scores if s is not None}
    return len(kept) <= 1


@dataclass
class Batch:
    """One call of the reward on one batch: what came back and how long it took."""

    label: str
    n: int
    seconds: float = 0.0
    none: int = 0
    nan: int = 0
    violation: str | None = None
    scores: list = field(default_factory=list)
    hung: bool = False  # outlived the time limit: later calls are skipped


@dataclass
class RewardCheck:
    """What `check_reward` found; `ok` is False when the reward broke TRL's contract."""

    name: str
    batches: list[Batch]
    fixture_scores: dict[str, float | None]
    deterministic: bool
    group_source: str
    groups: int
    flat_groups: int
    low: float | None
    high: float | None
    mean: float | None
    std: float | None
    violations: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def flat_fraction(self) -> float | None:
        return self.flat_groups / self.groups if self.groups else None

    def to_dict(self) -> dict:
        out = asdict(self)
        for b in out["batches"]:
            del b["scores"]
        return {**out, "ok": self.ok, "flat_fraction": self.flat_fraction}

    def render(self) -> str:
        """A plain-text report, one fact per line."""
        lines = [f"reward '{self.name}': {'ok' if self.ok else 'CONTRACT VIOLATED'}"]
        for b in self.batches:
            rate = f"{1000 * b.seconds:.1f} ms ({1e6 * b.seconds / max(b.n, 1):.0f} us per completion)"
            state = b.violation or f"list of {b.n}, {b.none} None, {b.nan} NaN"
            lines.append(f"  {b.label}: {b.n} completions, {rate}: {state}")
        if not self.batches[0].violation:
            lines.append("  fixtures: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.fixture_scores.items()))
        if not any(b.violation for b in self.batches[1:]):
            lines.append(f"  deterministic across two calls: {'yes' if self.deterministic else 'NO'}")
        if self.low is not None:
            lines.append(f"  range on rows: [{self.low:.4g}, {self.high:.4g}], mean {self.mean:.4g}, "
                         f"std {self.std:.4g}")
        if self.groups:
            lines.append(f"  groups ({self.group_source}): {self.flat_groups} of {self.groups} "
                         f"({self.flat_fraction:.0%}) flat, i.e. one reward for every answer (no GRPO/RLOO signal)")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  violation: {v}" for v in self.violations]
        return "\n".join(lines)


def _fmt(value) -> str:
    return "None" if value is None else f"{value:.3g}" if isinstance(value, float) else shorten(repr(value), 40)


def _call(fn, label: str, completions: list, kwargs: dict, timeout: float | None = None) -> Batch:
    """Call the reward once through the guard, timing it, and record any contract violation (an exception,
    sys.exit, outliving `timeout`) instead of raising."""
    guard = Guard(fn, timeout)
    batch = Batch(label, len(completions))
    start = time.perf_counter()
    try:
        raw = guard.raw(completions, kwargs)
    except RewardError as e:
        batch.seconds = time.perf_counter() - start
        batch.violation, batch.hung = str(e), isinstance(e, RewardTimeout)
        return batch
    batch.seconds = time.perf_counter() - start
    if isinstance(raw, list | tuple):
        batch.none = sum(s is None for s in raw)
        batch.nan = sum(isinstance(s, float) and math.isnan(s) for s in raw)
    try:
        batch.scores = guard.check(raw, completions)
    except RewardError as e:
        batch.violation = str(e)
    return batch


def _columns(rows: list[dict], repeats: list[int]) -> dict[str, list]:
    """Keyword columns for a flat batch in which row i appears repeats[i] times (prompts under `prompts`)."""
    names = {k for row in rows for k in row if k != "completion"}
    out = {("prompts" if k == "prompt" else k): [row.get(k) for row, r in zip(rows, repeats) for _ in range(r)]
           for k in names}
    return out


def _as_completion(text: str, conversational: bool):
    return [{"role": "assistant", "content": text}] if conversational else text


def check_reward(fn, rows: list[dict] | None = None, samples: list[list[str]] | None = None,
                 sample_source: str = "", timeout: float | None = TIMEOUT) -> RewardCheck:
    """Run `fn` on the fixtures and on `rows` (dataset rows as dicts; a default arithmetic row if None).

    `samples[i]` are completions sampled for rows[i] (the groups); without them each row's group is its
    gold completion, perturbations of it and the fixtures. A call that outlives `timeout` seconds (None:
    no limit) is a violation, and the remaining calls are skipped.
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    rows = list(rows) if rows else [DEFAULT_ROW]
    conversational = isinstance(rows[0].get("prompt"), list)
    violations, warnings = [], []

    fixture_completions = [_as_completion(t, conversational) for t in FIXTURES.values()]
    fixtures = _call(fn, "fixtures", fixture_completions, _columns(rows[:1], [len(FIXTURES)]), timeout)
    fixture_scores = dict(zip(FIXTURES, fixtures.scores or [None] * len(FIXTURES)))

    if samples is not None:
        groups, source = [list(g) for g in samples], sample_source or "sampled"
    else:
        groups, source = [], "gold, perturbed gold and fixtures"
        for row in rows:
            gold = gold_text(row)
            groups.append(([gold, *perturb(gold)] if gold else []) + list(FIXTURES.values()))
    completions = [_as_completion(t, conversational) for g in groups for t in g]
    kwargs = _columns(rows, [len(g) for g in groups])
    batches = [fixtures]
    for label in ("rows", "rows again"):
        if batches[-1].hung:
            batches.append(Batch(label, len(completions), hung=True, violation="not called: an earlier call "
                                 f"outlived the time limit of {timeout:g} s"))
        else:
            batches.append(_call(fn, label, completions, kwargs, timeout))
    first, second = batches[1:]
    violations += list(dict.fromkeys(b.violation for b in batches if b.violation))

    deterministic = first.violation is None and second.violation is None and first.scores == second.scores
    if not deterministic and not (first.violation or second.violation):
        changed = sum(a != b for a, b in zip(first.scores, second.scores))
        warnings.append(f"{changed} of {first.n} scores changed between two calls on the same input: "
                        "a non-deterministic reward makes runs irreproducible (seed it)")
    kept = [s for s in first.scores if s is not None]
    low = high = avg = std = None
    if kept:
        low, high, avg, std = min(kept), max(kept), statistics.fmean(kept), statistics.pstdev(kept)
        if high == low:
            warnings.append(f"every row scores {low}: the reward cannot tell answers apart")
    elif first.violation is None:
        warnings.append("the reward returned None for every row: it does not apply to this data "
                        "(check the column names it reads)")
    flat = 0
    if first.scores:
        start = 0
        for g in groups:
            flat += is_flat(first.scores[start : start + len(g)])
            start += len(g)
        if groups and flat / len(groups) > 0.5:
            warnings.append(f"{flat} of {len(groups)} groups get one reward for every answer: GRPO and RLOO "
                            "learn nothing from those prompts")
    per_completion = first.seconds / max(first.n, 1)
    if per_completion > 0.01:
        warnings.append(f"{1000 * per_completion:.1f} ms per completion: at 8 x 64 completions per step this "
                        f"adds {512 * per_completion:.1f} s to every step")
    return RewardCheck(name, batches, fixture_scores, deterministic, source, len(groups) if first.scores else 0, flat,
                       low, high, avg, std, violations, warnings)




