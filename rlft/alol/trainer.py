"""A-LoL, rlft's own loop (TRL has no offline advantage-weighted trainer): learn from a fixed set of scored
completions with no sampling. Reads top to bottom: tokenise the rows -> the frozen reference's log-probs and
prompt features -> fit V(x) and keep the rows with a positive advantage -> epochs of advantage-weighted,
importance-weighted likelihood steps over them. The math lives in `rlft.alol.core`.

With LoRA the reference is the base with adapters disabled; without LoRA a frozen copy of the starting model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch

from rlft.alol.core import VARIANTS, advantages, alol_loss, fit_value
from rlft.core.schema import positive


@dataclass
class ALoLConfig:
    """The `trainer:` block of an `alol` stage. Names follow TRL's configs where the idea is the same."""

    output_dir: str = "alol"
    seed: int = 0
    variant: Literal["alol", "alol_seq", "alol_ref_free"] = "alol"  # rlft.alol.core, the paper's variants
    clip_range: float = 0.9  # importance weights clipped to [1 - clip_range, 1 + clip_range]
    value_ridge: float = 1e-2  # ridge penalty of the linear value V(x) on the reference's prompt features
    max_steps: int = 100  # optimiser steps over the rows with a positive advantage
    per_device_train_batch_size: int = 16
    learning_rate: float = 1e-4
    lr_scheduler_type: Literal["constant", "linear", "cosine"] = "linear"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    logging_steps: int = 10
    # Shared with TRL's configs so that rlft's device defaults apply unchanged.
    bf16: bool = False
    use_cpu: bool = False
    activation_checkpointing: bool = False  # recompute activations in backward (less memory, on by default on GPUs)
    report_to: str | list[str] = "none"
    save_strategy: Literal["no"] = "no"  # a killed A-LoL stage restarts from its start
    disable_tqdm: bool = True

    def __post_init__(self):
        for name in ("max_steps", "per_device_train_batch_size", "learning_rate", "logging_steps", "clip_range"):
            positive(getattr(self, name), name)
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.value_ridge < 0 or self.warmup_steps < 0:
            raise ValueError("value_ridge and warmup_steps must be >= 0")


class NothingToLearn(ValueError):
    """No row beats its prompt's value: every reward is what the reference expects, so A-LoL keeps nothing."""


@dataclass
class Rows:
    """The tokenised rows, right-padded: ids and attention `(n, L)`, completion mask `(n, L - 1)` over the
    predicted positions, and the index of each prompt's last token."""

    ids: torch.Tensor
    attn: torch.Tensor
    mask: torch.Tensor
    prompt_end: torch.Tensor


def encode(tokenizer, prompts: list, completions: list) -> Rows:
    """Token ids of prompt + completion per row: chat-templated messages (the completion ends with the template's
    end of turn) or plain strings (the completion ends with EOS)."""
    seqs, starts = [], []
    for p, c in zip(prompts, completions, strict=True):
        if isinstance(p, list):
            head = tokenizer.apply_chat_template(p, tokenize=True, add_generation_prompt=True, return_dict=False)
            full = tokenizer.apply_chat_template(p + c, tokenize=True, return_dict=False)
        else:
            head = tokenizer(p, add_special_tokens=False)["input_ids"]
            full = head + tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if full[: len(head)] != head or len(full) == len(head):
            raise ValueError(f"the completion of row {len(seqs)} does not extend its prompt's tokens")
        seqs.append(full)
        starts.append(len(head))
    width = max(map(len, seqs))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    attn = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    pos = torch.arange(1, width)[None, :]
    lengths, start = torch.tensor([len(s) for s in seqs])[:, None], torch.tensor(starts)[:, None]
    mask = ((pos >= start) & (pos < lengths)).float()
    return Rows(ids, attn, mask, torch.tensor(starts) - 1)


