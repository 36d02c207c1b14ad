"""Tasks and local files become datasets with the canonical columns; splits are seeded and disjoint."""

import json

import pytest

from rlft.core.config import DataSpec
from rlft.core.schema import ConfigError
from rlft.data import load_splits
from rlft.data.tasks import TASKS, arithmetic_problem


def test_task_splits_are_seeded_and_disjoint():
    spec = DataSpec(task="arithmetic", kwargs={"digits": 2}, train_size=3000, eval_size=200)
    train, held = load_splits(spec, seed=0)
    again, held_again = load_splits(spec, seed=0)
    other, _ = load_splits(spec, seed=1)
    assert len(train) == 3000 and len(held) == 200
    assert train["answer"] == again["answer"] and held["prompt"] == held_again["prompt"]
    assert train["prompt"] != other["prompt"]
    seen = {p[0]["content"] for p in train["prompt"]}
    assert not seen & {p[0]["content"] for p in held["prompt"]}
    assert len(seen) == 3000


def test_task_rows_are_conversational_and_correct():
    train, _ = load_splits(DataSpec(task="arithmetic", kwargs={"digits": 3, "ops": ["+", "-", "*"]},
                                    train_size=50, eval_size=5), seed=0)
    for prompt, completion, answer in zip(train["prompt"], train["completion"], train["answer"]):
        assert prompt[0]["role"] == "user" and completion[0]["role"] == "assistant"
        assert completion[0]["content"] == answer
        assert str(eval(prompt[0]["content"].rstrip("="))) == answer


@pytest.mark.parametrize(("index", "kwargs", "expected"), [
    (0, {}, ("0+0=", "0")),
    (9999, {}, ("99+99=", "198")),
    (10000 + 99, {"ops": ["+", "*"]}, ("0*99=", "0")),
    (7, {"digits": 1, "ops": ["-"]}, ("0-7=", "-7")),
])
def test_arithmetic_problem_table(index, kwargs, expected):
    assert arithmetic_problem(index, **kwargs) == expected


def test_every_task_has_a_registered_verifier():
    from rlft.rewards import REWARDS

    for task in TASKS.values():
        assert task.verifier in REWARDS


ROWS = [{"prompt": f"{i}+1=", "completion": str(i + 1), "answer": str(i + 1)} for i in range(20)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_local_files_load_with_split(tmp_path, fmt):
    import pandas as pd

    path = tmp_path / f"d.{fmt}"
    frame = pd.DataFrame(ROWS)
    {"jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     "csv": lambda: frame.to_csv(path, index=False),
     "parquet": lambda: frame.to_parquet(path)}[fmt]()
    train, held = load_splits(DataSpec(path=str(path), eval_size=5), seed=0)
    assert len(train) == 15 and len(held) == 5
    assert not set(train["prompt"]) & set(held["prompt"])
    assert str(train["answer"][0]) == str(int(train["prompt"][0].split("+")[0]) + 1)


def test_file_without_required_column_names_file_and_column(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"question": r["prompt"]}) for r in ROWS))
    with pytest.raises(ConfigError, match=r"d.jsonl' lacks column\(s\) prompt; it has: question"):
        load_splits(DataSpec(path=str(path)), seed=0)


def test_file_with_empty_value_names_row(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [dict(r) for r in ROWS]
    rows[7]["prompt"] = ""
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ConfigError, match="row 7: column 'prompt' is empty"):
        load_splits(DataSpec(path=str(path)), seed=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_preference_pairs_prefer_the_correct_answer(seed):
    spec = DataSpec(task="arithmetic", kwargs={"digits": 2}, train_size=300, eval_size=10)
    train, held = load_splits(spec, seed=seed, kind="preference")
    assert set(train.column_names) == {"prompt", "chosen", "rejected", "answer"}
    assert set(held.column_names) >= {"prompt", "answer"}
    for chosen, rejected, answer in zip(train["chosen"], train["rejected"], train["answer"]):
        assert chosen[0]["content"] == answer and rejected[0]["content"] != answer
        assert chosen[0]["role"] == rejected[0]["role"] == "assistant"


def test_label_noise_flips_that_fraction():
    spec = DataSpec(task="arithmetic", kwargs={"digits": 2}, train_size=2000, eval_size=10, label_noise=0.2)
    train, _ = load_splits(spec, seed=0, kind="preference")
    flipped = sum(c[0]["content"] != a for c, a in zip(train["chosen"], train["answer"])) / len(train)
    assert 0.17 < flipped < 0.23
    unpaired, _ = load_splits(spec, seed=0, kind="unpaired")
    wrong = sum((c[0]["content"] == a) != lab for c, a, lab in
                zip(unpaired["completion"], unpaired["answer"], unpaired["label"])) / len(unpaired)
    assert 0.17 < wrong < 0.23
    assert 0.45 < sum(unpaired["label"]) / len(unpaired) < 0.55


@pytest.mark.parametrize(("kind", "rows", "words"), [
    ("preference", [{"prompt": "1+1=", "chosen": "2"}], r"lacks column\(s\) rejected"),
    ("preference", [{"prompt": "1+1=", "chosen": "2", "rejected": ""}], "row 0: column 'rejected' is empty"),
    ("unpaired", [{"prompt": "1+1=", "completion": "2"}], r"lacks column\(s\) label"),
    ("sft", [{"prompt": "1+1=", "answer": "2"}], r"lacks column\(s\) completion"),
])
def test_bad_preference_files(tmp_path, kind, rows, words):
    from rlft.data import check

    path = tmp_path / "prefs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ConfigError, match=words) as err:
        check(DataSpec(path=str(path)), "stages.dpo.data", kind)
    assert err.value.key == "stages.dpo.data.path" and "prefs.jsonl" in str(err.value)
