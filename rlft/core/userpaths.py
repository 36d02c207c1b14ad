"""One check for every path a user names (recipe, data file, reward `.py` file, reward-model definition,
model folder) before it is opened: what the path is, and why it cannot be used, as one ConfigError.

Opening a named pipe (FIFO) for reading waits for a writer, a symlink loop or a path through a file fails
with an errno the user never sees, and a device or socket is not data: each is named here instead. Tests run
as root, for whom permission bits do not block reading; `os.access` and a real open are both asked, so a
simulated denial is reported like a real one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

from rlft.core.schema import ConfigError

KINDS = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISSOCK: "a socket",
         stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}  # fmt: skip
WHY = {"a named pipe (FIFO)": "reading it waits for a writer and it can be read only once",
       "a socket": "it holds no data to read", "a character device": "it holds no data to read",
       "a block device": "it is a disk, not a file"}  # fmt: skip


def missing(path: str | Path) -> str | None:
    """Why `path` cannot be reached ('does not exist', 'is a symlink loop', ...), or None when it can.

    >>> missing("/"), missing("/no/such/path")
    (None, 'does not exist')
    """
    try:
        os.stat(Path(path).expanduser())
    except OSError as e:
        return _reason(Path(path).expanduser(), e)
    return None


def _reason(path: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "is a symlink loop (a link that leads back to itself)"
    if e.errno == errno.ENOENT and path.is_symlink():
        return f"is a broken symlink (it points to '{os.readlink(path)}', which does not exist)"
    if e.errno == errno.ENOTDIR:
        return "does not exist (a part of it is a file, not a folder)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "cannot be reached: permission denied on a folder above it"
    if e.errno == errno.ENOENT:
        return "does not exist"
    return f"cannot be read: {e.strerror or e}"


def kind(path: str | Path) -> str:
    """What a path that exists is: 'a file', 'a folder', 'a named pipe (FIFO)', 'a socket', a device.

    >>> kind("/"), kind(__file__)
    ('a folder', 'a file')
    """
    mode = os.stat(Path(path).expanduser()).st_mode
    return next((name for test, name in KINDS.items() if test(mode)), "a file")


def is_pipe(path: str | Path) -> bool:
    """Whether `path` is a pipe, as a shell hands `<(...)` to a command (`/dev/fd/63`)."""
    return missing(path) is None and kind(path) == "a named pipe (FIFO)"


def check_file(path: str | Path, key: str, what: str, allowed: str = "", empty_ok: bool = True) -> Path:
    """The path of a regular, readable file (symlinks followed); otherwise a ConfigError at `key` saying
    `what` the path was meant to be, what it is, why that cannot be used and `allowed`.

    >>> check_file("/", "data.path", "data file", "give a .jsonl file")
    Traceback (most recent call last):
    ...
    rlft.core.schema.ConfigError: data.path: data file '/' is a folder; give a .jsonl file
    """
    file = Path(path).expanduser()
    problem = missing(file)
    if problem is None and (found := kind(file)) != "a file":
        problem = f"is {found}" + (f", not a file: {WHY[found]}" if found in WHY else "")
    if problem is None:
        problem = _unreadable(file)
    if problem is None and not empty_ok and file.stat().st_size == 0:
        problem = "is empty (0 bytes)"
    if problem is not None:
        raise ConfigError(key, f"{what} '{path}' {problem}" + (f"; {allowed}" if allowed else ""))
    return file


def check_folder(path: str | Path, key: str, what: str, allowed: str = "") -> Path:
    """The path of a folder that can be listed and read; otherwise a ConfigError as `check_file` gives."""
    folder = Path(path).expanduser()
    problem = missing(folder)
    if problem is None and (found := kind(folder)) != "a folder":
        problem = f"is {found}, not a folder"
    if problem is None and not os.access(folder, os.R_OK | os.X_OK):
        problem = "cannot be read: permission denied"
    if problem is not None:
        raise ConfigError(key, f"{what} '{path}' {problem}" + (f"; {allowed}" if allowed else ""))
    return folder


def _unreadable(file: Path) -> str | None:
    """'cannot be read: ...' when the process may not read the file, else None (it is opened to be sure)."""
    if not os.access(file, os.R_OK):
        return "cannot be read: permission denied"
    try:
        with file.open("rb"):
            return None
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"


def read_text(path: str | Path, key: str, what: str, allowed: str = "") -> str:
    """The bytes of a file or a pipe (`rlft validate <(...)`), read once and decoded as UTF-8 (a
    UnicodeDecodeError passes through for the caller to place). A pipe with no writer reads as empty rather
    than waiting: it is opened without blocking, then read to its end."""
    file = Path(path).expanduser()
    if not is_pipe(file):
        return check_file(path, key, what, allowed).read_bytes().decode("utf-8")
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8")
