"""The CPU thread policy: OpenMP threads that sleep when idle, a default thread count that fits the cores this
process may use, and a warning when the rlft runs on one machine ask for more threads than it has cores.

OpenMP worker threads spin while they wait for work. Two trainings side by side on a 2-core machine, each with
2 spinning threads, ran 8.9x slower than one alone; with `OMP_WAIT_POLICY=PASSIVE` the same pair ran 1.3x
slower (docs/benchmarks.md, bench/concurrency.py). The policy is read once, when the OpenMP runtime loads with
torch, so `import rlft` sets it before anything imports torch; a value the user set is kept.

The default thread count does not depend on what else runs, so a run gives the same numbers alone or beside
another (thread count changes floating-point sums). A run records itself in a per-user folder while it lasts;
when the threads of live runs add up to more than the cores, each new stage warns, and says what to set.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rlft.core.schema import ConfigError

WAIT_POLICY = "PASSIVE"


def set_wait_policy() -> bool:
    """Make OpenMP threads sleep when idle, unless the user chose a policy; True when the policy in force is
    passive. Too late (False) once torch is imported: its OpenMP runtime has read the environment."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return wait_policy() == WAIT_POLICY


def wait_policy() -> str:
    """The OpenMP wait policy this process runs with: the variable as it was when torch loaded, if known."""
    return os.environ.get("OMP_WAIT_POLICY", "").upper() or "default (spins, then sleeps)"


def quota_cores(cpu_max: str | None) -> int | None:
    """Cores allowed by a cgroup v2 `cpu.max` line ("quota period"), rounded up; None without a quota.

    >>> quota_cores("200000 100000"), quota_cores("150000 100000"), quota_cores("max 100000"), quota_cores(None)
    (2, 2, None, None)
    """
    if not cpu_max:
        return None
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a container's CPU quota (torch's own
    default counts the machine's cores, which overcommits a container given two of sixty-four)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota = quota_cores(Path("/sys/fs/cgroup/cpu.max").read_text())
    except OSError:
        quota = None
    return min(cores, quota) if quota else cores


MAX_OVERSUBSCRIPTION = 4  # num_threads above this many times the usable cores is refused, not just warned of


def check_threads(threads: int | None, key: str, cores: int | None = None) -> None:
    """Refuse a thread count far above the cores (`num_threads: 10000` runs many times slower, never faster);
    between the cores and MAX_OVERSUBSCRIPTION times them, each stage warns instead (`live_run`).

    >>> check_threads(8, "num_threads", cores=2)
    >>> check_threads(10000, "num_threads", cores=2)
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: num_threads: 10000 threads on 2 usable cores would run many times slower; allowed: \
1 to 8 (4 x the cores; more threads than cores never speed a run up)
    """
    cores = cores or usable_cores()
    if threads is not None and threads > MAX_OVERSUBSCRIPTION * cores:
        raise ConfigError(key, f"{threads} threads on {cores} usable cores would run many times slower; allowed: 1 to "
                          f"{MAX_OVERSUBSCRIPTION * cores} ({MAX_OVERSUBSCRIPTION} x the cores; more threads than "
                          "cores never speed a run up)")


def default_threads() -> int:
    """Threads for a run that sets no `num_threads`: `OMP_NUM_THREADS` when set (torchrun sets 1), else the usable
    cores shared by the processes of this machine in a launch (`LOCAL_WORLD_SIZE`). Fixed by the machine and the
    launch, never by its load, so results do not depend on neighbours."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    local = os.environ.get("LOCAL_WORLD_SIZE", "").strip()
    return max(1, usable_cores() // (int(local) if local.isdigit() and int(local) > 0 else 1))


def registry_dir() -> Path:
    """Where live runs record themselves: one small JSON file per process, in a per-user temporary folder."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"rlft-{uid}" / "runs"


def register(threads: int, label: str) -> Path | None:
    """Record this process as a live run with `threads` threads; returns the file to remove at the end (None
    when the folder cannot be written: the warning is a courtesy, never a reason to fail)."""
    folder = registry_dir()
    path = folder / f"{os.getpid()}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "threads": threads, "label": label}))
    except OSError:
        return None
    return path


def unregister(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def live_runs() -> list[dict]:
    """The other live runs on this machine (files of processes that have ended are removed)."""
    runs = []
    for file in sorted(registry_dir().glob("*.json")):
        try:
            entry = json.loads(file.read_text())
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        if not alive(pid):
            file.unlink(missing_ok=True)
            continue
        runs.append(entry)
    return runs


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that number: it is running
        return True
    return True


def oversubscribed(threads: int, cores: int, others: list[dict], policy: str = WAIT_POLICY) -> str | None:
    """A warning when this run's threads and those of the other live runs add up to more than the cores; None
    when they fit.

    >>> oversubscribed(1, 2, [{"pid": 7, "threads": 1, "label": "a"}]) is None
    True
    >>> print(oversubscribed(6, 2, []))
    num_threads 6 is more than the 2 usable cores: the run is slower than with num_threads=2; results depend on \
the thread count, so keep it fixed when comparing runs.
    >>> print(oversubscribed(2, 2, [{"pid": 7, "threads": 2, "label": "quickstart"}]))
    2 rlft runs on this machine use 4 threads on 2 cores (this one 2; pid 7 'quickstart' 2): each runs slower. \
For full speed give each run num_threads so that they add up to 2 (e.g. num_threads=1); results depend on the \
thread count, so keep it fixed when comparing runs.
    """
    total = threads + sum(int(o.get("threads", 1)) for o in others)
    if total <= cores:
        return None
    if not others:
        return (f"num_threads {threads} is more than the {cores} usable cores: the run is slower than with "
                f"num_threads={cores}; results depend on the thread count, so keep it fixed when comparing runs.")
    names = "; ".join(f"pid {o['pid']} '{o.get('label', '?')}' {o.get('threads', '?')}" for o in others)
    share = max(1, cores // (len(others) + 1))
    text = (f"{len(others) + 1} rlft runs on this machine use {total} threads on {cores} cores (this one {threads}; "
            f"{names}): each runs slower. For full speed give each run num_threads so that they add up to {cores} "
            f"(e.g. num_threads={share}); results depend on the thread count, so keep it fixed when comparing runs.")
    if policy != WAIT_POLICY:
        text += (f" OpenMP threads spin in this process (OMP_WAIT_POLICY={policy}; torch was imported before rlft): "
                 "side by side that is many times slower; set OMP_WAIT_POLICY=PASSIVE or import rlft first.")
    return text


@contextmanager
def live_run(threads: int | None, label: str, echo: Callable[[str], None]) -> Iterator[Callable[[], None]]:
    """Run with `threads` torch threads (default: `default_threads()`), recorded as a live run; yields a check
    that warns once when the live runs oversubscribe the cores (call it when a stage starts). The process's
    previous thread count is restored afterwards, so a notebook keeps its own setting."""
    import torch

    before = torch.get_num_threads()
    threads = threads or default_threads()
    torch.set_num_threads(threads)
    path = register(threads, label)
    warned = False

    def check() -> None:
        nonlocal warned
        message = None if warned else oversubscribed(threads, usable_cores(), live_runs(), wait_policy())
        if message:
            echo(f"rlft: warning: {message}")
            warned = True

    try:
        check()
        yield check
    finally:
        unregister(path)
        torch.set_num_threads(before)
