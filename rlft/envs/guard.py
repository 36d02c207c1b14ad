"""The guard around an environment's code, the counterpart of the reward guard (rlft.rewards.guard): every call
into the environment while episodes are played (`reset`, each tool, `get_reward`) runs through `run_user`, and a
mistake in it stops the run with one error naming the environment, the episode, the turn and the action, instead
of a trainer traceback or, worse, an episode that silently goes on.

What is whose fault: a call the *model* got wrong (an argument it must not pass, one it left out) is an invalid
action: a `TypeError` the episode loops answer with an error observation, as TRL does. Everything the
*environment* does with a well-formed call is its own: raising, calling sys.exit, returning an observation that
is not text or a reward that is not a finite number is an `EnvError`.

An `EnvError` travels as an `EnvFault`, a BaseException, so that a trainer's `except Exception` around tool
calls (TRL answers any exception there with an error observation to the model) cannot swallow it; `surfacing()`,
around each stage, turns it back into the `EnvError` the command line prints (exit 2).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
from contextlib import contextmanager
from numbers import Real

from rlft.rewards.guard import RewardError, run_user, settle
from rlft.rewards.text import shorten


class EnvError(RewardError):
    """An environment broke the contract while an episode was played; the message names the environment, the
    episode, the turn and the action."""


class EnvFault(BaseException):
    """Carries an `EnvError` out of an episode loop past any `except Exception` (see the module docstring)."""

    def __init__(self, error: EnvError):
        super().__init__(str(error))
        self.error = error


@contextmanager
def surfacing():
    """Turn an `EnvFault` raised inside the block back into its `EnvError`."""
    try:
        yield
    except EnvFault as fault:
        raise fault.error from None


def action(name: str, args: tuple = (), kwargs: dict | None = None) -> str:
    """A call as the error message shows it, shortened.

    >>> action("guess", (), {"n": 5}), action("reset", (), {"target": 7, "prompt": [{"role": "user"}]})
    ('guess(n=5)', 'reset(target=7)')
    """
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items() if k != "prompt"]
    return shorten(f"{name}({', '.join(shown)})", 300)


def guarded_class(name: str, cls: type, tool_names: list[str]) -> type:
    """A subclass of the environment `cls` (same class name, so TRL logs `rewards/<Class>/mean` as before) whose
    `reset`, tools (`tool_names`) and `get_reward` run guarded. Episodes are numbered from 1 in the order they are
    reset, across every instance of this class: one class per stage (or per held-out play), one count."""
    episodes = itertools.count(1)

    def where(self, call: str) -> str:
        return (f"environment '{name}', episode {getattr(self, '_rlft_episode', 0)}, "
                f"turn {getattr(self, '_rlft_turn', 0)}, action {call}")

    def run(self, call: str, fn, args: tuple, kwargs: dict):
        try:
            return run_user(where(self, call), lambda: settle(fn(self, *args, **kwargs)), error=EnvError,
                            passes=(EnvFault,))
        except EnvError as e:
            raise EnvFault(e) from None

    def refuse(self, call: str, message: str):
        raise EnvFault(EnvError(f"{where(self, call)} {message}"))

    def reset(self, *args, **row):
        self._rlft_episode, self._rlft_turn = next(episodes), 0
        call = action("reset", args, row)
        observation = run(self, call, cls.reset, args, row)
        if observation is not None and not isinstance(observation, str):
            refuse(self, call, f"returned {type(observation).__name__} {shorten(repr(observation))}, not text or "
                   "None (the first observation is appended to the prompt)")
        return observation

    def tool(tool_name: str, fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call_tool(self, *args, **kwargs):
            try:
                signature.bind(self, *args, **kwargs)
            except TypeError as e:  # the model's call is malformed: an invalid action, answered as TRL does
                raise TypeError(f"{tool_name}: {e}") from None
            self._rlft_turn = getattr(self, "_rlft_turn", 0) + 1
            call = action(tool_name, args, kwargs)
            observation = run(self, call, fn, args, kwargs)
            if not isinstance(observation, str):
                refuse(self, call, f"returned {type(observation).__name__} {shorten(repr(observation))}, not text "
                       "(a tool's observation is a string)")
            return observation

        return call_tool

    def get_reward(self):
        reward = run(self, "get_reward()", cls.get_reward, (), {})
        if reward is not None and not (isinstance(reward, Real) and math.isfinite(reward)):
            refuse(self, "get_reward()", f"returned {type(reward).__name__} {shorten(repr(reward))}; the episode's "
                   "reward must be a finite number (or None: it does not apply)")
        return reward

    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
                 "reset": functools.wraps(cls.reset)(reset)}
    namespace.update({n: tool(n, getattr(cls, n)) for n in tool_names})
    if callable(getattr(cls, "get_reward", None)):
        namespace["get_reward"] = functools.wraps(cls.get_reward)(get_reward)
    return type(cls.__name__, (cls,), namespace)
