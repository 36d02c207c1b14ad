"""Every case of the hostile-input corpus (tests/hostile_inputs.py) through the real `rlft run` entry point:
exit code 2, one `error: ...` line naming what is wrong and what is allowed, no traceback, and nothing in the
run folder that looks complete. A few cases also run as a subprocess, as a user would meet them."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT
from hostile_envs import ENV_CASES, ENV_FAULTS
from hostile_inputs import CASES as INPUT_CASES
from hostile_inputs import Case

from rlft.cli import main

SECONDS = 20  # no case may take longer: bad input is refused before training
CASES = INPUT_CASES + ENV_CASES  # environments have their own module (tests/hostile_envs.py)


def enospc(path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


class FullDisk:
    """A file object whose writes stop halfway with ENOSPC, as on a disk that fills up mid-write."""

    def __init__(self, file, path):
        self.file, self.path = file, path

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise enospc(self.path)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def fail_writes_to(name: str):
    """Writes to files called `name` (or `name.tmp`) through pathlib hit a full disk."""

    def install(monkeypatch):
        real_open = pathlib.Path.open

        def open_(self, mode="r", *args, **kwargs):
            file = real_open(self, mode, *args, **kwargs)
            if any(c in mode for c in "wax") and self.name in (name, name + ".tmp"):
                return FullDisk(file, self)
            return file

        monkeypatch.setattr(pathlib.Path, "open", open_)

    return install


def fail_weights(only_trained: bool):
    """safetensors' save (what from_pretrained-compatible saves call) writes a partial file and hits a full
    disk; with `only_trained`, the tiny starting model (init/) still saves."""

    def install(monkeypatch):
        import transformers.modeling_utils as modeling

        real = modeling.safe_save_file

        def save(tensors, filename, *args, **kwargs):
            if only_trained and pathlib.Path(filename).parent.name.startswith("init"):
                return real(tensors, filename, *args, **kwargs)
            pathlib.Path(filename).write_bytes(b"\0" * 64)
            raise enospc(filename)

        monkeypatch.setattr(modeling, "safe_save_file", save)

    return install


def deny_reading(name: str):
    """Files called `name` cannot be read, as for a user without permission (tests run as root, whom
    permission bits do not stop): `os.access` says no and opening them raises EACCES."""

    def install(monkeypatch):
        real_access, real_open = os.access, pathlib.Path.open

        def access(path, mode, *args, **kwargs):
            return False if pathlib.Path(path).name == name else real_access(path, mode, *args, **kwargs)

        def open_(self, *args, **kwargs):
            if self.name == name:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)
        monkeypatch.setattr(pathlib.Path, "open", open_)

    return install


FAULTS = {"model": fail_weights(only_trained=True), "init": fail_weights(only_trained=False), **ENV_FAULTS}


def fault(name: str):
    if name.startswith("unreadable:"):
        return deny_reading(name.partition(":")[2])
    return FAULTS.get(name) or fail_writes_to(name)


def prepare(case: Case, where: pathlib.Path, tiny_model_dir: pathlib.Path) -> None:
    """Write the case's files and recipe into `where` (the working directory of the run)."""
    for name, content in case.files.items():
        path = where / name
        if callable(content):
            content(path, tiny_model_dir)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if isinstance(case.recipe, dict):
        (where / "recipe.yaml").write_text(yaml.safe_dump(case.recipe, sort_keys=False))
    elif isinstance(case.recipe, bytes):
        (where / "recipe.yaml").write_bytes(case.recipe)
    elif isinstance(case.recipe, str):
        (where / "recipe.yaml").write_text(case.recipe)


def check_error(case: Case, code: int, err: str) -> None:
    """Exit code 2 and exactly one `error:` line holding every expected word; no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert len(lines[0]) < 2000, f"{len(lines[0])} characters: {lines[0][:300]}"
    missing = [w for w in case.expect if w not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"


def check_nothing_complete(case: Case, run: pathlib.Path) -> None:
    """Validation failures leave no run folder; later failures leave no completion marker, no stage output,
    no model folder and no half-written temporary, and metrics.jsonl has no torn line."""
    if not case.runs:
        assert not run.exists(), f"{case.id} should be refused before the run folder is made"
        return
    files = [p.relative_to(run) for p in run.rglob("*")]
    assert not [p for p in files if p.name in ("summary.json", "report.md")], files  # the completion markers
    assert not [p for p in files if p.name in ("model", "adapter") or ".tmp" in p.name], files
    metrics = run / "metrics.jsonl"
    if metrics.exists():
        text = metrics.read_text()
        assert not text or text.endswith("\n")
        [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case, tmp_path, monkeypatch, capsys, tiny_model_dir):
    monkeypatch.chdir(tmp_path)
    prepare(case, tmp_path, tiny_model_dir)
    if case.fault:
        fault(case.fault)(monkeypatch)
    start = time.perf_counter()
    code = main(list(case.command) or ["run", case.recipe_path, *case.args, "--run-dir", "run"])
    seconds = time.perf_counter() - start
    check_error(case, code, capsys.readouterr().err)
    check_nothing_complete(case, tmp_path / "run")
    assert seconds < SECONDS, f"{case.id} took {seconds:.1f}s"


def test_a_run_stopped_by_a_full_disk_resumes(tmp_path, monkeypatch, capsys, tiny_model_dir):
    """The advice of the disk-full message holds: once there is space, `--resume` redoes the stage that was
    being saved and completes the run."""
    (case,) = [c for c in CASES if c.id == "disk-full-model"]
    monkeypatch.chdir(tmp_path)
    prepare(case, tmp_path, tiny_model_dir)
    with monkeypatch.context() as patch:
        fault(case.fault)(patch)
        assert main(["run", case.recipe_path, "--run-dir", "run"]) == 2
    capsys.readouterr()
    assert main(["run", "--resume", "run"]) == 0
    assert (tmp_path / "run" / "summary.json").is_file()
    assert (tmp_path / "run" / "s" / "model" / "model.safetensors").stat().st_size > 1000


def test_corpus_is_large_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 50 and len(set(ids)) == len(ids)
    assert all(c.what and c.expect for c in CASES)


# refused at load time; refused once the stage starts; an environment breaking mid-training
SUBPROCESS = ["yaml-unclosed", "no-chat-template", "env-reset-raises-ppo"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS], ids=SUBPROCESS)
def test_hostile_input_as_a_user_meets_it(case, tmp_path, tiny_model_dir):
    """The real command in its own process: stderr is the one error line, whatever the libraries print."""
    prepare(case, tmp_path, tiny_model_dir)
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
           "HOME": str(pathlib.Path.home()), "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "rlft.cli", "run", case.recipe_path, "--run-dir", "run"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    check_error(case, out.returncode, out.stderr)
    check_nothing_complete(case, tmp_path / "run")
