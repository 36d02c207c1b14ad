"""PPO for language models, rlft's own (TRL 1.16 has none): one loop that reads top to bottom.

Each step: sample completions for a batch of prompts (or, with an environment, play one episode per row:
rlft.ppo.rollout) -> score them with the stage's rewards (rules, gates or a reward model, with weights; the
environment's `get_reward()` with weight 1) -> per-token KL penalty against the reference -> GAE -> several
epochs of clipped policy and value updates over minibatches. The math lives in `rlft.ppo.core`.

With LoRA, policy, reference and value share one frozen base: the policy is the `default` adapter, the
reference is the base with adapters disabled, the value function is a second adapter (`value`) plus a
head on the last hidden state: a scalar, or HL-Gauss's categorical head (`value_head: {type: hl_gauss, ...}`,
`rlft.ppo.value_head`). Without LoRA they are three separate models.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import torch

from rlft.core.schema import build, positive
from rlft.envs.registry import EnvSpec
from rlft.eval.evaluate import mean, score_all
from rlft.ppo import rollout
from rlft.ppo.core import (
    AdaptiveKL,
    explained_variance,
    gae,
    kl_estimate,
    masked_mean,
    masked_whiten,
    policy_loss,
    token_rewards,
)
from rlft.ppo.value_head import ValueHead, ValueHeadConfig


@dataclass
class PPOConfig:
    """The `trainer:` block of a `ppo` stage. Names follow TRL's configs where the idea is the same."""

    # with an environment, max_completion_length budgets the model's tokens only (rlft.stages.environment reads it)
    counts_tool_results: ClassVar[bool] = False

    output_dir: str = "ppo"
    seed: int = 0
    max_steps: int = 100  # PPO iterations: one rollout batch and its updates each
    per_device_train_batch_size: int = 16  # prompts per rollout
    num_ppo_epochs: int = 4  # passes over each rollout batch
    num_mini_batches: int = 1  # minibatches per pass: one optimiser step each
    gradient_accumulation_steps: int = 1  # micro-batches per minibatch (less memory, same update)
    learning_rate: float = 1e-5
    lr_scheduler_type: Literal["constant", "linear", "cosine"] = "linear"
    max_grad_norm: float = 1.0
    max_completion_length: int = 16  # with an environment: the policy's tokens over the whole episode
    temperature: float = 1.0
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    kl_coef: float = 0.05
    kl_estimator: Literal["k1", "k3"] = "k1"
    target_kl: float | None = None  # set: adapt kl_coef towards this KL (Ziegler et al.)
    kl_horizon: int = 10000
    missing_eos_penalty: float | None = None  # subtracted from the score of completions that never end
    whiten_rewards: bool = False
    value_lora_r: int | None = None  # rank of the value adapter (default: the policy's)
    # {type: mse} (scalar, clipped squared error) or {type: hl_gauss, min, max, bins, sigma} (rlft.ppo.value_head)
    value_head: ValueHeadConfig = field(default_factory=ValueHeadConfig)
    logging_steps: int = 10
    # Shared with TRL's configs so that rlft's device defaults apply unchanged.
    bf16: bool = False
    use_cpu: bool = False
    activation_checkpointing: bool = False
    report_to: str | list[str] = "none"  # trackers, as in TRL's configs (rlft.stages.trackers)
    save_strategy: Literal["no", "steps"] = "no"  # "steps": a checkpoint every save_steps (TRL's names)
    save_steps: int = 500
    resume_from_checkpoint: str | None = None  # a checkpoint-N folder: continue exactly where it stopped
    disable_tqdm: bool = True

    def __post_init__(self):
        for name in ("max_steps", "per_device_train_batch_size", "num_ppo_epochs", "num_mini_batches",
                     "gradient_accumulation_steps", "learning_rate", "max_completion_length", "temperature",
                     "kl_horizon", "logging_steps", "save_steps"):
            positive(getattr(self, name), name)
        self.value_head = build(ValueHeadConfig, self.value_head, "value_head")  # a mapping in the recipe
        split = self.num_mini_batches * self.gradient_accumulation_steps
        if self.per_device_train_batch_size % split:
            raise ValueError(f"per_device_train_batch_size ({self.per_device_train_batch_size}) must be divisible "
                             f"by num_mini_batches x gradient_accumulation_steps ({split})")  # fmt: skip


