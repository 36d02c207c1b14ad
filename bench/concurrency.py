"""Two quickstarts side by side on one machine: wall time of each against one run alone, and whether each
gives the same numbers as the run alone (metrics.jsonl byte for byte).

    python bench/concurrency.py --write docs/benchmarks.md
    python bench/concurrency.py --spinning          # also the pair as torch runs it without rlft (slow)

Each run is `rlft run recipes/quickstart.yaml` in a fresh process, started as a user would: the recipe's 2
threads each (two runs ask for 4 threads on a 2-core machine) and the OpenMP wait policy rlft sets (passive).
The pair starts both processes at the same moment, with the same seed, so each must reproduce the run alone
exactly. The quickstart is shortened by default (`--overrides`) so the bench takes minutes; `--full` runs it
whole.
`--spinning` adds the pair as it ran before rlft set the policy: torch imported before rlft, so OpenMP keeps its
default (idle threads spin a while before they sleep).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    command_line,
    emit,
    environment,
    loadavg,
    quickstart_options,
    quickstart_overrides,
    user_env,
)

TORCH_FIRST = "import torch, sys; from rlft.cli import main; sys.exit(main(sys.argv[1:]))"


def start(run_dir: Path, overrides: list[str], torch_first: bool) -> subprocess.Popen:
    """`rlft run` of the quickstart in a fresh process; `torch_first` imports torch before rlft, so OpenMP keeps
    its own wait policy (what happened before rlft set one)."""
    entry = ["-c", TORCH_FIRST] if torch_first else ["-m", "rlft.cli"]
    cmd = [sys.executable, *entry, "run", "recipes/quickstart.yaml", "--run-dir", str(run_dir), *overrides]
    return subprocess.Popen(cmd, env=user_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def together(dirs: list[Path], overrides: list[str], torch_first: bool = False) -> list[float]:
    """Start one run per folder at the same moment; wall seconds of each, process start included."""
    t0 = time.perf_counter()
    procs = [start(d, overrides, torch_first) for d in dirs]
    walls = [0.0] * len(procs)
    pending = set(range(len(procs)))
    while pending:
        for i in list(pending):
            if procs[i].poll() is not None:
                walls[i] = time.perf_counter() - t0
                pending.discard(i)
        time.sleep(0.05)
    for p, d in zip(procs, dirs):
        if p.returncode:
            raise SystemExit(f"run {d} failed ({p.returncode}): {p.stderr.read()[-2000:]}")
    return walls


def result(run_dir: Path) -> tuple[bytes, float, int, str]:
    """(metrics.jsonl bytes, final held-out accuracy, torch threads, OpenMP wait policy) of a finished run."""
    summary = json.loads((run_dir / "summary.json").read_text())
    env = json.loads((run_dir / "env.json").read_text())
    accuracy = summary["stages"]["eval_grpo"]["eval"]["accuracy"]
    return (run_dir / "metrics.jsonl").read_bytes(), accuracy, env["torch_threads"], env["omp_wait_policy"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spinning", action="store_true", help="also the pair with OpenMP's own wait policy (slow)")
    quickstart_options(p)
    args = p.parse_args()
    overrides = quickstart_overrides(args)
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (alone,) = together([tmp / "alone"], overrides)
        print(f"alone: {alone:.1f} s", flush=True)
        pair = together([tmp / "a", tmp / "b"], overrides)
        print(f"two at once: {pair[0]:.1f} s, {pair[1]:.1f} s", flush=True)
        base = result(tmp / "alone")
        rows = [("alone", [alone], base)] + [(f"two at once, run {n}", [w], result(tmp / n))
                                             for n, w in zip("ab", pair)]  # fmt: skip
        if args.spinning:
            spin = together([tmp / "sa", tmp / "sb"], overrides, torch_first=True)
            print(f"two at once, torch before rlft: {spin[0]:.1f} s, {spin[1]:.1f} s", flush=True)
            rows += [(f"two at once, torch imported before rlft, run {n}", [w], result(tmp / f"s{n}"))
                     for n, w in zip("ab", spin)]  # fmt: skip
    lines = [
        f"`{command_line()}` ({'quickstart with ' + ' '.join(overrides) if overrides else 'whole quickstart'}); "
        f"{environment()}; load average before: {load}.",
        "",
        "| runs | torch threads | OpenMP wait | wall s | x alone | final accuracy | metrics.jsonl as alone |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, (wall,), (metrics, accuracy, threads, policy) in rows:
        same = "yes" if metrics == base[0] else "no"
        lines.append(f"| {label} | {threads} | {policy} | {wall:.1f} | {wall / alone:.2f} | "
                     f"{accuracy:.3f} | {same} |")  # fmt: skip
    worst = max(pair) / alone
    reproduced = all(r[2][0] == base[0] for r in rows[1:3])
    lines += ["", f"Two at once with rlft's defaults: the slower took {worst:.2f}x the run alone (goal: at most "
              f"1.5x); both reproduce the run alone's metrics.jsonl: {'yes' if reproduced else 'no'}."]
    emit("\n".join(lines), args.write)


if __name__ == "__main__":
    main()
