"""A dataset from the hub by name (`data: {hub: ..., config, split, eval_split, columns}`, docs/data.md): read
through `datasets.load_dataset(hub, config)`, rlft's columns taken from the dataset's, train_size/eval_size as
for files, and a wrong config, split or column refused at validation. Offline: the dataset is a local folder laid
out as openai/gsm8k's repository is (parquet files written by `datasets`, configs in README.md), which
`load_dataset` reads exactly as it reads the download of a hub id."""

from __future__ import annotations

import copy
import json

import datasets
import pytest
from conftest import SFT, TINY

import rlft
from rlft.core.config import DataSpec
from rlft.core.schema import ConfigError
from rlft.data import check, conversational, load_splits
from rlft.runner.recipe import load_recipe

README = """---
configs:
- config_name: main
  data_files:
  - {split: train, path: main/train-*}
  - {split: test, path: main/test-*}
- config_name: socratic
  data_files:
  - {split: train, path: socratic/train-*}
  - {split: test, path: socratic/test-*}
---
"""


def problems(n: int, start: int = 0) -> dict[str, list]:
    return {"question": [f"{i}+{i}=" for i in range(start, start + n)],
            "answer": [f"{i} and {i} make {2 * i}\n#### {2 * i}" for i in range(start, start + n)]}  # fmt: skip


@pytest.fixture(scope="module")
def gsm8k(tmp_path_factory):
    """A local copy of a gsm8k-shaped dataset repository: two configs, train (40 rows) and test (8) splits."""
    root = tmp_path_factory.mktemp("gsm8k")
    for config in ("main", "socratic"):
        (root / config).mkdir()
        datasets.Dataset.from_dict(problems(40)).to_parquet(root / config / "train-00000-of-00001.parquet")
        datasets.Dataset.from_dict(problems(8, start=100)).to_parquet(root / config / "test-00000-of-00001.parquet")
    (root / "README.md").write_text(README)
    return root


def spec(folder, **fields) -> DataSpec:
    return DataSpec(**{"hub": str(folder), "config": "main", "columns": {"question": "prompt"}, **fields})


def test_a_hub_id_goes_to_load_dataset_with_its_config(gsm8k, monkeypatch):
    """What a user with a network gets: `load_dataset("openai/gsm8k", "main")`; here the id leads to the copy."""
    calls = []
    load, names = datasets.load_dataset, datasets.get_dataset_config_names

    def load_dataset(hub, config):
        calls.append((hub, config))
        return load(str(gsm8k), config)

    monkeypatch.setattr(datasets, "get_dataset_config_names", lambda hub: names(str(gsm8k)))
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    train, held = load_splits(spec("openai/gsm8k", eval_split="test"), seed=0)
    assert calls == [("openai/gsm8k", "main")]
    assert (len(train), len(held)) == (40, 8) and held[0]["prompt"] == "100+100="


def test_columns_sizes_and_splits(gsm8k):
    sft = spec(gsm8k, eval_split="test", train_size=10, columns={"question": "prompt", "answer": "completion"})
    train, held = load_splits(sft, seed=0, kind="sft")
    assert train.column_names == ["question", "answer", "prompt", "completion"]  # the dataset's own stay
    assert train[3]["prompt"] == "3+3=" and train[3]["completion"] == train[3]["answer"] == "3 and 3 make 6\n#### 6"
    assert (len(train), len(held)) == (10, 8)  # train_size caps the training split; test is the held-out one
    columns = check(sft, "data", "sft", held_out=True)
    assert columns.train_label == (f"data (hub dataset '{gsm8k}' config main split train: question, answer, prompt, "
                                   "completion)")  # fmt: skip
    assert columns.held_label.startswith(f"held-out data (hub dataset '{gsm8k}' config main split test:")

    split = spec(gsm8k, eval_size=6, seed=3)  # no eval_split: rows split off the training split, by the data seed
    train, held = load_splits(split, seed=0)
    assert (len(train), len(held)) == (34, 6) and not set(train["prompt"]) & set(held["prompt"])
    assert load_splits(split, seed=1)[1]["prompt"] == held["prompt"]
    assert not conversational(split)


def test_message_lists_make_a_conversational_dataset(tmp_path):
    rows = {"q": [[{"role": "user", "content": f"{i}+1="}] for i in range(4)], "answer": [str(i + 1) for i in range(4)]}
    datasets.Dataset.from_dict(rows).to_parquet(tmp_path / "train.parquet")
    data = DataSpec(hub=str(tmp_path), columns={"q": "prompt"})
    assert conversational(data) and load_splits(data, seed=0)[0][0]["prompt"][0]["role"] == "user"