class Models:
    """Policy, reference and value behind one interface, sharing a base with LoRA or separate without."""

    def __init__(self, model, peft_config, value_r: int | None, checkpointing: bool = False,
                 head: ValueHeadConfig | None = None):
        self.lora = peft_config is not None
        hidden = model.config.get_text_config().hidden_size
        if self.lora:
            from peft import get_peft_model

            self.policy = get_peft_model(model, peft_config)
            value_config = copy.deepcopy(peft_config)
            if value_r:
                value_config.r = value_r
            self.policy.add_adapter("value", value_config)
            self.policy.set_adapter("default")
            self.value_model = self.policy
        else:
            self.policy, self.ref = model, copy.deepcopy(model).eval().requires_grad_(False)
            self.value_model = copy.deepcopy(model)
        if checkpointing:  # recompute activations in backward: active only in train mode, so rollouts keep the cache
            for trained in (self.policy,) if self.lora else (self.policy, self.value_model):  # LoRA: one shared base
                trained.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        self.value_head = ValueHead(hidden, head or ValueHeadConfig()).to(model.device, model.dtype)

    def named_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """The trained parameters, named uniquely: LoRA weights (both adapters) or both full models, and the
        value head."""
        if self.lora:
            named = [(f"policy.{n}", p) for n, p in self.policy.named_parameters() if "lora_" in n]
        else:
            named = [*((f"policy.{n}", p) for n, p in self.policy.named_parameters()),
                     *((f"value.{n}", p) for n, p in self.value_model.named_parameters())]  # fmt: skip
        return named + [(f"value_head.{n}", p) for n, p in self.value_head.named_parameters()]

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for _, p in self.named_parameters()]

    def logprobs(self, ids, attn, n_prompt: int, temperature: float, reference: bool = False):
        """Log-probabilities of the completion tokens (positions n_prompt..) under policy or reference."""
        # only the completion positions get logits (logits_to_keep), and no full log-softmax tensor is
        # materialised: with a 150k vocabulary these dominate the memory of a step
        keep = ids.shape[1] - n_prompt + 1
        if self.lora:
            self.policy.set_adapter("default")
            if reference:
                with self.policy.disable_adapter():
                    logits = self.policy(input_ids=ids, attention_mask=attn, logits_to_keep=keep).logits
            else:
                logits = self.policy(input_ids=ids, attention_mask=attn, logits_to_keep=keep).logits
        else:
            model = self.ref if reference else self.policy
            logits = model(input_ids=ids, attention_mask=attn, logits_to_keep=keep).logits
        logits = logits[:, :-1].float() / temperature
        chosen = logits.gather(-1, ids[:, n_prompt:, None]).squeeze(-1)
        return chosen - torch.logsumexp(logits, dim=-1)

    def values(self, ids, attn, n_prompt: int):
        """V(s_t) for each completion token, from the value adapter (or model) and the head."""
        return self.value_head.value(self.value_outputs(ids, attn, n_prompt))

    def value_outputs(self, ids, attn, n_prompt: int):
        """The value head's outputs `(batch, T, 1 or bins)` for each completion token, in float32."""
        if self.lora:
            self.policy.set_adapter("value")
        # the decoder alone: the value needs the last hidden state, not vocabulary logits
        hidden = self.value_model.get_decoder()(input_ids=ids, attention_mask=attn).last_hidden_state
        if self.lora:
            self.policy.set_adapter("default")
        return self.value_head(hidden[:, n_prompt - 1 : -1]).float()


def lr_lambda(kind: str, total: int):
    def f(step: int) -> float:
        if kind == "constant":
            return 1.0
        frac = min(step / max(total, 1), 1.0)
        return 1.0 - frac if kind == "linear" else 0.5 * (1 + math.cos(math.pi * frac))

    return f


