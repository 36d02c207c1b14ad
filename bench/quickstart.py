"""Time `rlft run recipes/quickstart.yaml` end to end (Python start-up included) for one or more seeds, and
run the random-reward control; print a markdown table and, with --write, save it.

    python bench/quickstart.py --repeats 3 --seeds 0 1 2 3 4 --write docs/quickstart_seeds.md

Every seed runs `--repeats` times, each in a fresh process, as a user would start it (held-out accuracy is
deterministic for a seed and thread count; the repeats are there for the wall time, whose per-seed median is
reported). The control replaces the GRPO reward with seeded coin flips (`random_reward`): the same optimiser,
no information about the task; it runs once for each of `--control-seeds` (default: the first seed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

CONTROL = "stages.grpo.rewards=[{name: random_reward, kwargs: {seed: 0}}]"


def run_once(run_dir: Path, extra: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rlft.cli", "run", "recipes/quickstart.yaml", "--run-dir", str(run_dir), *extra],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    summary = json.loads((run_dir / "summary.json").read_text())
    return wall, summary


def accuracies(summary: dict) -> tuple[int, float, float]:
    """(SFT steps, accuracy after SFT, accuracy after GRPO) of one run."""
    stages = summary["stages"]
    before, after = stages["eval_sft"]["eval"]["accuracy"], stages["eval_grpo"]["eval"]["accuracy"]
    return stages["sft"]["train"]["global_step"], before, after


def row(label: str, seed: int, summary: dict, wall: float) -> str:
    """One table row: SFT steps, accuracy after SFT and after GRPO, the change, and the process wall time."""
    steps, before, after = accuracies(summary)
    return f"| {label} | {seed} | {steps} | {before:.3f} | {after:.3f} | {after - before:+.3f} | {wall:.1f} |"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3, help="runs per seed")
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--control-seeds", type=int, nargs="*", help="control seeds (default: the first)")
    p.add_argument("--no-control", action="store_true")
    p.add_argument("--write", type=Path)
    args = p.parse_args()
    control_seeds = [] if args.no_control else (args.seeds[:1] if args.control_seeds is None else args.control_seeds)

    rows, walls, results = [], {}, {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for i in range(args.repeats):
                wall, summary = run_once(Path(tmp) / f"s{seed}-{i}", [f"seed={seed}"])
                walls.setdefault(seed, []).append(wall)
                results[seed] = accuracies(summary)  # deterministic for a seed: every repeat gives the same
                rows.append(row("quickstart", seed, summary, wall))
                print(rows[-1], flush=True)
        controls = {}
        for seed in control_seeds:
            wall, summary = run_once(Path(tmp) / f"control-s{seed}", [f"seed={seed}", CONTROL])
            controls[seed] = accuracies(summary)
            rows.append(row("control: random reward", seed, summary, wall))
            print(rows[-1], flush=True)

    per_seed = [
        f"| {seed} | {steps} | {before:.3f} | {after:.3f} | {after - before:+.3f} | "
        f"{controls[seed][2]:.3f} | {statistics.median(walls[seed]):.1f} |"
        if seed in controls else
        f"| {seed} | {steps} | {before:.3f} | {after:.3f} | {after - before:+.3f} | - | "
        f"{statistics.median(walls[seed]):.1f} |"
        for seed, (steps, before, after) in results.items()
    ]  # fmt: skip
    all_walls = [w for ws in walls.values() for w in ws]
    load = f"1-minute load average {load_before:.1f} when the bench started"
    if os.environ.get("OMP_WAIT_POLICY"):
        load += f"; OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    versions = ", ".join(f"{n} {metadata.version(n)}" for n in ("torch", "transformers", "trl", "peft"))
    command = f"python bench/quickstart.py --repeats {args.repeats} --seeds {' '.join(map(str, args.seeds))}"
    if args.no_control:
        command += " --no-control"
    elif args.control_seeds is not None:
        command += f" --control-seeds {' '.join(map(str, args.control_seeds))}"
    text = "\n".join([
        f"Measured {date.today()} on {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"Python {platform.python_version()}, {versions}, {os.cpu_count()} CPUs ({load}); command: `{command}`.",
        "",
        f"Per seed (accuracy is the same in every repeat of a seed; wall time is the median of its "
        f"{args.repeats} runs, process start included):",
        "",
        "| seed | SFT steps | accuracy after SFT | after GRPO | change | after GRPO, random reward | median wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *per_seed,
        "",
        f"Median wall time of all {len(all_walls)} quickstart runs: **{statistics.median(all_walls):.1f} s** "
        f"(slowest seed median {max(statistics.median(w) for w in walls.values()):.1f} s).",
        "",
        "Every run:",
        "",
        "| run | seed | SFT steps | accuracy after SFT | after GRPO | change | wall s (process) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ])  # fmt: skip
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text + "\n")


if __name__ == "__main__":
    main()
