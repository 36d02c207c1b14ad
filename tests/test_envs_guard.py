"""The guard around an environment's code (rlft/envs/guard.py): what is the model's fault (an invalid action the
episode goes on with) and what is the environment's (an EnvError naming the episode, the turn and the action),
on guarded instances of small classes written here."""

import asyncio
import math

import pytest

from rlft.envs import resolve_env
from rlft.envs.episodes import call_tool
from rlft.envs.guard import EnvError, EnvFault, guarded_class, surfacing
from rlft.envs.guess_number import GuessNumber


class Odd(GuessNumber):
    """guess_number whose tool misbehaves on chosen arguments."""

    def guess(self, n: int) -> str:
        """Guess.

        Args:
            n: The guess.
        """
        if n == 13:
            raise LookupError("unlucky")
        if n == 14:
            return 14
        if n == 15:
            return asyncio.sleep(0, result="async ok")
        return super().guess(n)

    def get_reward(self):
        return {1: math.nan, 2: None}.get(self.target, super().get_reward())


def fresh(target=7):
    env = guarded_class("odd", Odd, ["guess"])(max_turns=5)
    env.reset(target=target, high=20, prompt=[{"role": "user", "content": "x"}])
    return env


# (arguments of the call, the observation it gives, or the EnvError's words)
CALLS = [
    ({"n": 5}, "higher", None),
    ({"n": 5, "m": 5}, "{'error': \"guess: got an unexpected keyword argument 'm'\"}", None),  # the model's fault
    ({}, "{'error': \"guess: missing a required argument: 'n'\"}", None),
    ({"n": 15}, "async ok", None),  # an async tool is awaited
    ({"n": 13}, None, "environment 'odd', episode 1, turn 1, action guess(n=13) raised LookupError: unlucky"),
    ({"n": 14}, None, "episode 1, turn 1, action guess(n=14) returned int 14, not text"),
]


@pytest.mark.parametrize("arguments, observation, error", CALLS)
def test_a_call_is_an_observation_or_the_environments_error(arguments, observation, error):
    env = fresh()
    if error is None:
        assert call_tool(env, ["guess"], {"function": {"name": "guess", "arguments": arguments}}) == observation
        return
    with pytest.raises(EnvFault) as caught:
        call_tool(env, ["guess"], {"function": {"name": "guess", "arguments": arguments}})
    assert error in str(caught.value.error) and isinstance(caught.value.error, EnvError)


def test_unknown_tools_and_non_object_arguments_are_invalid_actions():
    env = fresh()
    assert call_tool(env, ["guess"], {"function": {"name": "shout", "arguments": {}}}) == \
        "{'error': 'Tool shout not found.'}"
    assert "arguments must be a JSON object" in call_tool(env, ["guess"], {"function": {"name": "guess",
                                                                                          "arguments": "5"}})


def test_episodes_and_turns_are_counted_across_instances():
    cls = guarded_class("odd", Odd, ["guess"])
    first, second = cls(max_turns=5), cls(max_turns=5)
    first.reset(target=7, high=20)
    second.reset(target=7, high=20)
    second.guess(3)
    with pytest.raises(EnvFault, match="episode 2, turn 2, action guess"):
        second.guess(13)
    assert (type(first).__name__, isinstance(first, Odd), first.guess(7)) == ("Odd", True, "correct")


def test_rewards_must_be_finite_or_none():
    assert fresh(target=2).get_reward() is None
    with pytest.raises(EnvFault, match=r"action get_reward\(\) returned float nan"):
        fresh(target=1).get_reward()


def test_surfacing_turns_the_fault_back_into_its_error():
    with pytest.raises(EnvError, match="unlucky"), surfacing():
        fresh().guess(13)


def test_the_plain_factory_stays_unguarded():
    spec = resolve_env("guess_number")
    assert type(spec.factory()()) is GuessNumber and type(spec.guarded()()) is not GuessNumber
