"""Held-out episodes played greedily: the model's reply is parsed for tool calls (TRL's `parse_response`, as in
training), each call runs on the row's environment and its result is appended as a `tool` message, until the
model answers without a call, the episode ends or `max_turns` replies were generated. Episodes advance in
one left-padded batch per turn; a reply is cut at `max_new_tokens`.

Simplified from TRL's rollout: no overall completion budget (each reply has its own), greedy decoding only.
"""

from __future__ import annotations

import math

from rlft.envs.registry import EnvSpec, tools


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


def play(model, tokenizer, spec: EnvSpec, rows: list[dict], max_new_tokens: int = 128, batch_size: int = 32) -> dict:
    """Play one greedy episode per row (each row holds `prompt` and the columns `reset` takes); return
    `episode_metrics` of them."""
    episodes = []
    for start in range(0, len(rows), batch_size):
        episodes += _play_batch(model, tokenizer, spec, rows[start:start + batch_size], max_new_tokens)
    return episode_metrics(episodes)


def _play_batch(model, tokenizer, spec: EnvSpec, rows: list[dict], max_new_tokens: int) -> list[dict]:
    import torch
    from trl.chat_template_utils import add_response_schema, parse_response

    tokenizer = add_response_schema(tokenizer)
    envs = [spec.factory()() for _ in rows]
    chats, calls = [], [0] * len(rows)
    for env, row in zip(envs, rows, strict=True):
        observation = env.reset(**row)
        prompt = [dict(m) for m in row["prompt"]]
        prompt[-1]["content"] += observation or ""
        chats.append(prompt)
    names = list(tools(spec.cls))
    active = list(range(len(rows)))
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        for _ in range(spec.max_turns):
            if not active:
                break
            schemas = {i: [getattr(envs[i], n) for n in names] or None for i in active}
            texts = [tokenizer.apply_chat_template(chats[i], tools=schemas[i], tokenize=False,
                                                   add_generation_prompt=True) for i in active]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            still = []
            replies = out[:, batch["input_ids"].shape[1]:].tolist()
            for i, text, ids in zip(active, texts, replies, strict=True):
                if tokenizer.pad_token_id in ids:
                    ids = ids[:ids.index(tokenizer.pad_token_id)]
                prefix = tokenizer(text, add_special_tokens=False)["input_ids"]  # the parser reads the reply after it
                reply = parse_response(tokenizer, ids, prefix=prefix, tools=schemas[i])
                chats[i].append(reply)
                for call in reply.get("tool_calls") or []:
                    calls[i] += 1
                    chats[i].append({"role": "tool", "name": call["function"]["name"],
                                     "content": _call(envs[i], names, call["function"])})
                if reply.get("tool_calls") and not getattr(envs[i], "done", False):
                    still.append(i)
            active = still
    finally:
        tokenizer.padding_side = side
    optimal = getattr(spec.cls, "optimal_return", None)
    return [{"return": _reward(env), "optimal": optimal(row) if optimal else None, "calls": calls[i],
             "turns": getattr(env, "turns", calls[i]), "invalid": getattr(env, "invalid", 0)}
            for i, (env, row) in enumerate(zip(envs, rows, strict=True))]


def _call(env, names: list[str], function: dict) -> str:
    """Run one parsed tool call as TRL does: an unknown tool or an exception becomes an error observation."""
    try:
        if function["name"] not in names:
            raise ValueError(f"Tool {function['name']} not found.")
        return str(getattr(env, function["name"])(**function["arguments"]))
    except Exception as e:  # the model's arguments are arbitrary; TRL answers any failure the same way
        return str({"error": str(e)})


def _reward(env) -> float:
    reward = env.get_reward() if callable(getattr(env, "get_reward", None)) else 0.0
    return float(reward) if reward is not None and math.isfinite(reward) else 0.0
