"""reasoning-gym as data and verifier: seeded disjoint splits, each row scored by its own task's verifier
(one task or a mixture), and every mistake in `data.reasoning_gym` refused before a run with its key."""

import json
import subprocess
import sys

import pytest
from conftest import GRPO, ROOT, SFT, smoke_recipe

import rlft
from rlft.core.config import DataSpec
from rlft.core.reasoning_gym_spec import GymTask, ReasoningGymSpec
from rlft.core.schema import ConfigError
from rlft.data import load_splits
from rlft.data import reasoning_gym as gym
from rlft.rewards import reasoning_gym as gym_reward
from rlft.rewards import resolve

pytest.importorskip("reasoning_gym")

SPELL = {"name": "spell_backward", "config": {"min_word_len": 3, "max_word_len": 5}}
CHAIN = {"name": "chain_sum", "config": {"min_terms": 2, "max_terms": 2, "max_digits": 2}}


def spec(train_size=300, eval_size=50, **gym_spec) -> DataSpec:
    tasks = gym_spec.pop("mixture", None)
    rg = ReasoningGymSpec(mixture=[GymTask(**t) for t in tasks]) if tasks else ReasoningGymSpec(**gym_spec)
    return DataSpec(reasoning_gym=rg, train_size=train_size, eval_size=eval_size)


def texts(dataset) -> list[str]:
    return [p[-1]["content"] for p in dataset["prompt"]]


def score(reward, dataset, completions) -> list:
    """Score completions of a dataset's rows with its columns as keyword lists, as TRL calls rewards."""
    columns = {c: list(dataset[c]) for c in dataset.column_names if c not in ("prompt", "completion")}
    return reward(list(completions), prompts=list(dataset["prompt"]), **columns)


def test_splits_are_disjoint_distinct_and_deterministic_per_seed():
    data = spec(**SPELL)
    train, held = load_splits(data, seed=0)
    again_train, again_held = load_splits(data, seed=0)
    other_train, other_held = load_splits(data, seed=1)
    assert (len(train), len(held)) == (300, 50)
    assert texts(train) == texts(again_train) and texts(held) == texts(again_held)
    assert texts(held) != texts(other_held) and texts(train) != texts(other_train)
    assert len(set(texts(held))) == 50  # held-out prompts are distinct
    assert not set(texts(train)) & set(texts(held))
    # neighbouring seeds share no held-out problem (reasoning-gym's items are Random(seed + index))
    assert len(set(texts(held)) & set(texts(other_held))) < 5


def test_held_out_split_does_not_depend_on_train_size():
    _, small = load_splits(spec(train_size=100, **CHAIN), seed=3)
    _, large = load_splits(spec(train_size=900, **CHAIN), seed=3)
    assert texts(small) == texts(large)


def test_rows_carry_answer_task_settings_and_metadata():
    train, _ = load_splits(spec(train_size=20, eval_size=5, **SPELL), seed=0)
    assert train.column_names == ["prompt", "completion", "answer", "task", "task_config", "metadata"]
    for row in train:
        word = gym_reward.decode(row["metadata"])["word"]
        assert row["answer"] == word[::-1] and row["completion"][0]["content"] == row["answer"]
        assert row["task"] == "spell_backward" and json.loads(row["task_config"]) == SPELL["config"]
        assert 3 <= len(word) <= 5 and row["prompt"][0]["role"] == "user"


def wrong_number(answer: str) -> str:
    return str(int(answer) + 1)


@pytest.mark.parametrize(
    ("task", "config", "wrong", "wrong_score"),
    [
        ("spell_backward", {"max_word_len": 6}, lambda a: "#" * len(a), 0.0),
        ("chain_sum", {"max_terms": 3, "max_digits": 2}, wrong_number, 0.0),
        ("letter_counting", {"max_words": 5}, wrong_number, 0.0),
        ("count_bits", {"max_n": 1000}, wrong_number, 0.0),
        ("basic_arithmetic", {"max_terms": 2, "max_digits": 1, "operators": ["+", "-"]}, wrong_number, 0.0),
        # ARC's verifier compares boards as tuples: the metadata must come back with its tuples
        ("arc_agi", {}, lambda a: "0", 0.05),
    ],
)
def test_reward_scores_each_task_by_its_own_verifier(task, config, wrong, wrong_score):
    _, held = load_splits(spec(train_size=10, eval_size=8, name=task, config=config), seed=0)
    reward = resolve("reasoning_gym", {})
    assert score(reward, held, held["answer"]) == [1.0] * 8
    assert score(reward, held, [" " + a + "\n" for a in held["answer"]]) == [1.0] * 8  # outer whitespace
    assert score(reward, held, [wrong(a) for a in held["answer"]]) == [wrong_score] * 8


