"""A sweep over seeds one after another against the same sweep with `--jobs 2`: wall time of each and the ratio.

    python bench/parallel_seeds.py --full --write docs/benchmarks.md

Both are `rlft run recipes/quickstart.yaml --seeds 0-3 [--jobs 2]` in a fresh process, as a user would start
them. The sequential sweep runs each seed with the recipe's threads; with `--jobs 2` each of the two processes
gets half the cores (rlft/runner/seed_jobs.py), so the final accuracies are those of 1-thread runs and may differ in
the last digits from the sequential ones. The quickstart is shortened by default (`--overrides`) so the bench
takes minutes; `--full` runs it whole.
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


def sweep(folder: Path, seeds: str, jobs: int, overrides: list[str]) -> float:
    """Wall seconds of one `rlft run --seeds` process (Python start included)."""
    cmd = [sys.executable, "-m", "rlft.cli", "run", "recipes/quickstart.yaml", "--seeds", seeds, "--jobs", str(jobs),
           "--run-dir", str(folder), *overrides]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, env=user_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"sweep failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - start


def finals(folder: Path) -> dict[int, tuple[int, float]]:
    """{seed: (torch threads, final held-out accuracy)} of a finished sweep."""
    out = {}
    for seed in json.loads((folder / "sweep.json").read_text())["seeds"]:
        summary = json.loads((folder / f"s{seed}" / "summary.json").read_text())
        env = json.loads((folder / f"s{seed}" / "env.json").read_text())
        out[seed] = env["torch_threads"], summary["stages"]["eval_grpo"]["eval"]["accuracy"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-3")
    p.add_argument("--jobs", type=int, default=2)
    quickstart_options(p)
    args = p.parse_args()
    overrides = quickstart_overrides(args)
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        seq = sweep(Path(tmp) / "seq", args.seeds, 1, overrides)
        print(f"one after another: {seq:.1f} s", flush=True)
        par = sweep(Path(tmp) / "par", args.seeds, args.jobs, overrides)
        print(f"--jobs {args.jobs}: {par:.1f} s", flush=True)
        a, b = finals(Path(tmp) / "seq"), finals(Path(tmp) / "par")
    lines = [
        f"`{command_line()}` (quickstart{' with ' + ' '.join(overrides) if overrides else ''}, seeds {args.seeds}); "
        f"{environment()}; load average before: {load}.",
        "",
        "| sweep | wall s | x one after another | threads per run | final accuracy per seed |",
        "| --- | --- | --- | --- | --- |",
        f"| one after another | {seq:.1f} | 1.00 | {sorted({t for t, _ in a.values()})} | "
        f"{', '.join(f's{s} {acc:.3f}' for s, (_, acc) in sorted(a.items()))} |",
        f"| --jobs {args.jobs} | {par:.1f} | {par / seq:.2f} | {sorted({t for t, _ in b.values()})} | "
        f"{', '.join(f's{s} {acc:.3f}' for s, (_, acc) in sorted(b.items()))} |",
        "",
        f"`--jobs {args.jobs}` took {par / seq:.2f}x the wall time of the sweep run one seed after another "
        "(goal: at most 0.6x).",
    ]
    emit("\n".join(lines), args.write)


if __name__ == "__main__":
    main()
