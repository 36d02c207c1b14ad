"""The one episode loop of rlft: held-out play (greedy, rlft.envs.play) and the rollouts of rlft's multi-turn PPO
(sampled, rlft.ppo.rollout) both run it.

An episode is a token sequence built as TRL's GRPO builds it, by concatenation, never by re-rendering the chat:
the prompt (the row's user message plus the observation `reset(**row)` returns, rendered with the tool schemas
and a generation prompt), then the model's reply, then the tool results rendered as the chat template renders a
`tool` message and the next generation prompt (`tool_suffix_ids`, TRL's `_get_tool_suffix_ids`), then the next
reply, and so on. `Episode.mask` marks which tokens the model generated (1) and which the environment and the
template added (0): a policy-gradient loss trains the first kind only.

A reply is parsed for tool calls with TRL's `parse_response`; each call runs on the row's (guarded) environment
and its result is appended. An episode ends when a reply has no tool call (the model's answer; a reply that
does not parse as a call is one, as in TRL), the environment is `done`, `max_turns` replies were generated, the
model-token `budget` is spent, or the next tool results would not fit the model's context. Episodes advance in one
left-padded batch per turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlft.envs.registry import EnvSpec, tools
from rlft.rewards.guard import run_user


@dataclass
class Episode:
    """One played episode: the environment instance, the row it was reset from, and its tokens."""

    env: Any
    row: dict
    prompt_ids: list[int]
    schemas: list | None  # the tools as rendered into the prompt (bound methods)
    observation: str | None = None  # what reset(**row) returned
    ids: list[int] = field(default_factory=list)  # after the prompt: replies and tool results, in order
    mask: list[int] = field(default_factory=list)  # 1: a token the model generated; 0: the environment's
    messages: list[dict] = field(default_factory=list)  # the assistant and tool messages after the prompt
    calls: int = 0  # tool calls the model made (malformed ones included)
    malformed: int = 0  # calls that failed before the environment judged them, or did not parse at all
    replies: int = 0
    eos: bool = False  # the last reply ended with the eos token
    open: bool = True

    @property
    def generated(self) -> int:
        """Tokens the model generated in this episode (what a completion budget counts)."""
        return sum(self.mask)


CALL_TAG = "<tool_call>"  # how a call opens in the tool templates rlft parses (Qwen's format)


def with_parser(tokenizer):
    """The tokenizer, with TRL's response template for its chat template unless it carries one already (rlft's
    tiny tool templates do; TRL knows those of the models it supports)."""
    from trl.chat_template_utils import add_response_schema

    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        tokenizer = add_response_schema(tokenizer)
    return tokenizer


def call_tool(env, names: list[str], call: dict) -> str:
    """Run one parsed tool call as TRL does: an unknown tool or a malformed call (the guard's TypeError) is an
    invalid action, answered with an error observation; an error of the environment itself (rlft.envs.guard)
    passes through."""
    return run_call(env, names, call)[0]


def run_call(env, names: list[str], call: dict) -> tuple[str, bool]:
    """`call_tool`'s observation, and whether the call failed before the environment could judge it."""
    function = call.get("function") or {}
    try:
        if function.get("name") not in names:
            raise ValueError(f"Tool {function.get('name')} not found.")
        arguments = function.get("arguments")
        if not isinstance(arguments, dict):
            raise TypeError(f"{function['name']}: arguments must be a JSON object, got {arguments!r}")
        return str(getattr(env, function["name"])(**arguments)), False
    except Exception as e:  # the model's call is arbitrary; TRL answers any failure the same way
        return str({"error": str(e)}), True


def tool_suffix_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The tokens the chat template puts after a reply that called tools: the tool messages and the next
    generation prompt. Rendered on a one-call dummy conversation and cut after its end-of-turn, as TRL's
    `GRPOTrainer._get_tool_suffix_ids` does, so that the reply's own tokens are never re-tokenized."""
    dummy = [{"role": "user", "content": "dummy"},
             {"role": "assistant", "content": "", "tool_calls": [
                 {"type": "function", "function": {"name": messages[0]["name"], "arguments": {}}}]}]
    prefix = tokenizer.apply_chat_template(dummy, tokenize=True, return_dict=False)
    full = tokenizer.apply_chat_template(dummy + messages, tokenize=True, add_generation_prompt=True,
                                         return_dict=False)
    ends = [i for i, t in enumerate(prefix) if t == tokenizer.eos_token_id]
    return appended(prefix[: ends[-1] + 1] if ends else prefix, full, "a tool message")


def appended(prefix: list[int], full: list[int], what: str) -> list[int]:
    """The tokens `full` adds after `prefix`; a ValueError when the template rendered `what` by changing the
    tokens before it (rlft, like TRL, appends and never re-tokenizes).

    >>> appended([1, 2], [1, 2, 3], "a turn")
    [3]
    """
    if full[: len(prefix)] != prefix:
        raise ValueError(f"the chat template renders {what} by changing what came before it; rlft (like TRL) "
                         "needs templates that append")
    return full[len(prefix):]


# What a scripted episode's model says after its last tool result. TRL's loop has no end-of-episode signal: it
# generates until a reply calls no tool, so a model taught by imitation must learn to stop.
CLOSING = "Done."


def reply_ids(tokenizer, message: dict) -> list[int]:
    """The tokens a model generates for an assistant `message` (text and tool calls): the chat template's rendering
    of the turn after its generation prompt, through the end-of-turn token."""
    user = [{"role": "user", "content": "dummy"}]
    prefix = tokenizer.apply_chat_template(user, tokenize=True, add_generation_prompt=True, return_dict=False)
    full = tokenizer.apply_chat_template(user + [message], tokenize=True, return_dict=False)
    return reply_of(appended(prefix, full, "an assistant turn"), tokenizer.eos_token_id, len(full))


def scripted(spec: EnvSpec, tokenizer, rows: list[dict], closing: str = CLOSING) -> list[Episode]:
    """Play the class's scripted policy (`optimal_policy(row)`) on each row, with the tokens laid out as TRL's
    loop lays out a model's episode: [prompt] [call] [results + generation prompt] ... [call] [results +
    generation prompt] [`closing`]. `mask` marks the calls and the closing reply: what imitation trains on."""
    from trl.chat_template_utils import parse_response

    tokenizer = with_parser(tokenizer)
    names = list(tools(spec.cls))
    episodes = start(spec, spec.guarded(), tokenizer, rows)
    for i, e in enumerate(episodes):
        where = f"environment '{spec.name}': optimal_policy(row {i})"
        for name, arguments in run_user(where, spec.cls.optimal_policy, (e.row,)):
            if name not in names:
                raise ValueError(f"{where} calls {name}, not one of the class's tools: {', '.join(sorted(names))}")
            call = {"type": "function", "function": {"name": name, "arguments": arguments}}
            reply = reply_ids(tokenizer, {"role": "assistant", "content": "", "tool_calls": [call]})
            parsed = parse_response(tokenizer, reply, prefix=e.prompt_ids + e.ids, tools=e.schemas)
            if [c.get("function") for c in parsed.get("tool_calls") or []] != [call["function"]]:
                raise ValueError(f"environment '{spec.name}': the chat template's rendering of the call {name}"
                                 f"({arguments}) does not parse back to it")
            results = [{"role": "tool", "name": name, "content": call_tool(e.env, names, call)}]
            suffix = tool_suffix_ids(tokenizer, results)
            e.ids += reply + suffix
            e.mask += [1] * len(reply) + [0] * len(suffix)
            e.messages += [parsed, *results]
            e.calls, e.replies = e.calls + 1, e.replies + 1
        reply = reply_ids(tokenizer, {"role": "assistant", "content": closing})
        e.ids += reply
        e.mask += [1] * len(reply)
        e.messages.append({"role": "assistant", "content": closing})
        e.replies, e.eos, e.open = e.replies + 1, True, False
    return episodes


def context_limit(model) -> int | None:
    """The longest sequence the model takes (`max_position_embeddings`), None when its config does not say."""
    config = getattr(model, "config", None)
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return getattr(config, "max_position_embeddings", None)


def start(spec: EnvSpec, factory, tokenizer, rows: list[dict]) -> list[Episode]:
    """Reset one environment per row and render its prompt with the tool schemas."""
    names = list(tools(spec.cls))
    episodes = []
    for row in rows:
        env = factory()
        observation = env.reset(**row)
        prompt = [dict(m) for m in row["prompt"]]
        prompt[-1]["content"] += observation or ""
        schemas = [getattr(env, n) for n in names] or None
        text = tokenizer.apply_chat_template(prompt, tools=schemas, tokenize=False, add_generation_prompt=True)
        episodes.append(Episode(env, row, tokenizer(text, add_special_tokens=False)["input_ids"], schemas,
                                observation))
    return episodes


def reply_of(ids: list[int], eos: int, cap: int) -> list[int]:
    """The reply in a generated row: at most `cap` tokens, up to and including the first eos (what follows an
    eos is the padding of a finished row).

    >>> reply_of([5, 6, 2, 0, 0], eos=2, cap=4), reply_of([5, 6, 7, 8, 9], eos=2, cap=3)
    ([5, 6, 2], [5, 6, 7])
    """
    ids = ids[:cap]
    return ids[: ids.index(eos) + 1] if eos in ids else ids


def run_episodes(model, tokenizer, spec: EnvSpec, rows: list[dict], max_new_tokens: int, budget: int | None = None,
                 sampling: dict | None = None, factory=None) -> list[Episode]:
    """Play one episode per row (each row holds `prompt` and the columns `reset` takes). `max_new_tokens` caps
    each reply, `budget` the model's tokens over the whole episode; `sampling` (generate's keyword arguments,
    e.g. temperature) samples, else greedy. `factory` makes the environments (default: `spec.guarded()`)."""
    import torch
    from trl.chat_template_utils import parse_response

    tokenizer = with_parser(tokenizer)
    names = list(tools(spec.cls))
    episodes = start(spec, factory or spec.guarded(), tokenizer, rows)
    limit = context_limit(model)
    device = next(model.parameters()).device if hasattr(model, "parameters") else model.device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    for _ in range(spec.max_turns):
        caps = {}
        for i, e in enumerate(episodes):
            room = [max_new_tokens, budget - e.generated if budget else max_new_tokens,
                    limit - len(e.prompt_ids) - len(e.ids) if limit else max_new_tokens]
            if e.open and min(room) >= 1:
                caps[i] = min(room)
            e.open = i in caps
        if not caps:
            break
        contexts = [episodes[i].prompt_ids + episodes[i].ids for i in caps]
        width = max(map(len, contexts))
        input_ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], device=device)
        attention = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], device=device)
        options = {"do_sample": True, **sampling} if sampling else {"do_sample": False}
        with torch.no_grad():
            out = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max(caps.values()),
                                 pad_token_id=pad, eos_token_id=eos, **options)
        for (i, cap), context, generated in zip(caps.items(), contexts, out[:, width:].tolist(), strict=True):
            step(episodes[i], tokenizer, names, reply_of(generated, eos, cap), context, parse_response, budget, limit)
    return episodes


