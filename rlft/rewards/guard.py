"""Guard a user's reward function: a mistake in it stops the run with a message that names the function,
the sample and its completion, instead of a trainer traceback or, worse, silently wrong rewards.

All user code (importing a reward module, calling a factory, calling a reward) runs through `run_user`:
anything it raises, `sys.exit` included (KeyboardInterrupt excepted), becomes one error naming what it did,
and a call can be given a time limit (`limited`)."""

from __future__ import annotations

import asyncio
import inspect
import math
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from numbers import Real

from rlft.rewards.text import completion_text, select_rows, shorten


class RewardError(ValueError):
    """A reward function broke TRL's contract (raised, or returned the wrong length, a non-number, NaN or
    inf); the message names the function, the sample index and the completion."""


class RewardTimeout(RewardError):
    """A reward call outlived its time limit."""


def settle(result):
    """The value of a reward's result: itself, or the awaited result of an `async def` reward (run on a worker
    thread when this thread already has an event loop, as a notebook's does).

    >>> async def one(completions, **kwargs):
    ...     return [1.0] * len(completions)
    >>> settle(one(["a"])), settle([0.5])
    ([1.0], [0.5])
    """
    if not inspect.isawaitable(result):
        return result

    async def wait():
        return await result

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


class Timeout(BaseException):
    """Raised inside a call that outlived its time limit: a BaseException, so that a reward's own
    `except Exception` cannot swallow it."""

    def __init__(self, seconds: float):
        super().__init__(f"did not return within {seconds:g} s")
        self.seconds = seconds


def _alarm_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def limited(fn, seconds: float | None, args: tuple = (), kwargs: dict | None = None):
    """`fn(*args, **kwargs)`, raising `Timeout` once it has run `seconds` (None or 0: no limit).

    On the main thread of a Unix process a SIGALRM timer interrupts the call itself (a pending alarm armed by
    the caller is left to govern). Elsewhere the call runs on a daemon thread that is abandoned, still
    running, when the time is up: the caller gets its Timeout, the stuck code is not stopped.

    >>> import time
    >>> limited(time.sleep, 0.05, (5,))
    Traceback (most recent call last):
    ...
    rlft.rewards.guard.Timeout: did not return within 0.05 s
    >>> limited(sum, 1.0, ([1, 2],))
    3
    """
    kwargs = kwargs or {}
    if not seconds:
        return fn(*args, **kwargs)
    if not _alarm_usable():
        return _on_thread(fn, seconds, args, kwargs)
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return fn(*args, **kwargs)

    def ring(signum, frame):
        raise Timeout(seconds)

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _on_thread(fn, seconds: float, args, kwargs):
    box: dict = {}

    def work():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=work, daemon=True, name="rlft-reward-call")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise Timeout(seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]


def did(error: BaseException) -> str:
    """What user code did instead of returning, in words.

    >>> did(SystemExit(0)), did(SystemExit()), did(KeyError("x")), did(Timeout(2.0))
    ('called sys.exit(0)', 'called sys.exit()', "raised KeyError: 'x'", 'did not return within 2 s')
    """
    if isinstance(error, SystemExit):
        return f"called sys.exit({'' if error.code is None else repr(error.code)})"
    if isinstance(error, Timeout):
        return str(error)
    return f"raised {type(error).__name__}: {error}"


def run_user(what: str, fn, args: tuple = (), kwargs: dict | None = None, *, error: type[Exception] = ValueError,
             seconds: float | None = None, passes: tuple[type[BaseException], ...] = ()):
    """`fn(*args, **kwargs)` for user code described by `what`; whatever it raises or does instead of returning
    (sys.exit, a timeout; not Ctrl-C, nor the exception types in `passes`) becomes `error` naming `what` and
    what it did.

    >>> import sys
    >>> run_user("factory 'f'", sys.exit, (3,))
    Traceback (most recent call last):
    ...
    ValueError: factory 'f' called sys.exit(3)
    """
    try:
        return limited(fn, seconds, args, kwargs)
    except (KeyboardInterrupt, *passes):
        raise
    except BaseException as e:  # noqa: BLE001 - user code: SystemExit and Timeout included
        raise error(f"{what} {did(e)}") from None


def fresh(value):
    """A copy of the lists and dicts in `value` (the rest shared), so that a reward mutating its arguments
    cannot change what the trainer holds.

    >>> rows = [[{"role": "assistant", "content": "4"}]]
    >>> copy = fresh(rows); copy[0][0]["content"] = "5"; copy.append("x")
    >>> rows
    [[{'role': 'assistant', 'content': '4'}]]
    """
    if isinstance(value, list):
        return [fresh(v) for v in value]
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    return value


