"""Validation builds what the run will build, so that a value a library refuses only at run time is refused
when the recipe is loaded: the optimizer the trainer makes (on one dummy parameter), the reporting
integrations `report_to` names, and the starting model's skeleton on the `meta` device (no weights, no
memory) with the stage's LoRA adapter, its size and its context length. Only local information is used: a
hub id whose config is not on this machine is not checked here.
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from pathlib import Path

import torch

from rlft.core.schema import ConfigError, join
from rlft.models import lora_config, path_ref, tiny_config

MAX_TOKENS = 32_768  # tokens generated per completion when the model's context length is not known
BYTES_TRAINING = 16  # per parameter in fp32 training: weights, gradients, AdamW's two moments
BYTES_INFERENCE = 4  # per parameter when only generating (eval stages)


@contextlib.contextmanager
def quiet():
    """Library warnings while building a skeleton (tied weights, meta tensors) are not the user's business."""
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(level)


# ---------------------------------------------------------------- the trainer's own objects


def check_optimizer(args, key: str) -> None:
    """Build the optimizer the trainer would build, on one dummy parameter: a `trainer:` value torch refuses
    (`adam_beta1: 1.5`, an `optim` whose package is missing) fails here instead of at the first step."""
    params = [torch.nn.Parameter(torch.zeros(1))]
    try:
        if hasattr(args, "optim"):  # TRL's configs are TrainingArguments: the trainer's own choice
            from transformers import Trainer

            cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args)
        else:  # rlft's PPO (rlft.ppo.trainer.train)
            cls, kwargs = torch.optim.AdamW, {"lr": args.learning_rate, "eps": 1e-5}
        cls(params, **kwargs)
    except (ValueError, TypeError, ImportError, RuntimeError) as e:
        name = getattr(getattr(args, "optim", None), "value", getattr(args, "optim", "adamw_torch"))
        raise ConfigError(key, f"the optimizer (optim: {name}) refuses these settings: {e} (from optim, optim_args, "
                          "learning_rate, adam_beta1, adam_beta2, adam_epsilon, weight_decay)") from None


