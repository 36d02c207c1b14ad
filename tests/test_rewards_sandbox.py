"""The code reward's sandbox contains hostile code: each attack scores 0 and this test process is unharmed.

The first table runs every attack through the code reward with all layers on. The second switches the
audit hook off to show that the kernel's layers (rlimits, uid, namespaces) hold on their own, where this
machine gives them (see `sandbox.isolation()`)."""

import os
import signal
import socket
import subprocess
import uuid

import pytest

from rlft.rewards import CodeTests, Sandbox
from rlft.rewards.sandbox import isolation

SECRET = "RLFT_TEST_SECRET_TOKEN"


@pytest.fixture
def listener():
    """A TCP server on localhost that attacks try to reach; yields (port, accept() -> connected?)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)

    def connected() -> bool:
        try:
            server.accept()[0].close()
            return True
        except OSError:
            return False

    yield server.getsockname()[1], connected
    server.close()


def attacks(port: int, outside: str) -> dict[str, str]:
    """Hostile completions, each followed by a test it must not pass."""
    return {
        # runs forever: killed at the wall-clock timeout
        "infinite loop": "while True:\n    pass",
        # the classic fork bomb
        "fork bomb": "import os\nwhile True:\n    os.fork()",
        # subprocesses are processes too
        "subprocess": f"import subprocess\nsubprocess.run(['touch', '{outside}'])",
        # 50 GB: refused by the address-space limit
        "allocate 50 GB": "x = bytearray(50 * 2**30)",
        # a file outside the sandbox directory
        "write outside": f"open('{outside}', 'w').write('pwned')",
        # the same through a relative path after chdir
        "write outside, relative": f"import os\nos.chdir('/')\nopen('{outside[1:]}', 'w').write('pwned')",
        # a connection to a server on this machine
        "open a socket": f"import socket\nsocket.create_connection(('127.0.0.1', {port})).sendall(b'x')",
        # the caller's environment: cleared
        "read environment": f"import os\nassert os.environ['{SECRET}'] == 'hunter2'",
        # the caller's environment through /proc
        "read parent environ": "import os\nassert b'hunter2' in open(f'/proc/{os.getppid()}/environ', 'rb').read()",
        # the same through a symlink into /proc
        "environ via /dev/fd": ("import os\nassert b'hunter2' in "
                                "open(f'/dev/fd/../../{os.getppid()}/environ', 'rb').read()"),
        # 1 GB on stdout: stopped at the output cap
        "print 1 GB": "import sys\nfor _ in range(10_000):\n    sys.stdout.write('x' * 100_000)",
        # kill the trainer
        "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        # exit with success before the asserts run
        "sys.exit(0)": "import sys\nsys.exit(0)",
        "os._exit(0)": "import os\nos._exit(0)",
        "raise SystemExit": "raise SystemExit(0)",
        # print what a naive harness might look for
        "fake success output": "print('PASSED')\nprint('ok')\nimport os\nos._exit(0)",
        # turn the audit hook off through ctypes
        "ctypes": "import ctypes\nctypes.CDLL(None).getpid()",
        # patch the audit hook's code
        "patch the hook": ("import gc, types\nfor o in gc.get_objects():\n    if isinstance(o, types.FunctionType) "
                           "and o.__name__ == 'hook':\n        o.__code__ = (lambda e, a: None).__code__\n"
                           f"open('{outside}', 'w')"),
    }


ATTACKS = list(attacks(0, "/x"))


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_scores_zero_and_is_contained(attack, listener, monkeypatch, tmp_path):
    port, connected = listener
    outside = f"/tmp/rlft-escape-{uuid.uuid4().hex}"
    monkeypatch.setenv(SECRET, "hunter2")
    timeout = 0.5 if attack == "infinite loop" else 2
    reward = CodeTests(timeout=timeout)
    scores = reward([attacks(port, outside)[attack]], test_cases=[["assert True"]])
    assert scores == [0.0]
    assert not os.path.exists(outside)
    assert not connected()


def test_harmless_code_still_passes():
    # the positive control for the table above: the same reward, code that is fine
    code = ("import json, os\nopen('scratch.txt', 'w').write('1')\n"
            "def f():\n    return json.loads(open('scratch.txt').read())")
    assert CodeTests(timeout=5)([code], test_cases=[["assert f() == 1"]]) == [1.0]


def test_run_cleans_up_process_group_and_directory():
    # closes its pipes and lingers: only the timeout and the group kill end it
    code = "import os, time\nopen('scratch', 'w').write('x')\nos.close(1)\nos.close(2)\ntime.sleep(30)"
    result = Sandbox(timeout=0.5).run(code)
    assert result.timed_out and result.returncode == -signal.SIGKILL
    assert not os.path.exists(result.workdir)
    with pytest.raises(ProcessLookupError):
        os.killpg(result.pid, 0)


def test_output_cap_reports_truncation():
    result = Sandbox(timeout=5, max_output_bytes=1000).run("print('x' * 5000)")
    assert result.output_truncated and len(result.stdout) <= 1000


def test_limits_are_set_in_the_child():
    code = ("import resource as r\nfor k in ('CPU', 'AS', 'FSIZE', 'NPROC', 'CORE'):\n"
            "    print(k, *r.getrlimit(getattr(r, 'RLIMIT_' + k)))")
    out = Sandbox(timeout=5, cpu_seconds=3, memory_mb=256, file_size_mb=1).run(code).stdout.split("\n")
    assert out[:5] == ["CPU 3 4", f"AS {256 << 20} {256 << 20}", f"FSIZE {1 << 20} {1 << 20}", "NPROC 1 1", "CORE 0 0"]


def test_file_size_limit_stops_a_big_write():
    # Python ignores SIGXFSZ, so the write fails with EFBIG instead of the process being killed
    result = Sandbox(timeout=5, file_size_mb=1).run("open('big', 'wb').write(b'x' * (2 << 20))")
    assert result.returncode == 1 and "File too large" in result.stderr


# ------------------------------------------------------------------ the kernel's layers, audit hook off

def raw(timeout: float = 2) -> Sandbox:
    return Sandbox(timeout=timeout, audit_hook=False)


def test_os_layer_no_new_processes():
    # bounded, so that a failure could not hurt this machine: 16 forks, each child sleeps
    code = ("import os\nn = 0\nfor _ in range(16):\n    try:\n        pid = os.fork()\n    except OSError:\n"
            "        break\n    if pid == 0:\n        import time\n        time.sleep(30)\n        os._exit(0)\n"
            "    n += 1\nprint(n)")
    result = raw().run(code)
    if os.geteuid() == 0 and isolation()["uid"] == 0:
        pytest.skip("root without a uid change: RLIMIT_NPROC does not apply")
    assert result.stdout.strip() == "0"


def test_os_layer_memory_and_environment(monkeypatch):
    monkeypatch.setenv(SECRET, "hunter2")
    assert raw().run("x = bytearray(50 * 2**30)", test="pass").passed is False
    assert "MemoryError" in raw().run("x = bytearray(50 * 2**30)").stderr
    env = raw().run("import os\nprint(sorted(os.environ))").stdout
    assert SECRET not in env


@pytest.mark.skipif(isolation()["uid"] != 65534, reason="the uid change needs the tests to run as root")
def test_os_layer_uid_protects_root_files_and_processes(tmp_path):
    target = tmp_path / "escape.txt"  # pytest's tmp_path is root's, mode 0700
    assert not raw().run(f"open('{target}', 'w')", test="pass").passed
    assert not target.exists()
    victim = subprocess.Popen(["sleep", "30"])
    try:
        result = raw().run(f"import os, signal\nos.kill({victim.pid}, signal.SIGKILL)", test="pass")
        assert not result.passed and "Operation not permitted" in result.stderr
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.skipif(not isolation()["network_namespace"], reason="no unprivileged network namespaces here")
def test_os_layer_no_network(listener):
    port, connected = listener
    result = raw().run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)", test="pass")
    assert not result.passed and "unreachable" in result.stderr
    assert not connected()
