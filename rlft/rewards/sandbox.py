"""Run model-written Python in a separate, limited process. Model-written code is hostile input.

Layers, outermost first (each is tested in tests/test_rewards_sandbox.py):
- a fresh process in its own session (`start_new_session`), killed with its whole process group (SIGKILL) on
  a wall-clock timeout and always once it is done;
- when the caller is root, the child runs as uid/gid 65534 (nobody) with no supplementary groups: it cannot
  write root's files, read other processes' memory or environment, or signal them;
- `resource` limits set before exec: CPU seconds (SIGXCPU), address space (a 50 GB allocation fails), file
  size (Python ignores SIGXFSZ, so a bigger write fails with EFBIG), no core files, and RLIMIT_NPROC = 1 so
  no process or thread can be created (a fork bomb fails; the kernel enforces it for non-root uids only,
  which is why root drops to nobody);
- a cleared environment (HOME and TMPDIR point into the sandbox directory), `python -I -S -B` (no user site,
  no site-packages, no PYTHON* variables, no script directory on sys.path);
- a temporary working directory, mode 0700, removed afterwards;
- new user + network namespaces when the kernel allows (`unshare`): no network at all;
- a PEP 578 audit hook in the child (sandbox_harness.py): no writes outside the sandbox directory, nothing
  under /proc (another process's environ), no sockets, no new processes, no signals, no ctypes;
- stdout and stderr are read with a cap (`max_output_bytes` each): more kills the process.

Not protected: the audit hook runs inside the interpreter it guards; PEP 578 says it is not a sandbox, and
code that corrupts the interpreter (crafted bytecode loaded from a written .pyc or through marshal) can get
past it. What then still holds is the kernel's part: uid (only when started as root), rlimits, namespaces
(only where unprivileged user namespaces are allowed), timeout and group kill. Without root, the child
keeps the caller's uid, so past the hook it could read the caller's files and signal its processes; files
readable by everyone (or by the caller) can be read through the hook too. Reading the code's own memory is
not prevented: code that searches the interpreter (frames, gc) can find the test's nonce and fake a pass;
the nonce defends against exiting early, not against an adversary that targets this harness. Timing and
CPU side channels, kernel exploits and disk use inside the 0700 directory (up to the file size limit per
file) are not covered. For untrusted code at scale, run the reward inside a container or VM as well
(gVisor, nsjail, firecracker, e2b).
"""

from __future__ import annotations

import json
import math
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

HARNESS = (Path(__file__).parent / "sandbox_harness.py").read_text()
NOBODY = 65534