def check_reporting(args, key: str) -> None:
    """Each tracker in `report_to` must be one transformers knows and whose package is installed: the trackers
    are built as the run builds them (rlft.stages.trackers), which the trainer would otherwise do only once the
    data and model are ready."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from rlft.stages.trackers import EXTRA, Trackers, callbacks

    report_to, at = getattr(args, "report_to", None), join(key, "report_to")
    try:
        classes = callbacks(report_to)
    except ValueError as e:  # a name transformers does not know
        raise ConfigError(at, f"{report_to!r}: {str(e).strip().splitlines()[0]}") from None
    except TypeError:
        raise ConfigError(at, f"expected a tracker's name or a list of them (e.g. [tensorboard]), got {report_to!r}"
                          ) from None
    names = {cls: name for name, cls in INTEGRATION_TO_CALLBACK.items()}
    for cls in classes:
        try:
            cls()
        except (RuntimeError, ImportError) as e:  # its package is missing
            extra = f"; `pip install 'rlft[trackers]'` installs {', '.join(EXTRA)}" if names.get(cls) in EXTRA else ""
            raise ConfigError(at, f"{report_to!r}: {str(e).strip().splitlines()[0].rstrip('.')}{extra}") from None
    try:
        Trackers.build(args)  # with the TrainingArguments they read (rlft's PPO lends its own fields)
    except (ValueError, TypeError) as e:
        raise ConfigError(at, f"{report_to!r}: the trackers cannot be set up with these settings: {e}") from None


def check_evaluation(args, key: str) -> None:
    """rlft evaluates during training itself (`eval.every`) and hands TRL no eval set, so a TRL evaluation
    schedule would stop the trainer when it starts."""
    strategy = getattr(getattr(args, "eval_strategy", "no"), "value", getattr(args, "eval_strategy", "no"))
    if strategy != "no":
        raise ConfigError(join(key, "eval_strategy"), f"'{strategy}' is not used by rlft, which gives the trainer "
                          "no eval set; allowed: 'no'. Evaluate during training with the stage's eval.every: N "
                          "(greedy held-out accuracy and rewards every N steps)")


def check_built(args, key: str) -> None:
    """The checks on a built trainer config (`key` is the stage's `trainer` block)."""
    check_optimizer(args, key)
    check_reporting(args, key)
    check_evaluation(args, key)


# ---------------------------------------------------------------- the starting model's skeleton


def model_config(recipe, stage, seen: set[str] | None = None):
    """The transformers config of a stage's starting model when it is known from this machine alone: a tiny
    model's, a local folder's (or a finished run's stage folder's base), a cached hub id's; for `from_stage`,
    that of the earlier stage's starting model. None when unknown."""
    from transformers import AutoConfig


    spec = stage.model
    if spec.tiny is not None:
        return tiny_config(spec.tiny)
    if spec.from_stage is not None:
        seen = seen or set()
        source = recipe.stages.get(spec.from_stage)
        if source is None or spec.from_stage in seen:
            return None
        return model_config(recipe, source, seen | {spec.from_stage})
    if spec.trust_remote_code:  # its config class is code from the model's folder: not run while validating
        return None
    try:
        base = path_ref(spec.path).base
        with quiet():
            return AutoConfig.from_pretrained(base, local_files_only=True)
    except Exception:  # an unusable folder is reported when the stage loads it, a hub id offline is not known
        return None


def skeleton(config, head: str):
    """The model on the `meta` device: its modules and parameter shapes, no memory for weights."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    with quiet(), torch.device("meta"):
        if head == "reward":
            config = copy.deepcopy(config)
            config.num_labels = 1  # as rlft.models.load_model builds a reward model
            return AutoModelForSequenceClassification.from_config(config)
        return AutoModelForCausalLM.from_config(config)


def available_memory() -> int | None:
    """Bytes of memory a new process can use without swapping: the machine's MemAvailable (else free pages),
    capped by a container's cgroup limit less what it uses already; None when unknown."""
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            free = min(free if free is not None else int(limit), int(limit) - used)
    except (OSError, ValueError):
        pass
    return free


def check_size(params: int, trains: bool, key: str, available: int | None) -> None:
    """Refuse a tiny model whose training state cannot fit in memory: about 16 bytes per parameter in fp32
    training (weights, gradients, AdamW's two moments), 4 when only generating.

    >>> check_size(10**6, True, "model.tiny", 10**9)
    >>> check_size(10**9, True, "model.tiny", 8 * 2**30)
    Traceback (most recent call last):
    rlft.core.schema.ConfigError: model.tiny: 1,000,000,000 parameters need about 14.9 GiB to train (16 bytes each: \
weights, gradients and AdamW state in fp32), more than the 8.0 GiB of memory available; make the model smaller
    """
    per = BYTES_TRAINING if trains else BYTES_INFERENCE
    need = params * per
    if available is not None and need > available:
        what = "weights, gradients and AdamW state in fp32" if trains else "fp32 weights"
        raise ConfigError(key, f"{params:,} parameters need about {need / 2**30:.1f} GiB to "
                          f"{'train' if trains else 'run'} ({per} bytes each: {what}), more than the "
                          f"{available / 2**30:.1f} GiB of memory available; make the model smaller")


def check_tokens(stage, positions: int | None, key: str) -> None:
    """Tokens generated per completion (`eval.max_new_tokens`, `trainer.max_completion_length`) cannot exceed
    the model's context length, or MAX_TOKENS when it is not known: beyond it a run generates for minutes."""
    limit, why = (positions, "the model's max_position_embeddings") if positions else (MAX_TOKENS, "rlft's ceiling")
    for name, value in (("eval.max_new_tokens", stage.eval.max_new_tokens),
                        ("trainer.max_completion_length", stage.trainer.get("max_completion_length"))):
        if type(value) is int and value > limit:
            raise ConfigError(join(key, name), f"must be <= {limit} ({why}), got {value}")


def check_model(recipe, stage, key: str, trains: bool, head: str = "causal") -> None:
    """Build the stage's starting model as a skeleton: its context length bounds the tokens generated, a tiny
    model must fit in memory, and the `lora:` block must find its `target_modules` in it."""
    config = model_config(recipe, stage)
    positions = getattr(config.get_text_config(), "max_position_embeddings", None) if config is not None else None
    check_tokens(stage, positions if isinstance(positions, int) else None, key)
    if config is None or not (stage.lora is not None or stage.model.tiny is not None):
        return
    try:
        model = skeleton(config, head)
    except Exception:  # an architecture transformers cannot build from its config: the stage's load reports it
        return
    if stage.model.tiny is not None:
        count = sum(p.numel() for p in model.parameters())
        check_size(count, trains, join(key, "model.tiny"), available_memory())
    if stage.lora is not None and trains:
        check_targets(model, stage.lora, head, join(key, "lora"))


def check_targets(model, fields: dict, head: str, key: str) -> None:
    """peft's own adapter injection on the skeleton: `target_modules` that match no module are refused with
    the module names the model has."""
    from peft import get_peft_model


    try:
        with quiet(), torch.device("meta"):
            get_peft_model(model, lora_config(fields, "SEQ_CLS" if head == "reward" else "CAUSAL_LM"))
    except (ValueError, TypeError) as e:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ConfigError(join(key, "target_modules"), f"{fields.get('target_modules')!r}: "
                          f"{str(e).strip().splitlines()[0].rstrip('.')}; the model's linear layers: "
                          f"{', '.join(names)}") from None
