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
    the scripted policy's return on its row, turns (the class's `turns`, else tool calls), invalid actions."""
    env = episode.env
    reward = env.get_reward() if callable(getattr(env, "get_reward", None)) else None
    optimal = getattr(spec.cls, "optimal_return", None)
    return {"return": float(reward or 0.0), "optimal": optimal(episode.row) if optimal else None,
            "calls": episode.calls, "turns": getattr(env, "turns", episode.calls),
            "invalid": getattr(env, "invalid", 0)}


def play(model, tokenizer, spec: EnvSpec, rows: list[dict], max_new_tokens: int = REPLY_TOKENS,
         batch_size: int = 32) -> dict:
    """Play one greedy episode per row (each row holds `prompt` and the columns `reset` takes); return
    `episode_metrics` of them. Episodes are numbered across the batches (error messages name them)."""
    factory, episodes = spec.guarded(), []
    for start in range(0, len(rows), batch_size):
        played = run_episodes(model, tokenizer, spec, rows[start:start + batch_size], max_new_tokens, factory=factory)
        episodes += [outcome(spec, e) for e in played]
    return episode_metrics(episodes)
