"""Guard a user's reward function: a mistake in it stops the run with a message that names the function,
the sample and its completion, instead of a trainer traceback or, worse, silently wrong rewards."""

from __future__ import annotations

import asyncio
import inspect
import math
from concurrent.futures import ThreadPoolExecutor
from numbers import Real

from rlft.rewards.text import completion_text, select_rows, shorten


class RewardError(ValueError):
    """A reward function broke TRL's contract (raised, or returned the wrong length, a non-number, NaN or
    inf); the message names the function, the sample index and the completion."""


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


def _where(name: str, completions, i: int) -> str:
    return f"reward '{name}', sample {i} of {len(completions)}, completion {shorten(completion_text(completions[i]))!r}"


class Guard:
    """`fn` with its output checked: same `__name__`, same scores as floats (None kept), and `RewardError`
    when it raises or returns something TRL cannot use. Picklable when `fn` is. An `async def` reward is
    awaited inside the call, so the guarded reward is a plain function to TRL and to rlft's evaluation.

    >>> def half(completions, **kwargs):
    ...     return [1 / len(c) for c in completions]
    >>> guard(half)(["ab", "abcd"])
    [0.5, 0.25]
    >>> guard(half)(["ab", ""])
    Traceback (most recent call last):
    ...
    rlft.rewards.guard.RewardError: reward 'half', sample 1 of 2, completion '': raised ZeroDivisionError: ...
    """

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"guard needs a reward function, got {fn!r}")
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, completions, **kwargs) -> list[float | None]:
        try:
            scores = settle(self.fn(completions, **kwargs))
        except RewardError:
            raise
        except Exception as e:  # noqa: BLE001 - re-raised with the sample that causes it
            raise self.locate(e, completions, kwargs) from e
        return self.check(scores, completions)

    def locate(self, error: Exception, completions, kwargs: dict) -> RewardError:
        """The RewardError for `error` raised on this batch: the first sample that raises on its own, else
        the batch."""
        n = len(completions)
        for i in range(n):
            try:
                settle(self.fn([completions[i]], **select_rows(kwargs, [i], n)))
            except Exception as e:  # noqa: BLE001
                return RewardError(f"{_where(self.__name__, completions, i)}: raised {type(e).__name__}: {e}")
        where = _where(self.__name__, completions, 0) if n else f"reward '{self.__name__}' on an empty batch"
        return RewardError(f"{where}: raised {type(error).__name__}: {error} on the batch of {n}, though no "
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


def guard(fn) -> Guard:
    """Wrap a reward function so that contract violations raise `RewardError` (see `Guard`); idempotent."""
    return fn if isinstance(fn, Guard) else Guard(fn)