@dataclass
class Result:
    """What a sandboxed run did. `passed` is True only when a test was given and the harness printed the
    run's nonce after the test finished (a plain run leaves it False; its output is judged by the caller)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    output_truncated: bool = False
    passed: bool = False
    seconds: float = 0.0
    pid: int = 0  # the child's pid, which was also its process group id (killed when the run ended)
    workdir: str = ""  # the temporary working directory (removed when the run ended)


def _limits(cpu: int, memory: int, file_size: int) -> None:  # runs in the child between fork and exec
    def cap(kind: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        _, current = resource.getrlimit(kind)
        if current != resource.RLIM_INFINITY:  # a non-root caller can only lower its hard limits
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(kind, (soft, hard))

    cap(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL at the hard one
    cap(resource.RLIMIT_AS, memory)
    cap(resource.RLIMIT_FSIZE, file_size)
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, 1)
    os.umask(0o077)


def _rmtree(path: str) -> None:
    def retry(func, p, _exc):  # code may have chmod-ed its own directories to 000
        os.chmod(os.path.dirname(p), 0o700)
        os.chmod(p, 0o700) if os.path.isdir(p) else None
        func(p)

    shutil.rmtree(path, onerror=retry)


class Sandbox:
    """Runs Python code with the limits above. `user`: "auto" (drop to nobody when started as root), None
    (keep the caller's uid) or a uid (needs root). `audit_hook` / `isolate_network` switch layers off, which
    only tests of the other layers should do.

    >>> Sandbox(timeout=2).run("print(6 * 7)").stdout
    '42\\n'
    >>> Sandbox(timeout=2).run("def f(x):\\n    return x + 1", test="assert f(1) == 2").passed
    True
    """

    def __init__(self, timeout: float = 2.0, memory_mb: int = 512, file_size_mb: int = 16,
                 max_output_bytes: int = 1_000_000, cpu_seconds: int | None = None, user: int | str | None = "auto",
                 audit_hook: bool = True, isolate_network: bool = True, python: str | None = None):
        if timeout <= 0 or memory_mb <= 0 or file_size_mb < 0 or max_output_bytes <= 0:
            raise ValueError("timeout, memory_mb and max_output_bytes must be positive and file_size_mb >= 0")
        if user == "auto":
            user = NOBODY if os.geteuid() == 0 else None
        if user is not None and os.geteuid() != 0:
            raise ValueError(f"running sandboxed code as uid {user} needs root; use user=None or 'auto'")
        self.timeout, self.memory_mb, self.file_size_mb = timeout, memory_mb, file_size_mb
        self.max_output_bytes, self.user = max_output_bytes, user
        self.cpu_seconds = cpu_seconds or math.ceil(timeout) + 1
        self.audit_hook, self.isolate_network = audit_hook, isolate_network
        self.python = python or interpreter(user)

    def run(self, code: str, stdin: str = "", test: str | None = None) -> Result:
        """Run `code` (with `stdin` as its input), then `test` if given; never raises for what the code does."""
        root = os.path.realpath(tempfile.mkdtemp(prefix="rlft-sandbox-"))
        nonce = secrets.token_hex(16)
        job = json.dumps({"code": code, "test": test, "nonce": nonce, "root": root, "hook": self.audit_hook,
                          "network": self.isolate_network}).encode()
        read_end, write_end = os.pipe()
        start = time.monotonic()
        proc = writer = None
        try:
            if self.user is not None:
                os.chown(root, self.user, self.user)
            drop = {"user": self.user, "group": self.user, "extra_groups": []} if self.user is not None else {}
            with tempfile.TemporaryFile() as stdin_file:
                stdin_file.write(stdin.encode())
                stdin_file.seek(0)
                proc = subprocess.Popen(
                    [self.python, "-I", "-S", "-B", "-c", HARNESS, str(read_end)],
                    stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root,
                    env={"HOME": root, "TMPDIR": root, "LANG": "C.UTF-8"}, start_new_session=True,
                    pass_fds=(read_end,), preexec_fn=partial(_limits, self.cpu_seconds, self.memory_mb << 20,
                                                             self.file_size_mb << 20), **drop)
            os.close(read_end)
            read_end = None
            writer = threading.Thread(target=_feed, args=(write_end, job), daemon=True)
            writer.start()
            out, err, timed_out, truncated = self._collect(proc, start + self.timeout)
        finally:
            if proc is not None:
                _kill_group(proc)
            if read_end is not None:
                os.close(read_end)
            if writer is None:
                os.close(write_end)
            else:
                writer.join(timeout=1)
            _rmtree(root)
        text = out.decode("utf-8", "replace")
        passed = test is not None and not timed_out and not truncated and nonce in text.splitlines()
        if passed:
            text = text[: text.rfind("\n" + nonce)]
        return Result(proc.returncode, text, err.decode("utf-8", "replace"), timed_out, truncated, passed,
                      time.monotonic() - start, proc.pid, root)

    def _collect(self, proc: subprocess.Popen, deadline: float) -> tuple[bytes, bytes, bool, bool]:
        """Read stdout and stderr until both close, the deadline passes or one exceeds the cap."""
        buffers = {proc.stdout: bytearray(), proc.stderr: bytearray()}
        timed_out = truncated = False
        with selectors.DefaultSelector() as selector:
            for stream in buffers:
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map() and not truncated:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer = buffers[key.fileobj]
                    room = self.max_output_bytes - len(buffer)
                    buffer.extend(chunk[:room])
                    truncated = truncated or len(chunk) > room
        if not timed_out and not truncated:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
            except subprocess.TimeoutExpired:
                timed_out = True
        return bytes(buffers[proc.stdout]), bytes(buffers[proc.stderr]), timed_out, truncated


@lru_cache(maxsize=4)
def interpreter(user: int | None) -> str:
    """A Python the sandbox user can start: this one when it can (always without a uid change), else the
    system's. A pyenv or conda Python under /root is not reachable by nobody; sandboxed code only needs the
    standard library, so any Python 3 will do. Raises ValueError when none starts."""
    candidates = [sys.executable]
    if user is not None:
        candidates += [os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3",
                       shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if user is None:
            return candidate
        drop = {"user": user, "group": user, "extra_groups": []}
        try:
            probe = subprocess.run([candidate, "-I", "-S", "-c", "pass"], cwd="/", env={}, capture_output=True,
                                   timeout=30, **drop)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return candidate
    raise ValueError(f"no Python that uid {user} can run (tried {', '.join(c for c in candidates if c)}); "
                     "pass python=/path/to/python3 readable by that user, or user=None")


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except OSError:  # the child died before reading its job
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group (before reaping it, so the group id cannot be reused)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        stream.close()


@lru_cache(maxsize=1)
def isolation() -> dict:
    """Which kernel layers this machine gives the default sandbox: {"uid": the child's uid,
    "network_namespace": whether it got its own network namespace}. Probed once by running a child."""
    probe = Sandbox(timeout=10, audit_hook=False).run(
        "import os\nprint(os.getuid(), len(open('/proc/self/uid_map').read().strip()) == 0)")
    uid, isolated = (probe.stdout.split() + ["-1", "False"])[:2]
    return {"uid": int(uid), "network_namespace": isolated == "True"}
