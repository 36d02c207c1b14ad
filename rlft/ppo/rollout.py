"""A PPO rollout batch: what the policy sampled, laid out for the loss. Single-turn, one completion per prompt;
multi-turn (a stage with `env:`), one episode per row, played by rlft's episode loop (rlft.envs.episodes).

Layout, the same for both: `seqs` is the left-padded prompts followed by a right-padded region of width T; `attn`
is 1 on every real token; `mask` (B, T) is 1 on the tokens the policy generated. Single-turn the region is the
completion and `mask` is `completion_mask` (up to and including the first eos). Multi-turn the region is the whole
episode after the prompt: [reply, tool results, reply, ...]; tool-result tokens are context the policy reads but
did not choose, so `mask` is 0 on them, and the policy loss, the value loss, the KL penalty, the advantage
whitening and GAE's steps all skip them (rlft.ppo.core: `token_rewards`, `gae`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rlft.envs.episodes import Episode, run_episodes
from rlft.envs.play import episode_metrics, outcome
from rlft.envs.registry import EnvSpec
from rlft.eval.evaluate import as_completions, prompt_texts
from rlft.ppo.core import completion_mask


@dataclass
class Rollout:
    """A sampled batch; `completions`, `completion_ids` and `reward_kwargs` are what reward functions receive."""

    seqs: torch.Tensor
    attn: torch.Tensor
    mask: torch.Tensor
    n_prompt: int
    completions: list
    completion_ids: list[list[int]]
    ended: torch.Tensor  # (B,) bool: the (last) reply ended with eos
    reward_kwargs: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # logged with the step: the episodes' env/* means


def single_turn(policy, tokenizer, prompts: list, cfg, device) -> Rollout:
    """One sampled completion per prompt, at most `max_completion_length` tokens."""
    enc = tokenizer(prompt_texts(prompts, tokenizer), return_tensors="pt", padding=True,
                    add_special_tokens=False).to(device)  # fmt: skip
    n_prompt = enc["input_ids"].shape[1]
    with torch.no_grad():
        seqs = policy.generate(**enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                               max_new_tokens=cfg.max_completion_length, pad_token_id=tokenizer.pad_token_id,
                               eos_token_id=tokenizer.eos_token_id)
    completion = seqs[:, n_prompt:]
    mask = completion_mask(completion, tokenizer.eos_token_id, tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(completion, skip_special_tokens=True)
    return Rollout(seqs, torch.cat([enc["attention_mask"], mask.long()], dim=1), mask, n_prompt,
                   as_completions(prompts, texts), completion.tolist(),
                   (completion == tokenizer.eos_token_id).any(dim=1))


def multi_turn(policy, tokenizer, rows: list[dict], cfg, device, spec: EnvSpec, factory) -> Rollout:
    """One sampled episode per row; `max_completion_length` budgets the policy's tokens over the episode (tool
    results do not count against it). Reward functions receive the episode's messages after the prompt as the
    completion and the environments as `environments`, as TRL hands them."""
    episodes = run_episodes(policy, tokenizer, spec, rows, cfg.max_completion_length, cfg.max_completion_length,
                            {"temperature": cfg.temperature, "top_k": 0, "top_p": 1.0}, factory)
    seqs, attn, mask, n_prompt = layout(episodes, tokenizer.pad_token_id)
    return Rollout(seqs.to(device), attn.to(device), mask.to(device), n_prompt, [e.messages for e in episodes],
                   [e.ids for e in episodes], torch.tensor([e.eos for e in episodes]),
                   {"environments": [e.env for e in episodes]},
                   episode_metrics([outcome(spec, e) for e in episodes]))


def layout(episodes: list[Episode], pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(seqs, attn, mask, n_prompt) of played episodes: prompts left-padded to one width, the region after them
    right-padded (at least one position, so that an episode cut before its first token still has a slot).

    >>> e = Episode(None, {}, [7, 8], None, ids=[1, 2, 3, 4], mask=[1, 0, 0, 1])
    >>> f = Episode(None, {}, [9], None, ids=[5], mask=[1])
    >>> seqs, attn, mask, n = layout([e, f], pad=0)
    >>> seqs.tolist(), attn.tolist(), mask.tolist(), n
    ([[7, 8, 1, 2, 3, 4], [0, 9, 5, 0, 0, 0]], [[1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 0, 0]], \
[[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]], 2)
    """
    n_prompt = max(len(e.prompt_ids) for e in episodes)
    width = max(1, *(len(e.ids) for e in episodes))
    seqs, attn, mask = [], [], []
    for e in episodes:
        left, right = n_prompt - len(e.prompt_ids), width - len(e.ids)
        seqs.append([pad] * left + e.prompt_ids + e.ids + [pad] * right)
        attn.append([0] * left + [1] * (len(e.prompt_ids) + len(e.ids)) + [0] * right)
        mask.append(e.mask + [0] * right)
    return torch.tensor(seqs), torch.tensor(attn), torch.tensor(mask, dtype=torch.float), n_prompt
