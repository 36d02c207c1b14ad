"""Held-out episodes played greedily through rlft's one episode loop (rlft.envs.episodes), and the episode
metrics (`env/*`) every stage with `env:` logs: after training, in an `eval` stage, and for the rollouts of a
multi-turn PPO step.

Simplified from TRL's rollout: greedy decoding, and each reply has its own limit (`max_new_tokens`) rather than
an overall completion budget.
"""

from __future__ import annotations

from rlft.envs.episodes import Episode, run_episodes
from rlft.envs.registry import EnvSpec

REPLY_TOKENS = 128  # the most tokens one held-out reply may take
SHOWN_EPISODES = 3  # transcripts kept of each held-out play, for report.md


def episode_metrics(episodes: list[dict]) -> dict:
    """Means over played episodes (`return`, `optimal` (None when unknown), `turns`, `invalid`, `calls`):
    success is a positive return; `return_ratio` is the mean return over the mean optimal return.

    >>> episode_metrics([{"return": 1.0, "optimal": 1.0, "turns": 2, "invalid": 0, "calls": 2},
    ...                  {"return": 0.0, "optimal": 0.5, "turns": 0, "invalid": 1, "calls": 0}])["env/return_ratio"]
    0.6666666666666666
    """
    n = len(episodes)
    mean = lambda key: sum(e[key] for e in episodes) / n  # noqa: E731
    metrics = {"env/episodes": n, "env/success": sum(e["return"] > 0 for e in episodes) / n,
               "env/return": mean("return"), "env/turns": mean("turns"), "env/invalid_actions": mean("invalid"),
               "env/tool_call_rate": sum(e["calls"] > 0 for e in episodes) / n}
    if all(e["optimal"] is not None for e in episodes):
        metrics["env/optimal_return"] = mean("optimal")
        if mean("optimal") > 0:
            metrics["env/return_ratio"] = metrics["env/return"] / metrics["env/optimal_return"]
    return metrics


def outcome(spec: EnvSpec, episode: Episode) -> dict:
    """What `episode_metrics` reads of one episode: its return (`get_reward()`; 0 without one, or for None),
    the scripted policy's return on its row, turns (the class's `turns`, else tool calls), invalid actions
    (those the environment counted, plus calls that failed to parse or to reach it)."""
    env = episode.env
    reward = env.get_reward() if callable(getattr(env, "get_reward", None)) else None
    optimal = getattr(spec.cls, "optimal_return", None)
    return {"return": float(reward or 0.0), "optimal": optimal(episode.row) if optimal else None,
            "calls": episode.calls, "turns": getattr(env, "turns", episode.calls),
            "invalid": getattr(env, "invalid", 0) + episode.malformed}


def action(message: dict) -> str:
    """What the model did in one assistant message: its tool calls as `name(arg=value, ...)`, else its text.

    >>> action({"role": "assistant", "content": "", "tool_calls": [
    ...     {"type": "function", "function": {"name": "guess", "arguments": {"n": 10}}}]})
    'guess(n=10)'
    >>> action({"role": "assistant", "content": "Done."})
    'Done.'
    """
    calls = [c.get("function") or {} for c in message.get("tool_calls") or []]
    if not calls:
        return str(message.get("content") or "")
    shown = lambda args: ", ".join(f"{k}={v!r}" for k, v in args.items()) if isinstance(args, dict) else repr(args)  # noqa: E731
    return "; ".join(f"{c.get('name')}({shown(c.get('arguments') or {})})" for c in calls)


def transcript(episode: Episode, played: dict) -> dict:
    """One episode turn by turn, for reading: the first observation, then each model action with what the
    environment answered, and the episode's return (`played`: its `outcome`)."""
    turns = []
    for message in episode.messages:
        if message.get("role") == "tool":
            turns[-1]["environment"] = "; ".join(filter(None, [turns[-1]["environment"], str(message["content"])]))
        else:
            turns.append({"model": action(message), "environment": ""})
    return {"observation": episode.observation or "", "turns": turns, "return": played["return"],
            "optimal": played["optimal"]}


def play(model, tokenizer, spec: EnvSpec, rows: list[dict], max_new_tokens: int = REPLY_TOKENS,
         batch_size: int = 32, shown: int = SHOWN_EPISODES) -> tuple[dict, list[dict]]:
    """Play one greedy episode per row (each row holds `prompt` and the columns `reset` takes); return
    `episode_metrics` of them and the transcripts of the first `shown`. Episodes are numbered across the
    batches (error messages name them)."""
    factory, outcomes, transcripts = spec.guarded(), [], []
    for start in range(0, len(rows), batch_size):
        played = run_episodes(model, tokenizer, spec, rows[start:start + batch_size], max_new_tokens, factory=factory)
        for e in played:
            outcomes.append(outcome(spec, e))
            if len(transcripts) < shown:
                transcripts.append(transcript(e, outcomes[-1]))
    return episode_metrics(outcomes), transcripts