def step(e: Episode, tokenizer, names: list[str], reply: list[int], context: list[int], parse, budget, limit) -> None:
    """Append one reply to the episode, run its tool calls and append their results, or end the episode."""
    e.ids += reply
    e.mask += [1] * len(reply)
    e.replies += 1
    e.eos = bool(reply) and reply[-1] == tokenizer.eos_token_id
    message = parse(tokenizer, reply, prefix=context, tools=e.schemas)
    e.messages.append(message)
    calls = message.get("tool_calls") or []
    if not calls:  # the model answered, or wrote a call that does not parse (TRL's loop ends there too)
        e.malformed += CALL_TAG in tokenizer.decode(reply)
        e.open = False
        return
    results = []
    for c in calls:
        observation, failed = run_call(e.env, names, c)
        e.malformed += failed
        results.append({"role": "tool", "name": (c.get("function") or {}).get("name") or "unknown",
                        "content": observation})
    e.calls += len(calls)
    e.messages += results
    if getattr(e.env, "done", False) or (budget and e.generated >= budget):
        e.open = False
        return
    suffix = tool_suffix_ids(tokenizer, results)
    if limit and len(e.prompt_ids) + len(e.ids) + len(suffix) >= limit:  # no room left to read the results
        e.open = False
        return
    e.ids += suffix
    e.mask += [0] * len(suffix)
