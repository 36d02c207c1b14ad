"""Seeds of a sweep in parallel: `jobs` worker processes, each running one seed at a time as
`rlft run <sweep>/recipe.yaml seed=S --run-dir <sweep>/sS`, with a thread budget that adds up to the cores.

A tiny model gains little from a second thread (the shortened quickstart: 43 s with 2 threads, 48 s with 1), so
two seeds at once with one thread each nearly halve a sweep on two cores. A worker imports torch and TRL once
and takes the next seed when it is free (a process per seed would pay 5-8 s of imports each time). Each run's
folder is the one a sequential sweep writes, and its metrics.jsonl is byte for byte that of the seed run alone
with the same thread count. The parent streams every line with its seed in front, keeps each seed's output in
`<sweep>/logs/s<seed>.log`, and records a seed in sweep.json when its run finishes; a seed that fails does not
stop the others.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rlft.core.threads import usable_cores

MARK = "\x1erlft-seed"  # starts a worker's control lines: `<MARK> start S`, `<MARK> done S CODE`
WORKER = "rlft.cli.seed_worker"  # the module each worker process runs (python -m): `rlft run` per seed


def thread_budget(jobs: int, cores: int) -> int:
    """Threads per process when `jobs` processes share `cores` (at least one each).

    >>> thread_budget(2, 2), thread_budget(4, 2), thread_budget(3, 16)
    (1, 1, 5)
    """
    return max(1, cores // jobs)


def budget(jobs: int) -> int:
    """Threads per process for `jobs` parallel seeds on this machine's usable cores."""
    return thread_budget(jobs, usable_cores())


def seed_args(sweep_dir: Path, recipe_file: str, seed: int, use_cache: bool) -> list[str]:
    """The `rlft` arguments of one seed, as a user would type them."""
    args = ["run", str(sweep_dir / recipe_file), f"seed={seed}", "--run-dir", str(sweep_dir / f"s{seed}")]
    return args + ([] if use_cache else ["--no-cache"])




def run_parallel(sweep_dir: Path, recipe_file: str, seeds: list[int], jobs: int, use_cache: bool,
                 echo: Callable[[str], None], on_done: Callable[[int], None]) -> dict[int, str]:
    """Run the seeds on `jobs` workers; `on_done(seed)` after each finished run (in this process, so sweep.json
    has one writer). Returns {seed: why it failed} for the seeds whose run failed."""
    logs = sweep_dir / "logs"
    logs.mkdir(exist_ok=True)
    todo, failed, events = list(seeds), {}, queue.Queue()
    lock = threading.Lock()

    def read(proc: subprocess.Popen, errors: dict[int, list[str]]) -> None:
        seed, log = None, None
        for line in proc.stdout:
            if line.startswith(MARK):
                what, number, *code = line[len(MARK):].split()
                if what == "start":
                    seed, log = int(number), (logs / f"s{number}.log").open("w")
                    errors[seed] = []
                else:
                    log.close()
                    events.put((proc, int(number), int(code[0])))
                    seed, log = None, None
                continue
            if log is not None:
                log.write(line)
                log.flush()
            text = line.rstrip("\n")
            if seed is not None and text.startswith("error:"):
                errors[seed].append(text)
            with lock:
                echo(f"[s{seed}] {text}" if seed is not None else text)
        if log is not None:
            log.close()
        events.put((proc, seed, None))  # the worker has ended (None: while running `seed`, if any)

    def start() -> subprocess.Popen:
        cmd = [sys.executable, "-u", "-m", WORKER, str(sweep_dir), recipe_file, "1" if use_cache else "0"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)  # fmt: skip
        threading.Thread(target=read, args=(proc, errors), daemon=True).start()
        workers.append(proc)
        return proc

    def hand(proc: subprocess.Popen) -> bool:
        """Give the worker the next seed, or close its input when there is none; True when it got one."""
        if todo:
            proc.stdin.write(f"{todo.pop(0)}\n")
            proc.stdin.flush()
            return True
        proc.stdin.close()
        return False

    errors: dict[int, list[str]] = {}
    workers: list[subprocess.Popen] = []
    busy = 0
    for _ in range(min(jobs, len(todo))):
        busy += hand(start())
    while busy:
        proc, seed, code = events.get()
        if code is None:  # a worker ended on its own: it crashed (while running `seed`) or had no more work
            if seed is not None:
                failed[seed] = f"the worker process ended (exit code {proc.wait()}; log: {logs / f's{seed}.log'})"
                busy -= 1
                if todo:
                    busy += hand(start())
            continue
        busy -= 1
        if code == 0:
            on_done(seed)
        else:
            why = errors.get(seed, [])[-1:] or [f"exit code {code}"]
            failed[seed] = f"{why[0]} (exit code {code}; log: {logs / f's{seed}.log'})"
        busy += hand(proc)
    for proc in workers:  # every input is closed by now: each worker ends after its last seed
        proc.wait()
    return failed
