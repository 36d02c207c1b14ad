"""Local data files (docs/data.md): formats, plain and conversational rows, train_size/eval_size, paths relative
to the recipe file, and `data.verifier` with the verifier named on the console and in summary.json."""

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SFT

import rlft
from rlft.cli import main
from rlft.core.config import DataSpec, to_dict
from rlft.core.schema import ConfigError
from rlft.data import conversational, load_splits
from rlft.runner.recipe import load_recipe

PLAIN = [{"prompt": f"{i}+1=", "completion": str(i + 1), "answer": str(i + 1)} for i in range(20)]
CHAT = [{"prompt": [{"role": "user", "content": r["prompt"]}],
         "completion": [{"role": "assistant", "content": r["completion"]}], "answer": r["answer"]} for r in PLAIN]


def write_rows(path: Path, rows: list[dict]) -> Path:
    """Rows as JSONL, CSV or Parquet by the file's extension."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize(("name", "rows", "chat"), [
    ("d.jsonl", PLAIN, False), ("d.csv", PLAIN, False), ("d.parquet", PLAIN, False),
    ("d.jsonl", CHAT, True), ("d.parquet", CHAT, True),
])
def test_formats_plain_and_conversational(tmp_path, name, rows, chat):
    path = write_rows(tmp_path / name, rows)
    spec = DataSpec(path=str(path), eval_size=5, train_size=10)
    train, held = load_splits(spec, seed=0, kind="sft")
    assert (len(train), len(held)) == (10, 5)  # eval_size splits held-out rows off, then train_size caps the rest
    assert not {json.dumps(p) for p in train["prompt"]} & {json.dumps(p) for p in held["prompt"]}
    assert conversational(spec) is chat
    if chat:
        assert train["prompt"][0][0]["role"] == "user" and train["completion"][0][0]["role"] == "assistant"
    else:
        assert isinstance(train["prompt"][0], str) and isinstance(train["completion"][0], str)


@pytest.mark.parametrize(("name", "chat"), [("d.jsonl", False), ("d.jsonl", True), ("d.csv", False)])
def test_a_byte_order_mark_is_read_in_jsonl_as_in_csv(tmp_path, name, chat):
    """Editors on Windows start UTF-8 files with a byte-order mark; both text formats read it as nothing."""
    path = write_rows(tmp_path / name, CHAT if chat else PLAIN)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    train, _ = load_splits(DataSpec(path=str(path)), seed=0, kind="sft")
    assert train.column_names[:2] == ["prompt", "completion"] and len(train) == 20
    assert train[0]["prompt"] == (CHAT if chat else PLAIN)[0]["prompt"]
    assert conversational(DataSpec(path=str(path))) is chat


def test_eval_path_gives_the_held_out_rows(tmp_path):
    spec = DataSpec(path=str(write_rows(tmp_path / "t.csv", PLAIN)), eval_path=str(write_rows(tmp_path / "e.csv",
                    PLAIN[:3])), train_size=7)  # fmt: skip
    train, held = load_splits(spec, seed=0, kind="sft")
    assert (len(train), len(held)) == (7, 3)


def user_recipe(folder: Path, **data) -> Path:
    """newuser/reverse.yaml with an sft and an eval stage on files beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_rows(folder / "train.jsonl", PLAIN)
    write_rows(folder / "test.jsonl", PLAIN[:4])
    recipe = {"seed": 0, "num_threads": 1,
              "data": {"path": "train.jsonl", "eval_path": "test.jsonl", **data},
              "stages": {"sft": {**copy.deepcopy(SFT), "eval": {"every": 1, "max_new_tokens": 3}},
                         "test": {"algorithm": "eval", "model": {"from_stage": "sft"}, "rewards": ["numeric_match"],
                                  "eval": {"max_new_tokens": 3}}}}  # fmt: skip
    path = folder / "reverse.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_paths_are_relative_to_the_recipe_file(tmp_path, monkeypatch, capsys):
    user_recipe(tmp_path / "newuser")
    (tmp_path / "newuser" / "my_rewards.py").write_text("def short(completions, **kw):\n"
                                                        "    return [1.0] * len(completions)\n")
    monkeypatch.chdir(tmp_path)
    overrides = ["stages.test.rewards=[numeric_match, ./my_rewards.py:short]"]
    with pytest.raises(ConfigError, match="my_rewards.py' does not exist"):  # an override is the shell's path
        load_recipe("newuser/reverse.yaml", overrides)
    recipe = load_recipe("newuser/reverse.yaml", ["stages.test.rewards=[./newuser/my_rewards.py:short]"])
    assert recipe.stages["test"].rewards[0].name == "./newuser/my_rewards.py:short"
    assert recipe.data.path == "newuser/train.jsonl" and recipe.data.eval_path == "newuser/test.jsonl"
    saved = to_dict(recipe)  # config.yaml: absolute, so the run resumes from any folder
    assert saved["data"]["path"] == str(tmp_path / "newuser" / "train.jsonl")
    assert main(["validate", "newuser/reverse.yaml"]) == 0
    assert "ok: 2 stages" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "newuser")  # config.yaml (a mapping: the working directory's) works anywhere
    assert load_recipe(saved).data.path == str(tmp_path / "newuser" / "train.jsonl")


