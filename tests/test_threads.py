"""The CPU thread policy (rlft/core/threads.py): passive OpenMP threads set before torch loads, a default thread
count from the usable cores, the previous count restored after a run, and the oversubscription warning."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import EVAL, ROOT, smoke_recipe

from rlft.core import threads


def python(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **env}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_import_rlft_sets_passive_wait_policy_before_torch():
    code = "import sys, os, rlft; print('torch' in sys.modules, os.environ['OMP_WAIT_POLICY'])"
    assert python(code) == "False PASSIVE"  # importing rlft does not load torch, so the setting takes effect


def test_cli_module_sets_it_too_and_a_users_choice_is_kept():
    code = "import os, rlft.cli; print(os.environ['OMP_WAIT_POLICY'], rlft.core.threads.wait_policy())"
    assert python(code) == "PASSIVE PASSIVE"
    assert python(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE ACTIVE"


def test_after_torch_it_is_too_late_and_says_so():
    code = "import torch, os, rlft; print('OMP_WAIT_POLICY' in os.environ, rlft.core.threads.set_wait_policy())"
    assert python(code) == "False False"


@pytest.mark.parametrize("cpu_max, cores", [("200000 100000", 2), ("50000 100000", 1), ("max 100000", None),
                                            ("", None), ("250000 100000", 3)])  # fmt: skip
def test_quota_cores(cpu_max, cores):
    assert threads.quota_cores(cpu_max) == cores


def test_default_threads_fit_the_usable_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    cores = threads.usable_cores()
    assert 1 <= threads.default_threads() == cores <= (os.cpu_count() or 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two processes of a launch on this machine share the cores
    assert threads.default_threads() == max(1, cores // 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what torchrun sets: the user's (or launcher's) choice wins
    assert threads.default_threads() == 1


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "registry_dir", lambda: tmp_path / "runs")
    return tmp_path / "runs"


def test_live_runs_sees_other_processes_and_forgets_ended_ones(registry):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        registry.mkdir(parents=True)
        (registry / f"{sleeper.pid}.json").write_text(json.dumps({"pid": sleeper.pid, "threads": 2, "label": "x"}))
        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                               text=True).stdout.strip()  # fmt: skip
        (registry / f"{ended}.json").write_text(json.dumps({"pid": int(ended), "threads": 2, "label": "gone"}))
        (registry / "junk.json").write_text("{not json")
        own = threads.register(1, "me")
        assert [r["label"] for r in threads.live_runs()] == ["x"]  # not itself, not the ended one
        assert not (registry / f"{ended}.json").exists()
        threads.unregister(own)
        assert not own.exists()
    finally:
        sleeper.kill()


def test_oversubscribed_only_when_threads_exceed_cores():
    other = [{"pid": 1, "threads": 1, "label": "a"}]
    assert threads.oversubscribed(1, 2, other) is None
    assert threads.oversubscribed(2, 2, []) is None
    message = threads.oversubscribed(2, 2, other)
    assert "2 rlft runs" in message and "3 threads on 2 cores" in message and "num_threads=1" in message
    assert "OMP_WAIT_POLICY" not in message  # passive: no spinning to report
    assert "OMP_WAIT_POLICY=ACTIVE" in threads.oversubscribed(2, 2, other, policy="ACTIVE")


def test_a_run_warns_beside_another_and_restores_the_thread_count(registry, tmp_path, monkeypatch):
    import rlft

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cores = threads.usable_cores()
    try:
        registry.mkdir(parents=True)
        (registry / f"{sleeper.pid}.json").write_text(
            json.dumps({"pid": sleeper.pid, "threads": cores, "label": "neighbour"}))
        torch.set_num_threads(1)
        recipe = smoke_recipe(test={**EVAL, "model": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2,
                                                                "num_kv_heads": 1}}})  # fmt: skip
        del recipe["num_threads"]  # the default: every usable core
        lines = []
        result = rlft.run(recipe, run_dir=tmp_path / "run", echo=lines.append)
        warnings = [line for line in lines if line.startswith("rlft: warning:")]
        assert len(warnings) == 1 and "'neighbour'" in warnings[0]  # once per run, naming the other run
        env = json.loads((result.path / "env.json").read_text())
        assert env["torch_threads"] == cores and env["usable_cores"] == cores
        assert torch.get_num_threads() == 1  # the process's own setting is back
        assert list(registry.glob("*.json")) == [registry / f"{sleeper.pid}.json"]  # this run removed its entry
    finally:
        sleeper.kill()
        torch.set_num_threads(1)