def test_spell_backward_gives_partial_credit_by_position():
    rows = {"answer": ["nus"], "metadata": [gym_reward.encode({"word": "sun"})], "task": ["spell_backward"]}
    assert resolve("reasoning_gym", {})(["nux"], **rows) == [pytest.approx(2 / 3)]


def test_answer_tag_scores_the_tagged_answer_only():
    _, held = load_splits(spec(train_size=10, eval_size=4, **CHAIN), seed=0)
    tagged = resolve("reasoning_gym", {"answer_tag": True})
    assert score(tagged, held, [f"<think>hm</think><answer>{a}</answer>" for a in held["answer"]]) == [1.0] * 4
    assert score(tagged, held, held["answer"]) == [0.0] * 4


def test_a_scorer_that_raises_on_a_malformed_answer_scores_zero():
    _, held = load_splits(spec(train_size=10, eval_size=2, name="prime_factorization"), seed=0)
    assert score(resolve("reasoning_gym", {}), held, ["abc", "x * y"]) == [0.0, 0.0]


def test_mixture_rows_follow_the_weights_and_route_to_their_own_verifier():
    data = spec(train_size=600, eval_size=60, mixture=[{**SPELL, "weight": 1.0}, {**CHAIN, "weight": 3.0}])
    train, held = load_splits(data, seed=0)
    share = train["task"].count("chain_sum") / len(train)
    assert 0.68 < share < 0.82  # weight 3 of 4
    reward = resolve("reasoning_gym", {})
    assert score(reward, held, held["answer"]) == [1.0] * 60
    # a spelling row answered with a number, and a sum answered with letters: each judged by its own task
    swapped = ["12" if t == "spell_backward" else "abc" for t in held["task"]]
    assert score(reward, held, swapped) == [0.0] * 60
    # without the task column, the metadata's source_dataset routes each row
    no_task = held.remove_columns(["task"])
    assert score(reward, no_task, no_task["answer"]) == [1.0] * 60


def test_route_reward_can_split_a_mixture_by_its_task_column():
    _, held = load_splits(spec(train_size=50, eval_size=20, mixture=[SPELL, CHAIN]), seed=0)
    route = resolve("route", {"column": "task", "routes": {"spell_backward": "reasoning_gym",
                                                            "chain_sum": "numeric_match"}})  # fmt: skip
    assert score(route, held, [a + ".0" if t == "chain_sum" else a for a, t in zip(held["answer"], held["task"])]) \
        == [1.0] * 20  # fmt: skip


def test_rows_without_metadata_do_not_apply():
    assert resolve("reasoning_gym", {})(["1"], answer=["1"]) == [None]


def recipe(data: dict, **stages) -> dict:
    raw = smoke_recipe(**(stages or {"eval": {"algorithm": "eval", "model": {"tiny": {"hidden_size": 32}}}}))
    return {**raw, "data": {"train_size": 64, "eval_size": 16, **data}}


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"reasoning_gym": {"name": "spel_backward"}}, "data.reasoning_gym.name", "close names: spell_backward"),
        ({"reasoning_gym": {"mixture": [SPELL, {"name": "chain_sums"}]}}, "data.reasoning_gym.mixture[1].name",
         "close names: chain_sum"),
        ({"reasoning_gym": {"name": "composite"}}, "data.reasoning_gym.name", "write `mixture:` here instead"),
        ({"reasoning_gym": {"name": "spell_backward", "config": {"max_word_length": 5}}},
         "data.reasoning_gym.config.max_word_length", "did you mean 'max_word_len'"),
        ({"reasoning_gym": {"mixture": [{"name": "chain_sum", "config": {"seed": 3}}]}},
         "data.reasoning_gym.mixture[0].config.seed", "set by rlft from the data seed"),
        ({"reasoning_gym": {"name": "spell_backward", "config": {"min_word_len": 6, "max_word_len": 4}}},
         "data.reasoning_gym.config", "task 'spell_backward' refuses these settings"),
        ({"reasoning_gym": {"name": "chain_sum", "mixture": [CHAIN]}}, "data.reasoning_gym",
         "set exactly one of name"),
        ({"reasoning_gym": {"mixture": [CHAIN], "config": {"max_terms": 2}}}, "data.reasoning_gym.config",
         "give each mixture entry its own config"),
        ({"reasoning_gym": {"mixture": [{**CHAIN, "weight": 0}]}}, "data.reasoning_gym.mixture[0].weight",
         "must be a number > 0"),
        ({"reasoning_gym": {"nme": "chain_sum"}}, "data.reasoning_gym.nme", "did you mean 'name'"),
        ({"reasoning_gym": "chain_sum", "kwargs": {"max_terms": 2}}, "data.kwargs", "reasoning_gym.config"),
        ({"reasoning_gym": "chain_sum", "task": "arithmetic"}, "data", "set exactly one of task, reasoning_gym"),
        # 1370 words of 3 letters: fewer than eval_size distinct held-out problems
        ({"reasoning_gym": {"name": "spell_backward", "config": {"min_word_len": 3, "max_word_len": 3}},
          "eval_size": 1500}, "data.reasoning_gym", "too few distinct problems"),
    ],
)  # fmt: skip
def test_bad_reasoning_gym_data_is_refused_with_its_key(data, key, message):
    with pytest.raises(ConfigError) as err:
        rlft.load_recipe(recipe(data))
    assert err.value.key == key and message in err.value.message


