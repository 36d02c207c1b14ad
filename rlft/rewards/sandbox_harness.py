"""The program the sandbox runs in its child process (`python -I -S -B -c <this file's source> FD`).

It reads its job (code, optional test, nonce, options) from the pipe FD, so none of it is on disk, in argv
or in the environment; moves into new user and network namespaces when the kernel allows (no network
interface but a down loopback); installs an audit hook (PEP 578) that refuses writes outside the sandbox
directory, any access under /proc, sockets, new processes, signals, ctypes and tampering with the hook;
then runs the code. With a test, the test runs after the code in the same namespace and the nonce is
printed only once both finished without raising: exiting early (`sys.exit(0)`, `os._exit(0)`) never
prints it, so it cannot fake a pass. Imported as a module it only defines functions.
"""


def unshare_network() -> bool:
    """Move into new user + network namespaces (no interfaces but a down loopback); False if not allowed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(0x10000000 | 0x40000000) == 0  # CLONE_NEWUSER | CLONE_NEWNET
    except Exception:  # noqa: BLE001 - no ctypes / no libc symbol: stay where we are
        return False


def make_realpath():
    """A symlink-resolving realpath that only uses builtins bound at definition time, so code that later
    monkeypatches `os` or `posixpath` cannot change what the audit hook sees."""
    import _stat
    import posix

    def realpath(path, _getcwd=posix.getcwd, _lstat=posix.lstat, _readlink=posix.readlink, _islink=_stat.S_ISLNK,
                 _str=str, _bytes=bytes, _isinstance=isinstance, _oserror=OSError, _list=list, _reversed=reversed):
        if _isinstance(path, _bytes):
            path = path.decode("utf-8", "surrogateescape")
        if not _isinstance(path, _str):
            return None
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        todo, done, hops = _list(_reversed(path.split("/"))), [], 0
        while todo:
            part = todo.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/" + "/".join(done + [part])
            try:
                link = _islink(_lstat(current).st_mode)
            except _oserror:
                link = False
            if link and hops < 40:
                hops += 1
                target = _readlink(current)
                if target.startswith("/"):
                    done = []
                todo.extend(_reversed(target.split("/")))
            else:
                done.append(part)
        return "/" + "/".join(done)

    return realpath


_FUNCTION = type(make_realpath)


def install_audit_hook(root: str) -> None:
    """Refuse, with PermissionError, what sandboxed code must not do (see the module docstring)."""
    import posix
    import sys

    # event -> (positions of path arguments, positions of dir_fd arguments)
    path_events = {
        "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.mkdir": ((0,), (2,)), "os.chmod": ((0,), (2,)),
        "os.chown": ((0,), (3,)), "os.utime": ((0,), (3,)), "os.rename": ((0, 1), (2, 3)),
        "os.truncate": ((0,), ()), "os.setxattr": ((0,), ()), "os.removexattr": ((0,), ()),
        "os.chflags": ((0,), ()), "os.lchflags": ((0,), ()),
    }
    denied = frozenset({
        "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen",
        "os.kill", "os.killpg", "signal.pthread_kill", "os.link", "os.symlink", "sys.addaudithook",
        "code.__new__", "os.unshare", "os.setns", "os.chroot", "pty.spawn", "os.startfile",
    })
    blocked_imports = frozenset({"_posixsubprocess", "_ctypes", "_xxsubinterpreters", "_testcapi",
                                 "_testinternalcapi", "_xxinterpchannels"})
    write_flags = posix.O_WRONLY | posix.O_RDWR | posix.O_APPEND | posix.O_CREAT | posix.O_TRUNC

    realpath = make_realpath()

    def hook(event, args, _realpath=realpath, _root=root, _isinstance=isinstance, _int=int, _bytes=bytes,
             _len=len, _type=type, _function=_FUNCTION, _deny=PermissionError, _paths=path_events,
             _denied=denied, _imports=blocked_imports, _write=write_flags,
             _attrs=frozenset({"__code__", "__defaults__", "__kwdefaults__"}), _codes=frozenset()):
        def inside(path):
            real = _realpath(path)
            return real is not None and (real == _root or real.startswith(_root + "/") or real == "/dev/null")

        if event == "open":
            path, mode, flags = args
            if _isinstance(path, _int):
                return
            if mode is None and not (path.startswith(b"/") if _isinstance(path, _bytes) else path.startswith("/")):
                raise _deny("sandbox: os.open needs an absolute path")  # a relative one may use a dir_fd
            real = _realpath(path)
            if real is None or real == "/proc" or real.startswith("/proc/"):
                raise _deny(f"sandbox: no access to {path!r}")
            if flags & _write and not inside(path):
                raise _deny(f"sandbox: no writing outside the sandbox directory: {path!r}")
        elif event in _paths:
            paths, dir_fds = _paths[event]
            for i in dir_fds:
                if i < _len(args) and args[i] is not None and args[i] != -1 and args[i] != -100:  # -1, -100: none
                    raise _deny(f"sandbox: {event} with dir_fd is not allowed")
            for i in paths:
                if _isinstance(args[i], _int) and event == "os.truncate":
                    continue
                if not inside(args[i]):
                    raise _deny(f"sandbox: {event} outside the sandbox directory: {args[i]!r}")
        elif event in _denied or event.startswith("socket.") or event.startswith("ctypes."):
            raise _deny(f"sandbox: {event} is not allowed")
        elif event == "import" and args[0] in _imports:
            raise _deny(f"sandbox: importing {args[0]} is not allowed")
        elif event == "object.__setattr__" and args[1] in _attrs and _type(args[0]) is _function \
                and args[0].__code__ in _codes:
            raise _deny("sandbox: the audit hook cannot be changed")

    # the hook's own code objects, bound into its (immutable) defaults before it is installed
    hook.__defaults__ = hook.__defaults__[:-1] + (frozenset({hook.__code__, realpath.__code__}),)
    sys.addaudithook(hook)


def main() -> None:
    import json
    import os
    import sys

    fd = int(sys.argv[1])
    del sys.argv[1:]
    with os.fdopen(fd, "rb") as pipe:
        job = json.loads(pipe.read())
    if job["network"]:
        unshare_network()
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]  # so that importing ctypes again meets the audit hook
    if job["hook"]:
        install_audit_hook(job["root"])
    code, test, nonce = job["code"], job["test"], job["nonce"]
    del job
    namespace = {"__name__": "__main__" if test is None else "solution"}
    if test is None:  # stdin/stdout mode: the parent judges the output; SystemExit behaves as usual
        exec(compile(code, "solution.py", "exec"), namespace)
        return
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
        exec(compile(test, "test.py", "exec"), namespace)
    except BaseException:  # noqa: BLE001 - SystemExit before the test finished is a failure, not a pass
        import traceback

        traceback.print_exc()
        os._exit(1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - the code may have closed or replaced them
            pass
    os.write(1, ("\n" + nonce + "\n").encode())
    os._exit(0)


if __name__ == "__main__":
    main()
