"""The command line's last line of defence: an unexpected exception (a bug no check caught) ends in one
`error: internal error` line, exit code 70, and the traceback in a file it names (the run folder's error.txt
when there is one); bad input keeps exit code 2."""

import yaml
from conftest import EVAL, TINY, smoke_recipe

from rlft import cli
from rlft.stages import eval as eval_stage


def write_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(smoke_recipe(test={**EVAL, "model": TINY})))
    return path


def test_a_bug_inside_a_run_is_one_line_and_a_traceback_file(tmp_path, monkeypatch, capsys):
    def broken(ctx):
        raise RuntimeError("something no check foresaw\nsecond line")

    monkeypatch.setattr(eval_stage, "run", broken)
    code = cli.main(["run", str(write_recipe(tmp_path)), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == cli.INTERNAL_ERROR == 70
    assert err.count("\n") == 1 and err.startswith("error: internal error (not a problem with your input)")
    assert "RuntimeError: something no check foresaw second line" in err and "Traceback" not in err
    report = tmp_path / "run" / "error.txt"
    assert str(report) in err
    text = report.read_text()
    assert "Traceback" in text and "in broken" in text and "RuntimeError" in text
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_bug_outside_a_run_goes_to_a_temporary_file(tmp_path, monkeypatch, capsys):
    def broken(what):
        raise KeyError("registry")

    monkeypatch.setattr(cli, "_list", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert cli.main(["list"]) == 70
    err = capsys.readouterr().err
    [report] = tmp_path.glob("rlft-error-*.txt")
    assert str(report) in err and "KeyError" in report.read_text()


def test_bad_input_is_still_exit_2(tmp_path, capsys):
    assert cli.main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "internal" not in capsys.readouterr().err
