"""Run files read back (rlft.core.runfiles) and the YAML reader (rlft.core.yamltext): what the hostile-input
corpus cannot show, because it only holds inputs that fail: intact run folders still resume and compare, merge keys and
aliases load as plain unshared data, a whole new stage may be added by an override, and long errors stay short."""

from __future__ import annotations

import time

import pytest
from hostile_inputs import BOMB, YAML_OK, eval_only, run_folder, sweep_folder

from rlft.cli import main
from rlft.core import yamltext
from rlft.core.runfiles import read_json, read_jsonl
from rlft.core.schema import ConfigError
from rlft.runner.recipe import load_recipe

SUMMARY = {"recipe": str, "seed": int}


@pytest.mark.parametrize("content, words", [
    (b"", "the run's summary is empty"),
    (b"  \n", "is empty"),
    (b"\x89PNG\r\n", "is not UTF-8 text (byte 0x89 at offset 0)"),
    (b'{"seed": 0,\n "recipe": }', "is not valid JSON at line 2, column 12: Expecting value"),
    (b"[1, 2]", "should be a mapping, got list"),
    (b'{"recipe": "r"}', "has no 'seed' (it has: recipe)"),
    (b'{"recipe": "r", "seed": true}', "'seed' should be int, got True"),
    (b'{"recipe": "r", "seed": 1.5}', "'seed' should be int, got 1.5"),
    (b"[" * 100_000, "nested too deeply"),
])  # fmt: skip
def test_read_json_names_the_file_and_the_problem(tmp_path, content, words):
    path = tmp_path / "summary.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        read_json(path, "the run's summary", SUMMARY)
    assert str(e.value).startswith(f"{path}: ") and words in str(e.value)


def test_read_json_of_a_good_file_and_of_a_folder(tmp_path):
    (tmp_path / "s.json").write_text('{"recipe": "r", "seed": 3, "more": []}')
    assert read_json(tmp_path / "s.json", "the run's summary", SUMMARY)["seed"] == 3
    with pytest.raises(ConfigError, match="should be a file, but this is a folder"):
        read_json(tmp_path, "the run's summary")
    with pytest.raises(ConfigError, match="is missing"):
        read_json(tmp_path / "none.json", "the run's summary")


def test_read_jsonl(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_jsonl(path, "the run's metrics") == []
    path.write_text("")
    assert read_jsonl(path, "the run's metrics") == []
    path.write_text('{"step": 1}\n\n{"step": 2}\n')
    assert read_jsonl(path, "the run's metrics") == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\n3\n')
    with pytest.raises(ConfigError, match="line 2 should be a mapping, got int"):
        read_jsonl(path, "the run's metrics")


def test_an_intact_run_folder_resumes_and_compares(tmp_path, monkeypatch, capsys, tiny_model_dir):
    """The corpus's corrupted run folders fail only because of what was corrupted."""
    monkeypatch.chdir(tmp_path)
    run_folder(finished=False)(tmp_path / "old", tiny_model_dir)
    assert main(["run", "--resume", "old"]) == 0, capsys.readouterr().err
    assert (tmp_path / "old" / "summary.json").is_file()
    sweep_folder()(tmp_path / "sweep", tiny_model_dir)
    assert main(["compare", "old", "sweep", "--label", "a", "--label", "b", "--out", "cmp", "--reps", "10"]) == 0
    assert (tmp_path / "cmp" / "compare.json").is_file()


MERGED = """\
data: {task: arithmetic, eval_size: 4}
stages:
  a: &a {algorithm: eval, model: {tiny: {hidden_size: 32}}, eval: {max_new_tokens: 2}}
  b: {<<: *a, eval: {max_new_tokens: 3}}
  c: *a
"""


def test_merge_keys_and_aliases_load_as_separate_stages(tmp_path):
    path = tmp_path / "merged.yaml"
    path.write_text(MERGED)
    recipe = load_recipe(path, ["stages.c.eval.max_new_tokens=5"])
    assert [s.eval.max_new_tokens for s in recipe.stages.values()] == [2, 3, 5]
    assert recipe.stages["b"].model.tiny == recipe.stages["a"].model.tiny


def test_an_override_may_add_a_whole_stage():
    recipe = load_recipe(eval_only(), ["stages.f={algorithm: eval, model: {from_stage: e}}"])
    assert list(recipe.stages) == ["e", "f"] and recipe.stages["f"].model.from_stage == "e"


def test_yaml_limits_are_quick_and_the_message_short():
    start = time.perf_counter()
    for text in (BOMB + YAML_OK, "[" * 50_000, "a: &a {b: *a}\n"):
        with pytest.raises(yamltext.Refused):
            yamltext.load(text)
    assert time.perf_counter() - start < 2
    assert yamltext.load("a: &x [1]\nb: *x\n") == {"a": [1], "b": [1]}


def test_a_huge_value_in_an_error_is_cut_in_the_middle():
    error = ConfigError("stages.sft.trainer.max_steps", f"expected an integer, got {'x' * 100_000!r}; allowed: int")
    assert len(str(error)) < 1100
    assert str(error).startswith("stages.sft.trainer.max_steps: expected an integer, got 'xxx")
    assert "more characters)" in str(error) and str(error).endswith("; allowed: int")