def test_a_generator_that_never_finds_a_problem_is_stopped(monkeypatch):
    monkeypatch.setattr(gym, "PROBLEM_SECONDS", 0.5)
    same_bases = {"name": "base_conversion", "config": {"min_base": 2, "max_base": 2}}  # it loops for other bases
    with pytest.raises(ConfigError, match="did not make problem 0 within 0.5 s") as err:
        rlft.load_recipe(recipe({"reasoning_gym": same_bases}))
    assert err.value.key == "data.reasoning_gym"


def test_sft_on_a_task_without_reference_answers_is_refused():
    with pytest.raises(ConfigError, match="task 'graph_color' gives no reference answer") as err:
        rlft.load_recipe(recipe({"reasoning_gym": "graph_color"}, sft=SFT))
    assert err.value.key == "data.reasoning_gym"


def test_preference_stages_are_refused():
    dpo = {"algorithm": "dpo", "model": SFT["model"], "trainer": {"max_steps": 1}}
    with pytest.raises(ConfigError, match="gives prompt/completion rows; this stage trains on preference rows"):
        rlft.load_recipe(recipe({"reasoning_gym": CHAIN}, dpo=dpo))


def test_without_the_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setattr(gym, "available", lambda: False)
    monkeypatch.setattr(gym_reward, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'rlft\[tasks\]'") as err:
        rlft.load_recipe(recipe({"reasoning_gym": CHAIN}))
    assert err.value.key == "data.reasoning_gym"
    grpo = {**GRPO, "model": SFT["model"], "rewards": ["reasoning_gym"]}
    with pytest.raises(ConfigError, match=r"pip install 'rlft\[tasks\]'") as err:
        rlft.load_recipe(smoke_recipe(grpo=grpo))
    assert err.value.key == "stages.grpo.rewards[0].name"
    assert "not installed" in gym.listing()[0]


def test_listing_names_the_tasks_but_not_the_composite():
    text = "\n".join(gym.listing())
    assert "spell_backward" in text and "chain_sum" in text and "composite" not in text


def test_a_run_trains_and_evaluates_with_each_rows_verifier(tmp_path):
    grpo = {**GRPO, "model": {"from_stage": "sft"}, "rewards": ["reasoning_gym"]}
    routes = {"column": "task", "routes": {"spell_backward": "reasoning_gym", "chain_sum": "numeric_match"}}
    stages = {"sft": SFT, "grpo": grpo, "eval": {"algorithm": "eval", "model": {"from_stage": "grpo"}},
              "routed": {"algorithm": "eval", "model": {"from_stage": "grpo"},
                         "eval": {"verifier": {"name": "route", "kwargs": routes}}}}  # fmt: skip
    raw = recipe({"reasoning_gym": {"mixture": [SPELL, CHAIN]}}, **stages)
    result = rlft.run(raw, run_dir=tmp_path / "run", echo=lambda s: None)
    evaluation = result.summary["stages"]["eval"]["eval"]
    assert evaluation["verifier"] == "reasoning_gym" and evaluation["num_samples"] == 16
    assert 0.0 <= evaluation["accuracy"] <= 1.0
    # held-out evaluation hands the verifier plain lists, which `route` cuts row by row
    assert result.summary["stages"]["routed"]["eval"]["verifier"] == "route"
    assert result.summary["stages"]["routed"]["eval"]["num_samples"] == 16
    logged = [json.loads(line) for line in (result.path / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/reasoning_gym/mean" in r for r in logged if r["stage"] == "grpo")
    # bench/rg_per_task.py splits the held-out accuracy by task; its "all" is the eval stage's accuracy
    script = [sys.executable, str(ROOT / "bench" / "rg_per_task.py"), str(result.path), "grpo"]  # 16 tokens, as eval
    done = subprocess.run(script, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [line] = [x for x in done.stdout.splitlines() if x.startswith("grpo:")]
    assert f"all {evaluation['accuracy']:.3f};" in line and "chain_sum" in line and "spell_backward" in line
