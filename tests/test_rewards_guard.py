"""The one guard all user reward code runs through: imports, factories and calls end in one error naming
what the code did (sys.exit included), rewards see copies of what they may mutate, a call can be given a time
limit, and two rewards of a stage may not share a name. The recipe-level cases are in tests/hostile_inputs.py."""

import signal
import sys
import threading
import time

import pytest
import yaml
from conftest import GRPO, TINY, smoke_recipe

import rlft
from rlft.cli import main
from rlft.core.schema import ConfigError
from rlft.rewards import guard, resolve
from rlft.rewards.checker import check_reward
from rlft.rewards.guard import RewardError, RewardTimeout, Timeout, did, fresh, limited, run_user


def quitter(completions, **kwargs):
    sys.exit(0)


def greedy(completions, **kwargs):
    """Swallows every Exception, as careless user code does; the time limit still stops it."""
    try:
        time.sleep(60)
    except Exception:  # noqa: BLE001
        pass
    return [0.0] * len(completions)


def vandal(completions, prompts, answer, **kwargs):
    completions[0][0]["content"] = "changed"
    completions.append("extra")
    prompts.clear()
    answer[0] = "?"
    return [1.0] * 1


@pytest.mark.parametrize("error, words", [
    (SystemExit(0), "called sys.exit(0)"),
    (SystemExit("bye"), "called sys.exit('bye')"),
    (Timeout(0.25), "did not return within 0.25 s"),
    (RuntimeError("boom"), "raised RuntimeError: boom"),
    (GeneratorExit(), "raised GeneratorExit: "),
])
def test_did_names_what_user_code_did(error, words):
    assert did(error) == words


def test_run_user_turns_everything_but_ctrl_c_into_one_error():
    with pytest.raises(ConfigError, match="^k: importing 'x' failed: it called sys.exit\\(2\\)$"):
        run_user("importing 'x' failed: it", sys.exit, (2,), error=lambda m: ConfigError("k", m))
    with pytest.raises(ValueError, match="factory 'f' raised KeyError: 'a'"):
        run_user("factory 'f'", lambda **kw: kw["a"], kwargs={"b": 1})
    with pytest.raises(TypeError, match="unexpected keyword"):  # passes: kept as they are
        run_user("factory 'f'", lambda: 0, kwargs={"b": 1}, passes=(TypeError,))

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_user("reward 'r'", interrupted)


def test_limited_on_the_main_thread_restores_the_alarm_handler():
    before = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(Timeout):
        limited(greedy, 0.2, (["a"],))
    assert time.perf_counter() - start < 5
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert limited(sum, 0.2, ([1, 2],)) == 3 and signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_limited_leaves_an_outer_alarm_in_charge():
    def outer(signum, frame):
        raise TimeoutError("outer")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(TimeoutError, match="outer"):
            limited(time.sleep, 5.0, (2,))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_limited_off_the_main_thread_abandons_the_call():
    seen = {}

    def work():
        try:
            limited(time.sleep, 0.2, (30,))
        except Timeout as e:
            seen["error"] = e
        seen["value"] = limited(sum, 1.0, ([2, 3],))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert isinstance(seen["error"], Timeout) and seen["value"] == 5


def test_guard_turns_sys_exit_and_timeouts_into_reward_errors():
    with pytest.raises(RewardError, match=r"^reward 'quitter', sample 0 of 2, completion 'a': called sys.exit\(0\)$"):
        guard(quitter)(["a", "b"])
    with pytest.raises(RewardTimeout, match="^reward 'greedy' did not return within 0.2 s on a batch of 1"):
        guard(greedy, timeout=0.2)(["a"])


def test_guard_gives_rewards_copies_of_what_they_may_mutate():
    completions = [[{"role": "assistant", "content": "4"}], [{"role": "assistant", "content": "5"}]]
    prompts, answer = ["p1", "p2"], ["4", "5"]
    with pytest.raises(RewardError, match="returned 1 scores for 2 completions"):  # the true count
        guard(vandal)(completions, prompts=prompts, answer=answer)
    assert completions[0][0]["content"] == "4" and len(completions) == 2
    assert prompts == ["p1", "p2"] and answer == ["4", "5"]
    state = object()
    seen = []
    guard(lambda completions, **kw: seen.append(kw["trainer_state"]) or [0.0])(["a"], trainer_state=state)
    assert seen == [state]  # only lists and dicts are copied


def test_guard_adds_a_timeout_to_a_guarded_reward_once():
    g = guard(quitter)
    assert guard(g) is g and guard(g, 3.0).timeout == 3.0 and guard(guard(g, 3.0), 9.0).timeout == 3.0
    assert fresh(("a", [1])) == ("a", [1])


def test_factory_errors_name_the_factory(tmp_path):
    path = tmp_path / "facts.py"
    path.write_text("import sys\ndef none(**kw):\n    return None\ndef leaves(**kw):\n    sys.exit(1)\n"
                    "def number(**kw):\n    return 3\n")
    with pytest.raises(ValueError, match="factory '.*facts.py:none' returned None; a factory returns the reward"):
        resolve(f"{path}:none", {"a": 1})
    with pytest.raises(ValueError, match="factory '.*facts.py:leaves' called sys.exit\\(1\\)"):
        resolve(f"{path}:leaves", {"a": 1})
    with pytest.raises(ValueError, match="factory '.*facts.py:number' returned 3;"):
        resolve(f"{path}:number", {"a": 1})


def test_validate_says_which_module_exits_while_imported(tmp_path, capsys):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    recipe = smoke_recipe(grpo={**GRPO, "model": TINY, "rewards": [f"{tmp_path}/exits.py:shaped"]})
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["validate", str(tmp_path / "r.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "r.yaml: stages.grpo.rewards[0].name: importing '" in err and "exits.py' failed: the module called " \
        "sys.exit(0)" in err
    assert "rlft_user_exits" not in sys.modules  # a failed import leaves no half-made module behind


def test_check_reward_has_a_time_limit_by_default(tmp_path, capsys):
    report = check_reward(greedy, timeout=0.2)
    assert not report.ok and "did not return within 0.2 s" in report.violations[0]
    assert [b.hung for b in report.batches] == [True, True, True]
    (tmp_path / "slow.py").write_text("import time\ndef slow(completions, **kw):\n    time.sleep(60)\n")
    assert main(["check-reward", f"{tmp_path}/slow.py:slow", "--timeout", "0.2"]) == 1
    assert "reward 'slow' did not return within 0.2 s" in capsys.readouterr().out
    assert main(["check-reward", "numeric_match", "--timeout", "-1"]) == 2
    assert "error: --timeout: must be a number of seconds" in capsys.readouterr().err


def test_a_python_reward_named_like_a_recipe_reward_is_refused(tmp_path):
    def numeric_match(completions, **kwargs):
        return [0.0] * len(completions)

    recipe = smoke_recipe(grpo={**GRPO, "model": TINY})
    with pytest.raises(ConfigError, match=r"stages.grpo: reward 'numeric_match' passed from Python \(rewards=\) is "
                       r"named 'numeric_match', like stages.grpo.rewards\[0\].name \('numeric_match'\)"):
        rlft.run(recipe, run_dir=tmp_path / "run", rewards=[numeric_match], echo=lambda s: None)