@pytest.mark.parametrize("fields, kind, key, words", [
    ({"columns": {"questio": "prompt"}}, "prompt", "data.columns.questio",
     "split train has no column 'questio'; its columns: question, answer"),
    ({"columns": {"question": "answer"}}, "prompt", "data.columns.question",
     "has a column 'answer' already; map that one (or nothing) to 'answer'"),
    ({"columns": {"question": "prompt"}}, "sft", "data.columns",
     "the stage needs column(s) completion, which hub dataset"),
    ({"config": "mian"}, "prompt", "data.config", "'mian' is not a configuration of '{hub}'; it has: main, socratic"),
    ({"config": None}, "prompt", "data.config", "Config name is missing"),
    ({"split": "validation"}, "prompt", "data.split", "'validation' is not a split of '{hub}'; it has: train, test"),
    ({"eval_split": "tst"}, "prompt", "data.eval_split", "'tst' is not a split of '{hub}'; it has: train, test"),
    ({"eval_split": "train"}, "prompt", "data.eval_split", "'train' is the training split too"),
    ({"eval_size": 40}, "prompt", "data.eval_size", "must be less than the 40 rows of hub dataset"),
])  # fmt: skip
def test_bad_hub_data_is_one_clear_error(gsm8k, fields, kind, key, words):
    with pytest.raises(ConfigError) as e:
        check(spec(gsm8k, **fields), "data", kind)
    assert e.value.key == key and words.format(hub=gsm8k) in e.value.message


@pytest.mark.parametrize("fields, key, words", [
    ({"path": "x.jsonl"}, "data", "set exactly one of task, reasoning_gym, path, hub"),
    ({"hub": None, "config": None, "columns": {}, "task": "arithmetic", "split": "test"}, "data.split",
     "applies to a dataset from the hub"),
    ({"columns": {"question": "prompt", "answer": "prompt"}}, "data.columns.question", "target of several columns"),
])  # fmt: skip
def test_hub_fields_are_checked_with_the_recipe(gsm8k, fields, key, words):
    data = {"hub": str(gsm8k), "config": "main", "columns": {"question": "prompt"}, **fields}
    recipe = {"data": data, "stages": {"e": {"algorithm": "eval", "model": TINY}}}
    with pytest.raises(ConfigError, match=f"^<recipe>: {key}: .*{words}"):
        load_recipe(recipe)


def test_validation_loads_the_dataset_and_names_the_missing_column(gsm8k):
    recipe = {"data": {"hub": str(gsm8k), "config": "main", "columns": {"questoin": "prompt"}, "eval_split": "test"},
              "stages": {"sft": copy.deepcopy(SFT)}}
    with pytest.raises(ConfigError, match=r"^<recipe>: data\.columns\.questoin: hub dataset .* has no column "
                       r"'questoin'; its columns: question, answer$"):
        load_recipe(recipe)


def test_a_recipe_beside_its_dataset_folder_finds_it(gsm8k, tmp_path, monkeypatch):
    (tmp_path / "r.yaml").write_text("data: {hub: gsm8k, config: main, columns: {question: prompt}, eval_size: 4}\n"
                                     "stages: {e: {algorithm: eval, model: {tiny: {hidden_size: 32}}}}\n")
    (tmp_path / "gsm8k").symlink_to(gsm8k)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the folder is found beside the recipe, not in the working directory
    assert load_recipe(tmp_path / "r.yaml").data.hub == str(tmp_path / "gsm8k")


def test_sft_trains_and_evaluates_on_a_hub_dataset(gsm8k, tmp_path):
    stage = {**copy.deepcopy(SFT), "eval": {"every": 3, "max_new_tokens": 2, "size": 4}}
    recipe = {"name": "hub", "seed": 0, "num_threads": 1, "stages": {"sft": stage},
              "data": {"hub": str(gsm8k), "config": "main", "eval_split": "test", "verifier": "gsm8k_match",
                       "columns": {"question": "prompt", "answer": "completion"}}}  # fmt: skip
    run = rlft.run(recipe, run_dir=tmp_path / "run", echo=lambda _: None)
    evals = [r for r in map(json.loads, (run.path / "metrics.jsonl").read_text().splitlines()) if r["split"] == "eval"]
    assert [(r["step"], r["num_samples"]) for r in evals] == [(3, 4)]
    assert run.summary["stages"]["sft"]["eval"]["verifier"] == "gsm8k_match"