def logprobs_of(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log p(token_t | tokens_<t) for t = 1..L-1 from a forward pass's logits, without a full log-softmax tensor."""
    logits = logits[:, :-1].float()
    return logits.gather(-1, ids[:, 1:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def token_logprobs(model, ids, attn) -> torch.Tensor:
    """log pi(token_t | tokens_<t) for t = 1..L-1."""
    return logprobs_of(model(input_ids=ids, attention_mask=attn).logits, ids)


class Reference:
    """The frozen reference: the base with adapters disabled (peft) or a frozen copy of the model."""

    def __init__(self, policy, lora: bool):
        self.policy, self.lora = policy, lora
        self.copy = None if lora else copy.deepcopy(policy).eval().requires_grad_(False)

    @torch.no_grad()
    def run(self, ids, attn):
        """(token log-probs, last hidden states) of the reference."""
        if self.lora:
            with self.policy.disable_adapter():
                out = self.policy(input_ids=ids, attention_mask=attn, output_hidden_states=True)
        else:
            out = self.copy(input_ids=ids, attention_mask=attn, output_hidden_states=True)
        return logprobs_of(out.logits, ids), out.hidden_states[-1].float()


def prepare(policy, lora: bool, rows: Rows, rewards: torch.Tensor, cfg: ALoLConfig, batch: int = 64):
    """Reference log-probs for every row, V(x) fitted on the reference's features at each prompt's last token,
    and the advantages. Returns (ref_logprobs, values, advantages)."""
    ref = Reference(policy, lora)
    was_training = policy.training
    policy.eval()
    ref_lp, feats = [], []
    for i in range(0, len(rows.ids), batch):
        lp, hidden = ref.run(rows.ids[i : i + batch], rows.attn[i : i + batch])
        ref_lp.append(lp)
        feats.append(hidden[torch.arange(len(hidden)), rows.prompt_end[i : i + batch]])
    policy.train(was_training)
    features = torch.cat(feats)
    w, b = fit_value(features.cpu(), rewards.cpu(), cfg.value_ridge)
    values = features.cpu() @ w + b
    return torch.cat(ref_lp), values, advantages(rewards.cpu(), values)


def train(policy, lora: bool, rows: Rows, rewards: torch.Tensor, cfg: ALoLConfig, log,
          on_step=None) -> tuple[int, dict]:
    """Run A-LoL for cfg.max_steps optimiser steps; `log(step, metrics)` records metrics, `on_step(step)` runs after
    each step (held-out evaluation) and returns True to stop training there. Returns (steps done, the data
    summary: rows kept, mean reward, value fit)."""
    from transformers import get_scheduler

    device = next(policy.parameters()).device
    rows = Rows(rows.ids.to(device), rows.attn.to(device), rows.mask.to(device), rows.prompt_end.to(device))
    ref_lp, values, adv = prepare(policy, lora, rows, rewards, cfg)
    keep = torch.nonzero(adv > 0).squeeze(-1)
    if len(keep) == 0:
        raise NothingToLearn("no row has a positive advantage (every reward equals its prompt's value): A-LoL has "
                             "nothing to learn from; check the stage's rewards against its data")
    data = {"alol/rows": len(adv), "alol/rows_kept": len(keep), "alol/reward_mean": rewards.mean().item(),
            "alol/value_mse": (adv**2).mean().item(),  # the advantage is the value's residual
            "alol/advantage_mean_kept": adv[keep].mean().item()}  # fmt: skip
    if cfg.activation_checkpointing:
        policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler(cfg.lr_scheduler_type, optimizer, cfg.warmup_steps, cfg.max_steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    adv, ref_lp = adv.to(device), ref_lp.to(device)
    order: list[int] = []
    window: list[dict] = []

    def flush(step: int, window: list[dict]) -> list[dict]:  # log the window's means; an empty window next
        if window:
            means = {k: sum(m[k] for m in window) / len(window) for k in window[0]}
            log(step, means | {"epoch": step * cfg.per_device_train_batch_size / len(keep)})
        return []

    policy.train()
    for step in range(1, cfg.max_steps + 1):
        if len(order) < cfg.per_device_train_batch_size:  # a new epoch over the kept rows
            order += keep[torch.randperm(len(keep), generator=gen)].tolist()
        mb, order = order[: cfg.per_device_train_batch_size], order[cfg.per_device_train_batch_size :]
        lp = token_logprobs(policy, rows.ids[mb], rows.attn[mb])
        loss, weights = alol_loss(lp, ref_lp[mb], rows.mask[mb], adv[mb], cfg.variant, cfg.clip_range)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.append({"loss": loss.item(), "grad_norm": grad_norm.item(),
                       "alol/importance_weight": weights.mean().item(), "alol/advantage": adv[mb].mean().item(),
                       "learning_rate": scheduler.get_last_lr()[0]})  # fmt: skip
        if step % cfg.logging_steps == 0 or step == cfg.max_steps:
            window = flush(step, window)
        if on_step is not None and on_step(step):  # held-out evaluation reached eval.stop_at_accuracy
            flush(step, window)  # the steps since the last log line, as at max_steps
            return step, data
    return cfg.max_steps, data
