"""Time `rlft run recipes/quickstart.yaml` end to end (Python start-up included) and run the random-reward
control; print a markdown table and, with --write, save it.

    python bench/quickstart.py --repeats 3 --write docs/quickstart_bench.md

Each run is a fresh process, as a user would start it. The control replaces the GRPO reward with seeded
coin flips (`random_reward`): the same optimiser, no information about the task.
"""

from __future__ import annotations

import argparse
import json
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


def row(label: str, seed: int, summary: dict, wall: float) -> str:
    """One table row: SFT steps, accuracy after SFT and after GRPO, the change, and the process wall time."""
    stages = summary["stages"]
    before, after = stages["eval_sft"]["eval"]["accuracy"], stages["eval_grpo"]["eval"]["accuracy"]
    steps = stages["sft"]["train"]["global_step"]
    return f"| {label} | {seed} | {steps} | {before:.3f} | {after:.3f} | {after - before:+.3f} | {wall:.1f} |"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="*", default=[0], help="seeds for the timed runs (cycled)")
    p.add_argument("--no-control", action="store_true")
    p.add_argument("--write", type=Path)
    args = p.parse_args()

    rows, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            seed = args.seeds[i % len(args.seeds)]
            wall, summary = run_once(Path(tmp) / f"run{i}", [f"seed={seed}"])
            walls.append(wall)
            rows.append(row("quickstart", seed, summary, wall))
            print(rows[-1], flush=True)
        if not args.no_control:
            seed = args.seeds[0]
            wall, summary = run_once(Path(tmp) / "control", [f"seed={seed}", CONTROL])
            rows.append(row("control: random reward", seed, summary, wall))
            print(rows[-1], flush=True)

    versions = ", ".join(f"{n} {metadata.version(n)}" for n in ("torch", "transformers", "trl", "peft"))
    text = "\n".join([
        f"Measured {date.today()} on {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"Python {platform.python_version()}, {versions}; command: `python bench/quickstart.py "
        f"--repeats {args.repeats} --seeds {' '.join(map(str, args.seeds))}`.",
        "",
        "| run | seed | SFT steps | accuracy after SFT | after GRPO | change | wall s (process) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Median wall time of the {len(walls)} quickstart runs: **{statistics.median(walls):.1f} s**.",
    ])  # fmt: skip
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text + "\n")


if __name__ == "__main__":
    main()
