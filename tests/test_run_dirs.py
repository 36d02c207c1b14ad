"""Run folders: a new run never mixes its files with an earlier run's (refused unless --resume or --overwrite),
a --run-dir that is a file or cannot be written is one clear error, and a recipe name cannot leave output_dir."""

import os

import pytest
import yaml
from conftest import EVAL, TINY, smoke_recipe

from rlft.cli import main


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(smoke_recipe(test={**EVAL, "model": TINY})))
    return str(path)


def error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err


def test_a_finished_run_is_refused_then_overwritten(tmp_path, recipe, capsys):
    run = tmp_path / "run"
    assert main(["run", recipe, "--run-dir", str(run)]) == 0
    first = (run / "env.json").read_text()
    assert main(["run", recipe, "--run-dir", str(run)]) == 2
    err = error(capsys)
    assert "already holds a finished run" in err and f"rlft run --resume {run}" in err and "--overwrite" in err
    assert (run / "env.json").read_text() == first  # nothing touched
    (run / "notes.txt").write_text("from the first run")
    assert main(["run", recipe, "--run-dir", str(run), "--overwrite"]) == 0
    assert (run / "summary.json").is_file() and not (run / "notes.txt").exists()  # a fresh folder


def test_an_unfinished_run_is_refused(tmp_path, recipe, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("stages: {}\n")
    (run / "metrics.jsonl").write_text('{"stage": "test", "step": 0, "split": "eval"}\n')
    assert main(["run", recipe, "--run-dir", str(run)]) == 2
    assert "already holds an unfinished run" in error(capsys)
    assert (run / "metrics.jsonl").read_text().count("\n") == 1


def test_a_folder_of_other_files_is_never_deleted(tmp_path, recipe, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    assert main(["run", recipe, "--run-dir", str(folder), "--overwrite"]) == 2
    assert "not a run's" in error(capsys) and (folder / "thesis.tex").read_text() == "precious"


def test_an_empty_folder_is_fine(tmp_path, recipe):
    (tmp_path / "empty").mkdir()
    assert main(["run", recipe, "--run-dir", str(tmp_path / "empty")]) == 0


def test_run_dir_that_is_a_file(tmp_path, recipe, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["run", recipe, "--run-dir", str(tmp_path / "f")]) == 2
    assert "is a file, not a folder" in error(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_run_dir_in_a_read_only_folder(tmp_path, recipe, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", recipe, "--run-dir", str(locked / "run")]) == 2
        assert "cannot write the run folder" in error(capsys)
    finally:
        locked.chmod(0o700)


def test_overwrite_belongs_to_single_runs(tmp_path, recipe, capsys):
    assert main(["run", recipe, "--seeds", "0-1", "--overwrite"]) == 2
    assert "--overwrite" in error(capsys)
    assert main(["run", "--resume", str(tmp_path), "--overwrite"]) == 2
    assert "--overwrite" in error(capsys)


@pytest.mark.parametrize("name", ["../escaped", "..", "a/b", ".hidden", "x" * 101, ""])
def test_a_recipe_name_cannot_leave_the_output_folder(tmp_path, name, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({**smoke_recipe(test={**EVAL, "model": TINY}), "name": name}))
    assert main(["run", str(path)]) == 2 and "name: " in error(capsys)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs").exists()
