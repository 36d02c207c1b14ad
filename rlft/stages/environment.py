"""A stage's `env:` block: load-time checks, the rows an environment generates, what GRPO hands TRL, and the
held-out play after training.

A GRPO stage's episode loop is TRL's (`GRPOTrainer(environment_factory=...)`): it resets one instance per
rollout from the row, runs the model's tool calls and adds `get_reward()` as `rewards/<Class>/mean`. A PPO stage's
is rlft's (rlft.envs.episodes), as is the held-out play. Both play guarded instances (rlft.envs.guard).
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

from rlft.core import distributed as dist
from rlft.core.config import EvalSpec, Stage
from rlft.core.schema import ConfigError, join
from rlft.envs import EnvSpec, resolve_env, summary, tools
from rlft.envs.episodes import scripted
from rlft.envs.guard import EnvFault
from rlft.envs.play import REPLY_TOKENS, play
from rlft.models import TOOL_TEMPLATES, build_char_tokenizer, load_model, load_tokenizer
from rlft.rewards.guard import run_user
from rlft.stages import ALGORITHMS

# TRL counts tool calls and their results against `max_completion_length`, and silently drops a result that
# passes it. With the tiny `tool_calling` tokenizer one guess_number turn (call and rendered result) takes 72
# tokens: budget two at least.
MIN_COMPLETION_LENGTH = 144
# rlft's PPO counts the model's tokens only: one guess_number call (`guess(n=50)` with its eos) is 44 tokens.
MIN_ACTION_LENGTH = 44


def spec(stage: Stage) -> EnvSpec:
    """The resolved environment of a stage with `env:`."""
    return resolve_env(stage.env.name, stage.env.kwargs, stage.env.max_turns, stage.env.tools)


def check(stage: Stage, key: str, trainer_default: int | None, trains: bool = True,
          counts_results: bool = True, imitates: bool = False) -> None:
    """Refuse an `env:` block that cannot run: an unknown class or kwargs, rows that fail to generate or to reset,
    no reward at all, a completion budget too small for one turn, a tiny model whose context cannot hold the
    prompt and the budget, or options that assume single-turn completions. `trainer_default`: the trainer
    config's own `max_completion_length`; `trains`: a training stage (else an evaluation, which plays the
    held-out episodes only); `counts_results`: whether tool results count against `max_completion_length`
    (TRL's GRPO) or only the model's tokens do (rlft's PPO); `imitates`: the stage trains on the scripted
    policy's episodes (an SFT warm-up), which the class must have and the context must hold."""
    at = join(key, "env")
    with refused_at(at):
        resolved = spec(stage)
        generated = resolved.rows(1, 0) if stage.data is None else []  # bad kwarg values fail here, not later
        first, schemas = first_prompt(resolved, generated[0] if generated else None)  # and a reset that breaks
    if generated is None:
        raise ConfigError(at, f"environment '{stage.env.name}' has no rows(n, seed, **kwargs) generator: give the "
                          "stage data: whose columns reset(**row) takes")
    if stage.eval.every:
        raise ConfigError(join(key, "eval.every"), "held-out evaluation generates one reply, not an episode; with "
                          "env: the stage plays its held-out episodes after training (and GRPO logs "
                          "rewards/<Class>/mean and tools/* while training)")
    if stage.check.enabled or stage.check.require_signal:
        raise ConfigError(join(key, "check"), "the pre-run check samples one reply, not an episode; it does not "
                          "apply to stages with env:")
    if stage.model.tiny is not None and stage.model.tiny.chat_template not in TOOL_TEMPLATES:
        raise ConfigError(join(key, "model.tiny.chat_template"), f"must be one of {', '.join(TOOL_TEMPLATES)} with "
                          "env: (templates that render tools and whose calls TRL parses)")
    if not stage.env.reward and not (trains and not imitates):
        takes = ", ".join(a.name for a in ALGORITHMS.values() if a.environments and a.needs_rewards)
        raise ConfigError(join(key, "env.reward"), f"applies to stages that train on rewards ({takes})")
    if not trains:
        check_evaluation(stage, key)
    elif imitates:
        check_imitation(stage, key, resolved, generated[0] if generated else None)
        return
    elif not stage.rewards and not callable(getattr(resolved.cls, "get_reward", None)):
        raise ConfigError(join(key, "rewards"), f"environment '{stage.env.name}' has no get_reward(): give the "
                          "stage rewards, or add get_reward() to the class")
    elif not stage.rewards and not stage.env.reward:
        raise ConfigError(join(key, "rewards"), "env.reward is false, so the stage trains on its rewards: give "
                          "some (e.g. random_reward for a control run)")
    length = stage.trainer.get("max_completion_length", trainer_default)
    if length is not None and counts_results and length < MIN_COMPLETION_LENGTH:
        raise ConfigError(join(key, "trainer.max_completion_length"), f"is {length}, too small for an environment: "
                          f"tool calls and their results count against it, and TRL silently drops a result that "
                          f"does not fit; use at least {MIN_COMPLETION_LENGTH} (a guess_number turn is 72 tokens "
                          "of the tiny tokenizer)")
    if length is not None and not counts_results and length < MIN_ACTION_LENGTH:
        raise ConfigError(join(key, "trainer.max_completion_length"), f"is {length}, too small for an environment: "
                          "it budgets the model's tokens over the episode, and one tool call does not fit; use at "
                          f"least {MIN_ACTION_LENGTH} (a guess_number call and its end of turn are 44 tokens of the "
                          "tiny tokenizer)")
    tiny = stage.model.tiny
    if tiny is not None:
        check_context(tiny, join(key, "model.tiny.max_position_embeddings"), first, schemas,
                      length if trains else None, bool(generated))


@contextmanager
def refused_at(key: str):
    """Load-time checks that run the environment: its ValueError (bad kwargs, a broken scripted policy) and
    guarded faults (a reset or tool that raised) become one ConfigError at `key`."""
    try:
        yield
    except ValueError as e:
        raise ConfigError(key, str(e)) from None
    except EnvFault as fault:
        raise ConfigError(key, str(fault.error)) from None


def check_imitation(stage: Stage, key: str, resolved: EnvSpec, row: dict | None) -> None:
    """An SFT stage with `env:` imitates the class's scripted policy: it needs `optimal_policy(row)`, episodes
    that render and parse back (one is played from the first generated row), and a tiny model whose context
    holds that episode."""
    at = join(key, "env")
    if not callable(getattr(resolved.cls, "optimal_policy", None)):
        raise ConfigError(at, f"environment '{stage.env.name}' has no optimal_policy(row): an sft stage with env: "
                          "imitates the scripted policy's episodes")
    if stage.data is not None:
        raise ConfigError(join(key, "data"), "an sft stage with env: trains on the environment's scripted "
                          "episodes; remove data: (or env: to train on the data)")
    tiny = stage.model.tiny
    if row is None or tiny is None:
        return
    with refused_at(at):
        episode = scripted(resolved, build_char_tokenizer(tiny.chat_template), [{"prompt": prompt(resolved), **row}])[0]
    size = len(episode.prompt_ids) + len(episode.ids)
    if size > tiny.max_position_embeddings:
        raise ConfigError(join(key, "model.tiny.max_position_embeddings"), f"is {tiny.max_position_embeddings}, too "
                          f"small for this environment: the first scripted episode with its prompt and tool schemas "
                          f"is {size} tokens; needs at least {size}")


def first_prompt(resolved: EnvSpec, row: dict | None) -> tuple[list[dict], list | None]:
    """The first episode's prompt and tools: the stage's user message plus what `reset(**row)` returns for the
    first generated row (run guarded, so a constructor or reset that breaks fails here; without a row, the user
    message alone), and the instance's tools as the chat template renders them."""
    messages = prompt(resolved)
    env = run_user(f"environment '{resolved.name}': {resolved.cls.__name__}(max_turns={resolved.max_turns})",
                   resolved.guarded())
    if row is not None:
        messages[-1]["content"] += env.reset(**row, prompt=prompt(resolved)) or ""
    return messages, [getattr(env, name) for name in tools(resolved.cls)] or None


def check_context(tiny, key: str, messages: list[dict], schemas: list | None, budget: int | None,
                  observed: bool) -> None:
    """Refuse a tiny model (`tiny`) whose context (`max_position_embeddings`) cannot hold the prompt, rendered with the
    tool schemas, plus the completion budget (`budget`; an evaluation's one reply of `REPLY_TOKENS` when None),
    rather than fail mid-training. The tiny model's tokenizer is built to count (character-level: milliseconds).
    `observed`: the prompt holds a first observation (else the count is a lower bound)."""
    tokenizer, limit = build_char_tokenizer(tiny.chat_template), tiny.max_position_embeddings
    text = tokenizer.apply_chat_template(messages, tools=schemas, tokenize=False, add_generation_prompt=True)
    size = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    more, what = (budget, "trainer.max_completion_length") if budget else (REPLY_TOKENS, "one held-out reply")
    if size + more > limit:
        where = "with the first generated row's observation" if observed else "before any observation"
        raise ConfigError(key, f"is {limit}, too small for this environment: the prompt with its tool schemas is "
                          f"{size} tokens ({where}) and {what} adds {more}; needs at least {size + more}")


def check_evaluation(stage: Stage, key: str) -> None:
    """An evaluation stage with `env:` plays held-out episodes: it needs some, and the single-reply options of
    `eval:` (verifier, pass@k, ...) and `rewards:` do not apply to it."""
    if stage.data is None and not stage.env.eval_size:
        raise ConfigError(join(key, "env.eval_size"), "an eval stage plays held-out episodes: must be > 0, got 0")
    if stage.rewards:
        raise ConfigError(join(key, "rewards"), "an eval stage with env: scores episodes by get_reward(); remove them")
    for name in (f.name for f in dataclasses.fields(EvalSpec) if f.name != "size"):
        if getattr(stage.eval, name) != getattr(EvalSpec(), name):
            raise ConfigError(join(key, f"eval.{name}"), "applies to single-reply evaluation; with env: only "
                              "eval.size (held-out episodes played) applies")


def prompt(resolved: EnvSpec) -> list[dict]:
    """The user message of every row; TRL appends the observation `reset(**row)` returns to it.

    >>> prompt(resolve_env("maze"))[0]["content"]
    'Play maze: walk a small text grid from S to G with `move(direction)`. '
    """
    return [{"role": "user", "content": f"Play {resolved.name}: {summary(resolved.cls)} "}]


def splits(stage: Stage, seed: int):
    """(train, held-out) datasets of episode rows with a `prompt` column: `train_size` rows from the seed,
    `eval_size` from the next seed (None when 0)."""
    from datasets import Dataset

    resolved, env = spec(stage), stage.env
    seed = env.seed if env.seed is not None else seed

    def make(n: int, s: int):
        return Dataset.from_list([{"prompt": prompt(resolved), **row} for row in resolved.rows(n, s)])

    return make(env.train_size, seed), make(env.eval_size, seed + 1) if env.eval_size else None


def scripted_dataset(stage: Stage, rows, tokenizer):
    """The scripted policy's episodes on the stage's training rows, tokenized as TRL's loop lays out an episode
    (rlft.envs.episodes.scripted), with `assistant_masks` (1 on the model's calls and closing reply) that TRL's
    SFTTrainer turns into labels: tool results and the prompt are never trained on."""
    from datasets import Dataset

    episodes = scripted(spec(stage), tokenizer, rows.to_list())
    return Dataset.from_list([{"input_ids": e.prompt_ids + e.ids, "assistant_masks": [0] * len(e.prompt_ids) + e.mask}
                              for e in episodes])


def play_trained(ctx, result, held_out):
    """After a training stage with `env:`: load its saved model and play the held-out episodes (`evaluate`); the
    metrics go to the result's `episodes`, the sample transcripts to its `episode_examples`."""
    if held_out is None:
        return result
    out = result.output
    model, tokenizer = load_model(out, ctx.stage.model), load_tokenizer(out.tokenizer or out.base)
    result.extra.update(evaluate(ctx, model, tokenizer, held_out, result.train["global_step"]))
    return result


def trainer_defaults(stage: Stage, config_cls: type) -> dict:
    """TRL config values an environment implies: tool-calling rounds stop where the episode's budget does."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    return {"max_tool_calling_iterations": stage.env.max_turns} if "max_tool_calling_iterations" in fields else {}


def evaluate(ctx, model, tokenizer, held_out, step: int) -> dict:
    """Play the held-out episodes (at most `eval.size`) greedily (rlft.envs.play); log them as split "eval"
    and return what the stage's summary records: the metrics (`episodes`) and a few transcripts
    (`episode_examples`)."""
    if not dist.is_main():
        return {}
    rows = held_out.to_list()[:ctx.stage.eval.size or len(held_out)]
    metrics, examples = play(model.eval(), tokenizer, spec(ctx.stage), rows)
    ctx.log(step, "eval", metrics)
    shown = " ".join(f"{k.removeprefix('env/')}={v:.4g}" for k, v in metrics.items() if isinstance(v, float))
    ctx.echo(f"  [{ctx.name}] step {step} held-out episodes: {shown}")
    return {"episodes": metrics, "episode_examples": examples}