def _where(name: str, completions, i: int) -> str:
    return f"reward '{name}', sample {i} of {len(completions)}, completion {shorten(completion_text(completions[i]))!r}"


class Guard:
    """`fn` with its output checked: same `__name__`, same scores as floats (None kept), and `RewardError`
    when it raises, calls sys.exit, outlives `timeout` seconds per call (None: no limit) or returns something
    TRL cannot use. It is given copies of the completions and columns. Picklable when `fn` is. An `async def`
    reward is awaited inside the call, so the guarded reward is a plain function to TRL and rlft's evaluation.

    >>> def half(completions, **kwargs):
    ...     return [1 / len(c) for c in completions]
    >>> guard(half)(["ab", "abcd"])
    [0.5, 0.25]
    >>> guard(half)(["ab", ""])
    Traceback (most recent call last):
    ...
    rlft.rewards.guard.RewardError: reward 'half', sample 1 of 2, completion '': raised ZeroDivisionError: ...
    """

    def __init__(self, fn, timeout: float | None = None):
        if not callable(fn):
            raise TypeError(f"guard needs a reward function, got {fn!r}")
        self.fn, self.timeout = fn, timeout
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, completions, **kwargs) -> list[float | None]:
        return self.check(self.raw(completions, kwargs), completions)

    def _once(self, completions, kwargs: dict):
        return limited(self._settled, self.timeout, (fresh(completions), {k: fresh(v) for k, v in kwargs.items()}))

    def _settled(self, completions, kwargs: dict):
        return settle(self.fn(completions, **kwargs))

    def raw(self, completions, kwargs: dict):
        """What the reward returns for this batch, unchecked; RewardError when it raises, exits or times out."""
        try:
            return self._once(completions, kwargs)
        except (RewardError, KeyboardInterrupt):
            raise
        except Timeout as e:
            raise RewardTimeout(f"reward '{self.__name__}' {e} on a batch of {len(completions)} completions (its "
                              "`timeout`: a reward that may hang needs a limit; raise it if the reward is just slow)"
                              ) from None
        except BaseException as e:  # noqa: BLE001 - re-raised with the sample that causes it
            raise self.locate(e, completions, kwargs) from e

    def locate(self, error: BaseException, completions, kwargs: dict) -> RewardError:
        """The RewardError for `error` raised on this batch: the first sample that raises on its own, else
        the batch."""
        n = len(completions)
        for i in range(n):
            try:
                self._once([completions[i]], select_rows(kwargs, [i], n))
            except KeyboardInterrupt:
                raise
            except Timeout:
                break
            except BaseException as e:  # noqa: BLE001
                return RewardError(f"{_where(self.__name__, completions, i)}: {did(e)}")
        where = _where(self.__name__, completions, 0) if n else f"reward '{self.__name__}' on an empty batch"
        return RewardError(f"{where}: {did(error)} on the batch of {n}, though no "
                           "sample raises alone (the function depends on the whole batch)")

    def check(self, scores, completions) -> list[float | None]:
        """The scores as a list of floats or None, or RewardError saying what is wrong and where."""
        n = len(completions)
        if hasattr(scores, "tolist") and not isinstance(scores, list | tuple):  # numpy arrays, tensors
            scores = scores.tolist()
        if not isinstance(scores, list | tuple):
            where = _where(self.__name__, completions, 0) if n else f"reward '{self.__name__}'"
            raise RewardError(f"{where}: returned {type(scores).__name__} {shorten(repr(scores))}, "
                              f"not a list of {n} floats")
        if len(scores) != n:
            i = min(len(scores), n - 1)
            where = _where(self.__name__, completions, i) if n else f"reward '{self.__name__}'"
            raise RewardError(f"{where}: returned {len(scores)} scores for {n} completions (one per completion, "
                              "None where the reward does not apply)")
        out: list[float | None] = []
        for i, s in enumerate(scores):
            if s is None:
                out.append(None)
                continue
            if not isinstance(s, Real):
                raise RewardError(f"{_where(self.__name__, completions, i)}: returned {type(s).__name__} "
                                  f"{shorten(repr(s))}, not a number (or None)")
            if not math.isfinite(s):
                raise RewardError(f"{_where(self.__name__, completions, i)}: returned {s}; rewards must be finite "
                                  "(None means the reward does not apply)")
            out.append(float(s))
        return out


def guard(fn, timeout: float | None = None) -> Guard:
    """Wrap a reward function so that contract violations raise `RewardError` (see `Guard`); a guarded
    function keeps its guard, given a `timeout` if it had none."""
    if isinstance(fn, Guard):
        if timeout and not fn.timeout:
            return Guard(fn.fn, timeout)
        return fn
    return Guard(fn, timeout)