def test_reward_and_verifier_files_nested_ones_included(tmp_path, monkeypatch):
    folder = tmp_path / "proj" / "recipes"
    path = user_recipe(folder, verifier={"name": "checks/v.py:same"})
    (folder / "checks").mkdir()
    (folder / "checks" / "v.py").write_text("def same(completions, answer, **kw):\n"
                                            "    return [1.0 if c[-1]['content'] == a else 0.0 "
                                            "for c, a in zip(completions, answer)]\n")  # fmt: skip
    raw = yaml.safe_load(path.read_text())
    raw["stages"]["test"]["rewards"] = [{"name": "gate", "kwargs": {"objective": "./checks/v.py:same",
                                                                      "judge": {"name": "checks/v.py:same"}}}]
    raw["stages"]["test"]["eval"]["format"] = "checks/v.py:same"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(path.relative_to(tmp_path))
    assert recipe.data.verifier.name == "proj/recipes/checks/v.py:same"
    gate = recipe.stages["test"].rewards[0].kwargs
    assert gate["objective"] == "proj/recipes/checks/v.py:same" and gate["judge"]["name"] == gate["objective"]
    assert recipe.stages["test"].eval.format.name == gate["objective"]
    assert to_dict(recipe)["data"]["verifier"]["name"] == f"{folder}/checks/v.py:same"


def test_a_path_only_in_the_working_directory_names_both_places(tmp_path, monkeypatch):
    path = user_recipe(tmp_path / "newuser")
    write_rows(tmp_path / "extra.jsonl", PLAIN)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["path"] = "extra.jsonl"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_recipe("newuser/reverse.yaml")
    text = str(err.value)
    assert err.value.key == "data.path" and "newuser/extra.jsonl does not exist" in text
    assert str(tmp_path / "extra.jsonl") in text and "write '../extra.jsonl'" in text
    assert load_recipe("newuser/reverse.yaml", ["data.path=extra.jsonl"]).data.path == "extra.jsonl"
    raw["data"]["path"] = "nowhere.jsonl"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="data file 'nowhere.jsonl' does not exist .*newuser/nowhere.jsonl"):
        load_recipe("newuser/reverse.yaml")


def test_hub_ids_stay_and_local_model_folders_resolve(tmp_path, monkeypatch, tiny_model_dir):
    path = user_recipe(tmp_path / "newuser")
    raw = yaml.safe_load(path.read_text())
    raw["stages"]["sft"]["model"] = {"path": "Qwen/Qwen2.5-0.5B-Instruct"}
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    assert load_recipe("newuser/reverse.yaml").stages["sft"].model.path == "Qwen/Qwen2.5-0.5B-Instruct"
    (tmp_path / "newuser" / "tiny").symlink_to(tiny_model_dir)
    raw["stages"]["sft"]["model"] = "tiny"  # the shorthand, a folder beside the recipe
    path.write_text(yaml.safe_dump(raw))
    assert load_recipe("newuser/reverse.yaml").stages["sft"].model.path == "newuser/tiny"


def test_data_verifier_judges_every_stage_and_is_named(tmp_path, monkeypatch):
    """`data.verifier` once for all stages; `eval.verifier` still wins; both lines and summaries name it."""
    rows = [{"prompt": f"{i}?", "completion": f"0{i}", "answer": f"0{i}"} for i in range(1, 9)]
    folder = tmp_path / "u"
    user_recipe(folder, verifier="exact_match")
    write_rows(folder / "train.jsonl", rows)
    write_rows(folder / "test.jsonl", rows[:4])
    monkeypatch.chdir(tmp_path)
    lines = []
    result = rlft.run(load_recipe("u/reverse.yaml", ["stages.sft.trainer.max_steps=2"]), run_dir="run",
                      echo=lines.append)
    sft, test = result.summary["stages"]["sft"], result.summary["stages"]["test"]
    assert sft["eval"]["verifier"] == test["eval"]["verifier"] == "exact_match"
    assert any("[sft] step 1 eval accuracy=" in line and "(exact_match)" in line for line in lines)
    line = next(line for line in lines if "[test] accuracy=" in line)
    assert "on 4 held-out prompts (verifier exact_match)" in line and "rewards/numeric_match/mean=" in line
    saved = yaml.safe_load((Path("run") / "config.yaml").read_text())
    assert saved["data"]["path"] == str(folder / "train.jsonl") and saved["data"]["verifier"]["name"] == "exact_match"
    for line in (Path("run") / "metrics.jsonl").read_text().splitlines():  # numbers only: the summary names it
        assert "verifier" not in json.loads(line)
    recipe = load_recipe("u/reverse.yaml", ["stages.test.eval.verifier=numeric_match"])
    from rlft.stages.common import StageContext

    names = {n: StageContext(recipe, n, tmp_path, None).verifier_name for n in recipe.stages}
    assert names == {"sft": "exact_match", "test": "numeric_match"}
    recipe = load_recipe("u/reverse.yaml", ["data.verifier=null"])
    assert StageContext(recipe, "test", tmp_path, None).verifier_name == "numeric_match"  # the file default


@pytest.mark.parametrize(("value", "words"), [
    ("reward_model", "data.verifier.name: must be a rule reward"),
    ("exact_mach", "data.verifier.name: unknown reward 'exact_mach' (did you mean 'exact_match'?)"),
])
def test_bad_data_verifier(tmp_path, monkeypatch, value, words):
    user_recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_recipe("reverse.yaml", [f"data.verifier={value}"])

