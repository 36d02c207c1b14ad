"""Seeds of a sweep in parallel: each seed is `rlft run <sweep>/recipe.yaml seed=S --run-dir <sweep>/sS` in its
own process, at most `jobs` at a time, with a thread budget that adds up to the cores.

A tiny model gains little from a second thread (the shortened quickstart: 43 s with 2 threads, 48 s with 1), so
two seeds at once with one thread each nearly halve a sweep on two cores. Each run's folder is the one a
sequential sweep writes, and its metrics.jsonl is byte for byte that of the seed run alone with the same thread
count. The parent streams every child's lines with its seed in front, keeps each child's output in
`<sweep>/logs/s<seed>.log`, and records a seed in sweep.json when its run finishes; a seed that fails does not
stop the others.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rlft.threads import usable_cores


def thread_budget(jobs: int, cores: int) -> int:
    """Threads per process when `jobs` processes share `cores` (at least one each).

    >>> thread_budget(2, 2), thread_budget(4, 2), thread_budget(3, 16)
    (1, 1, 5)
    """
    return max(1, cores // jobs)


def budget(jobs: int) -> int:
    """Threads per process for `jobs` parallel seeds on this machine's usable cores."""
    return thread_budget(jobs, usable_cores())


def command(sweep_dir: Path, recipe_file: str, seed: int, use_cache: bool) -> list[str]:
    """The command line of one seed, as a user would type it."""
    cmd = [sys.executable, "-m", "rlft.cli", "run", str(sweep_dir / recipe_file), f"seed={seed}",
           "--run-dir", str(sweep_dir / f"s{seed}")]  # fmt: skip
    return cmd + ([] if use_cache else ["--no-cache"])


def run_parallel(sweep_dir: Path, recipe_file: str, seeds: list[int], jobs: int, use_cache: bool,
                 echo: Callable[[str], None], on_done: Callable[[int], None]) -> dict[int, str]:
    """Run the seeds, at most `jobs` at a time; `on_done(seed)` after each finished run (in this process, so
    sweep.json has one writer). Returns {seed: why it failed} for the seeds whose run failed."""
    logs = sweep_dir / "logs"
    logs.mkdir(exist_ok=True)
    lock = threading.Lock()
    queue, running, failed = list(seeds), {}, {}

    def stream(seed: int, proc: subprocess.Popen, last: list[str]) -> None:
        with (logs / f"s{seed}.log").open("w") as log:
            for line in proc.stdout:
                log.write(line)
                line = line.rstrip("\n")
                if line.startswith("error:"):
                    last.append(line)
                with lock:
                    echo(f"[s{seed}] {line}")

    while queue or running:
        while queue and len(running) < jobs:
            seed = queue.pop(0)
            proc = subprocess.Popen(command(sweep_dir, recipe_file, seed, use_cache), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1)  # fmt: skip
            last: list[str] = []
            reader = threading.Thread(target=stream, args=(seed, proc, last), daemon=True)
            reader.start()
            running[seed] = (proc, reader, last)
        for seed, (proc, reader, last) in list(running.items()):
            if proc.poll() is None:
                continue
            reader.join()
            del running[seed]
            if proc.returncode == 0:
                on_done(seed)
            else:
                why = last[-1] if last else f"exit code {proc.returncode}"
                failed[seed] = f"{why} (exit code {proc.returncode}; log: {logs / f's{seed}.log'})"
        time.sleep(0.05)
    return failed
