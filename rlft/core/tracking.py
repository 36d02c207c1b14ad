"""The run folder: where a run writes its resolved config, environment, metrics and stage outputs."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from rlft.core import threads
from rlft.core.runfiles import read_jsonl
from rlft.core.schema import ConfigError

PACKAGES = ("rlft", "torch", "transformers", "trl", "peft", "datasets", "accelerate", "math-verify", "numpy")
# Wall-clock figures differ between identical runs; they go to the stage summary, not to metrics.jsonl,
# so that the same seed gives the same metrics file.
TIMING_KEYS = ("runtime", "per_second", "_time")


def new_dir(output_dir: str, recipe_name: str, pattern: str) -> Path:
    """runs/<recipe>/<pattern with {time} as YYYYmmdd-HHMMSS>, with a numeric suffix if that folder exists."""
    base = Path(output_dir) / recipe_name / pattern.format(time=datetime.now().strftime("%Y%m%d-%H%M%S"))
    path, i = base, 1
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def new_run_dir(output_dir: str, recipe_name: str, seed: int) -> Path:
    """runs/<recipe>/<YYYYmmdd-HHMMSS>-s<seed>, with a numeric suffix if that folder exists."""
    return new_dir(output_dir, recipe_name, f"{{time}}-s{seed}")


RUN_FILES = ("config.yaml", "env.json", "metrics.jsonl", "summary.json")  # any of them: the folder is a run's


def prepare_run_dir(path: Path, resume: bool = False, overwrite: bool = False) -> None:
    """Make sure `path` can take a run: a folder (new, or empty, or with `resume` the run to continue, or with
    `overwrite` an earlier run's folder, deleted first) that can be written. ConfigError otherwise, so a new
    run never mixes its files with an old one's."""
    import shutil


    key = "--run-dir"
    if path.exists() and not path.is_dir():
        raise ConfigError(key, f"'{path}' is a file, not a folder; give a new or empty folder")
    if not resume and path.is_dir() and any(path.iterdir()):
        is_run = any((path / name).is_file() for name in RUN_FILES)
        if not is_run:
            raise ConfigError(key, f"'{path}' holds files that are not a run's; give a new or empty folder (rlft "
                              "never deletes files it did not write)")
        if not overwrite:
            state = "a finished run" if (path / "summary.json").is_file() else "an unfinished run"
            raise ConfigError(key, f"'{path}' already holds {state}; continue it with `rlft run --resume {path}`, "
                              "give another --run-dir, or add --overwrite to delete it and start afresh")
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".rlft-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(key, f"cannot write the run folder '{path}': {e.strerror or e}") from None


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(seed: int) -> dict:
    """What a run needs to be reproduced: versions, platform, device, threads, seed, git commit."""
    import torch

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "usable_cores": threads.usable_cores(),
        "omp_wait_policy": threads.wait_policy(),
        "cpu_count": os.cpu_count(),
        "seed": seed,
        "git_commit": git_commit(),
        "argv": sys.argv,
        "packages": versions,
        "started": datetime.now().isoformat(timespec="seconds"),
    }


def clean(value):
    """JSON-safe number: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Append-only metrics.jsonl: one object per log event with `stage`, `step`, `split` and metric keys."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, stage: str, step: int, split: str, metrics: dict) -> dict:
        """Write one event and return it; timing keys are left out (a stage's summary keeps them)."""
        record = {"stage": stage, "step": step, "split": split}
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not any(t in key for t in TIMING_KEYS):
                record[key] = clean(value)
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            with writing(self.path, "the metrics log"), self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        except WriteError:
            with contextlib.suppress(OSError):  # no torn last line: the log stays as it was
                os.truncate(self.path, size)
            raise
        return record

    def read(self) -> list[dict]:
        return read_jsonl(self.path, "the run's metrics")


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 3)


def write_json(path: Path, data, what: str = "") -> None:
    """Write JSON atomically (see `write_text`)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n", what)


def write_text(path: Path, text: str, what: str = "") -> None:
    """Write a file atomically (temporary name, flushed to disk, then renamed), so that a reader, or a run
    resumed after a crash or power loss, never sees half a file. A failed write (disk full) removes the
    temporary file and raises WriteError naming `path` and `what` it is."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with writing(path, what), tmp.open("w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except WriteError:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


# errno values meaning the storage refused a write: disk full, quota exceeded, file too large, read-only
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
STORAGE_WORDS = ("No space left on device", "Disk quota exceeded", "Read-only file system")


class WriteError(OSError):
    """Writing a file of a run failed (disk full, quota, read-only, no permission). The message names the
    file and what it is; the CLI prints it and exits with code 2. What was being written is never marked
    complete (a stage's summary.json is written last), so `rlft run --resume` redoes it."""

    def __init__(self, path, what: str, cause: BaseException):
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        code = getattr(cause, "errno", None)
        name = f" ({errno.errorcode[code]})" if code in errno.errorcode else ""
        full = code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "space" in reason or "quota" in reason
        fix = "free some space" if full else "make the folder writable (or write elsewhere)"
        super().__init__(f"cannot write {what + ' ' if what else ''}'{path}': {reason}{name}; nothing "
                         f"half-written is marked complete: {fix}, then run again (`rlft run --resume RUN_DIR` "
                         "continues a run)")  # fmt: skip
        self.errno, self.filename = code, str(path)

    def __str__(self) -> str:  # OSError would print "[Errno 28] None: 'path'"
        return self.args[0]


def storage_error(e: BaseException) -> bool:
    """Whether an exception means the storage refused a write (libraries written in Rust or C++, such as
    safetensors, report it in their message rather than as an OSError)."""
    if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
        return True
    return any(w in str(e) for w in STORAGE_WORDS)


@contextlib.contextmanager
def writing(path, what: str = "", only_storage: bool = False):
    """Turn a failed write inside the block into a WriteError naming `path` and `what`. By default any
    OSError counts (the block only writes); `only_storage=True` is for a block that does more than
    write (a whole stage): only a full or read-only disk is turned, named by the file it hit if known."""
    try:
        yield
    except WriteError:
        raise
    except Exception as e:
        if not storage_error(e) and (only_storage or not isinstance(e, OSError)):
            raise
        target = (getattr(e, "filename", None) or path) if only_storage else path
        raise WriteError(target, what, e) from None


def sync(path: Path) -> None:
    """fsync a file, or every file under a folder: what a completion marker vouches for survives power loss."""
    if not path.exists():
        return
    for file in [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file()):
        with file.open("rb") as f:
            os.fsync(f.fileno())

