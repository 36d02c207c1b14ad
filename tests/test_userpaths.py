"""rlft.core.userpaths: every kind of path a user may name is either used or refused with what it is and why, and a
recipe handed over as a pipe (`rlft validate <(...)`) is read once without blocking."""

import os
import socket
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from rlft.core.schema import ConfigError
from rlft.core.userpaths import check_file, check_folder, is_pipe, read_text
from rlft.runner.recipe import load_recipe


def make(kind: str, path):
    if kind == "file":
        path.write_text("x")
    elif kind == "empty":
        path.write_text("")
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "loop":
        os.symlink(path.name, path)
    elif kind == "broken":
        os.symlink("gone", path)
    elif kind == "under-file":
        path.parent.write_text("x")


# (what is at the path, what check_file says; None: accepted)
FILES = [
    ("file", None),
    ("empty", None),
    ("folder", "is a folder; give a file"),
    ("fifo", "is a named pipe (FIFO), not a file: reading it waits for a writer"),
    ("socket", "is a socket, not a file: it holds no data to read"),
    ("loop", "is a symlink loop"),
    ("broken", "is a broken symlink (it points to 'gone', which does not exist)"),
    ("absent", "does not exist"),
    ("under-file", "does not exist (a part of it is a file, not a folder)"),
]


@pytest.mark.parametrize(("kind", "expected"), FILES, ids=[k for k, _ in FILES])
def test_check_file(kind, expected, tmp_path):
    path = tmp_path / "d" / "p" if kind == "under-file" else tmp_path / "p"
    make(kind, path)
    if expected is None:
        assert check_file(path, "data.path", "data file", "give a file") == path
        return
    with pytest.raises(ConfigError) as e:
        check_file(path, "data.path", "data file", "give a file")
    assert str(e.value).startswith(f"data.path: data file '{path}' {expected}")


def test_check_file_refuses_an_empty_file_when_asked(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(ConfigError, match="'.*x' is empty \\(0 bytes\\)"):
        check_file(tmp_path / "x", "k", "file", empty_ok=False)


def test_a_file_that_cannot_be_opened_is_named(tmp_path, monkeypatch):
    (tmp_path / "x.jsonl").write_text("{}\n")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(ConfigError, match="data file '.*x.jsonl' cannot be read: permission denied"):
        check_file(tmp_path / "x.jsonl", "data.path", "data file")
    with pytest.raises(ConfigError, match="model folder '.*' cannot be read: permission denied"):
        check_folder(tmp_path, "model.path", "model folder")


@pytest.mark.parametrize(("kind", "expected"), [("folder", None), ("file", "is a file, not a folder"),
                                                ("fifo", "is a named pipe (FIFO), not a folder"),
                                                ("loop", "is a symlink loop")])
def test_check_folder(kind, expected, tmp_path):
    make(kind, tmp_path / "m")
    if expected is None:
        assert check_folder(tmp_path / "m", "k", "model folder") == tmp_path / "m"
        return
    with pytest.raises(ConfigError) as e:
        check_folder(tmp_path / "m", "k", "model folder")
    assert str(e.value).startswith(f"k: model folder '{tmp_path / 'm'}' {expected}")


def test_a_pipe_without_a_writer_reads_as_empty_at_once(tmp_path):
    os.mkfifo(tmp_path / "p")
    assert is_pipe(tmp_path / "p") and read_text(tmp_path / "p", "", "recipe file") == ""


def test_a_recipe_given_as_a_pipe_is_read_and_its_paths_are_the_working_directory_s(tmp_path, monkeypatch):
    """As `rlft validate <(...)` hands it over: /dev/fd/N is a pipe; its relative paths cannot be beside it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.jsonl").write_text('{"prompt": "1+1=", "completion": "2"}\n')
    recipe = {"data": {"path": "rows.jsonl"},
              "stages": {"s": {"algorithm": "sft", "model": {"tiny": {"hidden_size": 32}}}}}
    read, write = os.pipe()
    os.write(write, yaml.safe_dump(recipe).encode())
    os.close(write)
    try:
        loaded = load_recipe(f"/dev/fd/{read}")
    finally:
        os.close(read)
    assert loaded.data.path == "rows.jsonl" and loaded.name == "recipe"


def test_rlft_validate_takes_a_process_substitution(tmp_path):
    """The shell's `<(...)`, end to end: the recipe arrives through /dev/fd and validates."""
    recipe = "stages: {e: {algorithm: eval, model: {tiny: {hidden_size: 32}}}}\ndata: {task: arithmetic}\n"
    (tmp_path / "r.yaml").write_text(recipe)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(["bash", "-c", f"{sys.executable} -m rlft.cli validate <(cat r.yaml)"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