def save_checkpoint(path: Path, step: int, models: Models, optimizer, scheduler, gen, kl_coef: float,
                    history: list[dict]) -> None:
    """Everything a resumed run needs to continue bit for bit: trained weights, optimiser and schedule,
    both random generators (rollout sampling uses torch's global one), the KL coefficient and the metric
    window. Written under a temporary name and renamed, so a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    torch.save({n: p.detach().cpu() for n, p in models.named_parameters()}, tmp / "weights.pt")
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "kl_coef": kl_coef, "history": history}, tmp / "state.pt")  # fmt: skip
    tmp.rename(path)


def load_checkpoint(path: Path, models: Models, optimizer, scheduler, gen) -> tuple[int, float, list[dict]]:
    """Restore a `save_checkpoint` folder into the live objects; returns (step, kl_coef, history)."""
    if not (path / "state.pt").is_file():
        raise ValueError(f"resume_from_checkpoint: '{path}' is not a PPO checkpoint (no state.pt)")
    weights = torch.load(path / "weights.pt")
    for name, param in models.named_parameters():
        if name in weights and weights[name].shape != param.shape:
            raise ValueError(f"resume_from_checkpoint: '{path}' holds {name} of shape {tuple(weights[name].shape)}, "
                             f"this run's is {tuple(param.shape)}: resume with the value_head and LoRA settings the "
                             "checkpoint was written with")
    with torch.no_grad():
        for name, param in models.named_parameters():
            param.copy_(weights[name])
    state = torch.load(path / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["step"], state["kl_coef"], state["history"]


def log_window(log, window: list[dict], step: int) -> None:
    """Log the mean of each metric over the steps since the last log line (None, a reward never applied, left out)."""
    log(step, {k: mean([h[k] for h in window]) for k in window[-1]})


def train(models: Models, tokenizer, prompts_ds, rewards, cfg: PPOConfig, log, on_step=None, on_save=None,
          env: EnvSpec | None = None) -> int:
    """Run PPO for cfg.max_steps iterations; `log(step, metrics)` records metrics, `on_step(step)` runs
    after each iteration (held-out evaluation) and returns True to stop training there (a target accuracy is
    reached), `on_save(path, step)` runs after each checkpoint is written. Returns the number of steps done.
    With `env`, each row of `prompts_ds` is an episode of that environment (multi-turn, docs/ppo.md)."""
    params = models.parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, eps=1e-5)
    updates = cfg.max_steps * cfg.num_ppo_epochs * cfg.num_mini_batches
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.lr_scheduler_type, updates))
    kl_ctl = AdaptiveKL(cfg.kl_coef, cfg.target_kl, cfg.kl_horizon) if cfg.target_kl else None
    kl_coef = cfg.kl_coef
    gen = torch.Generator().manual_seed(cfg.seed)
    device = next(models.policy.parameters()).device
    factory = env.guarded() if env is not None else None  # one episode count for the stage
    tokenizer.padding_side = "left"
    history: list[dict] = []
    done = 0
    if cfg.resume_from_checkpoint:
        done, kl_coef, history = load_checkpoint(Path(cfg.resume_from_checkpoint), models, optimizer, scheduler, gen)
        if kl_ctl is not None:
            kl_ctl.value = kl_coef

    for step in range(done + 1, cfg.max_steps + 1):
        # 1. rollout: sample a completion per prompt, or play an episode per row
        idx = torch.randint(len(prompts_ds), (cfg.per_device_train_batch_size,), generator=gen).tolist()
        batch = prompts_ds.select(idx)
        prompts = batch["prompt"]
        models.policy.eval()
        if env is None:
            roll = rollout.single_turn(models.policy, tokenizer, prompts, cfg, device)
        else:
            roll = rollout.multi_turn(models.policy, tokenizer, batch.to_list(), cfg, device, env, factory)
        seqs, attn, mask, n_prompt, ended = roll.seqs, roll.attn, roll.mask, roll.n_prompt, roll.ended

        # 2. score: weighted sum of the stage's rewards at the last token of the policy
        columns = {c: batch[c] for c in batch.column_names if c != "prompt"}
        total, per_fn = score_all(rewards, roll.completions, prompts=prompts, completion_ids=roll.completion_ids,
                                  **roll.reward_kwargs, **columns)  # fmt: skip
        scores = torch.tensor(total)
        if cfg.missing_eos_penalty is not None:
            scores[~ended.cpu()] -= cfg.missing_eos_penalty
        scores = scores.to(device)

        # 3. old log-probs, reference log-probs, values; per-token rewards; advantages
        with torch.no_grad():
            old_logprobs = models.logprobs(seqs, attn, n_prompt, cfg.temperature)
            ref_logprobs = models.logprobs(seqs, attn, n_prompt, cfg.temperature, reference=True)
            old_values = models.values(seqs, attn, n_prompt)
            kl = kl_estimate(old_logprobs, ref_logprobs, cfg.kl_estimator) * mask
            token_r = token_rewards(scores, kl, mask, kl_coef)
            if cfg.whiten_rewards:
                token_r = masked_whiten(token_r, mask, shift_mean=False)
            advantages, returns = gae(token_r, old_values, mask, cfg.gamma, cfg.lam)
            advantages = masked_whiten(advantages, mask)
            value_explained = explained_variance(old_values, returns, mask)

        # 4. PPO epochs over minibatches
        models.policy.train()
        stats = {k: [] for k in ("pg_loss", "vf_loss", "pg_clipfrac", "vf_clipfrac", "approxkl", "ratio", "vf_entropy")}
        size = cfg.per_device_train_batch_size // cfg.num_mini_batches
        micro = size // cfg.gradient_accumulation_steps
        for _ in range(cfg.num_ppo_epochs):
            order = torch.randperm(len(seqs), generator=gen).tolist()
            for start in range(0, len(seqs), size):
                for m in range(start, start + size, micro):  # micro-batches of one minibatch: one update
                    mb = order[m : m + micro]
                    new_logprobs = models.logprobs(seqs[mb], attn[mb], n_prompt, cfg.temperature)
                    pg, pg_clip, approxkl, ratio = policy_loss(new_logprobs, old_logprobs[mb], advantages[mb],
                                                               mask[mb], cfg.cliprange)  # fmt: skip
                    # before the value pass: switching adapters freezes the inactive one
                    (pg / cfg.gradient_accumulation_steps).backward()
                    out = models.value_outputs(seqs[mb], attn[mb], n_prompt)
                    vf, vf_clip = models.value_head.loss(out, old_values[mb], returns[mb], mask[mb],
                                                         cfg.cliprange_value)  # fmt: skip
                    (cfg.vf_coef * vf / cfg.gradient_accumulation_steps).backward()
                    vf_entropy = models.value_head.entropy(out.detach(), mask[mb])  # None for the scalar head
                    for k, v in zip(stats, (pg, vf, pg_clip, vf_clip, approxkl, ratio, vf_entropy)):
                        if v is not None:
                            stats[k].append(v.item())
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)

        mean_kl = masked_mean(kl.sum(1), torch.ones(len(seqs), device=device)).item()
        if kl_ctl is not None:
            kl_coef = kl_ctl.update(mean_kl, cfg.per_device_train_batch_size)
        head = "vf_entropy" if stats["vf_entropy"] else "vf_clipfrac"  # hl_gauss: an entropy and no clipping
        head_stat = {"vf_entropy": "val/entropy_avg", "vf_clipfrac": "val/clipfrac_avg"}[head]
        history.append({
            "objective/kl": mean_kl,
            "objective/entropy": (-old_logprobs * mask).sum(1).mean().item(),  # sampled estimate, as TRL
            "objective/scores": scores.mean().item(),
            "objective/non_score_reward": (-kl_coef * kl.sum(1)).mean().item(),
            "objective/rlhf_reward": (scores - kl_coef * kl.sum(1)).mean().item(),
            "policy/approxkl_avg": sum(stats["approxkl"]) / len(stats["approxkl"]),
            "policy/clipfrac_avg": sum(stats["pg_clipfrac"]) / len(stats["pg_clipfrac"]),
            "loss/policy_avg": sum(stats["pg_loss"]) / len(stats["pg_loss"]),
            "loss/value_avg": sum(stats["vf_loss"]) / len(stats["vf_loss"]),
            head_stat: sum(stats[head]) / len(stats[head]),
            "val/explained_variance": value_explained,
            "val/ratio": sum(stats["ratio"]) / len(stats["ratio"]),
            "val/num_eos_tokens": ended.float().sum().item(),
            "completions/mean_length": mask.sum(1).mean().item(),
            "kl_coef": kl_coef,
            "lr": scheduler.get_last_lr()[0],
            "episode": step * cfg.per_device_train_batch_size,
            **per_fn,
            **roll.metrics,
        })  # fmt: skip
        if step % cfg.logging_steps == 0 or step == cfg.max_steps:
            log_window(log, history[-cfg.logging_steps :], step)
        if on_step is not None and on_step(step):
            if step % cfg.logging_steps:  # the steps since the last log line, as at max_steps
                log_window(log, history[-(step % cfg.logging_steps) :], step)
            return step
        if cfg.save_strategy == "steps" and step % cfg.save_steps == 0:  # after on_step: the step is whole
            path = Path(cfg.output_dir) / f"checkpoint-{step}"
            save_checkpoint(path, step, models, optimizer, scheduler, gen, kl_coef, history[-cfg.logging_steps :])
            if on_save is not None:
                on_save(path, step)
    return cfg.max_steps
