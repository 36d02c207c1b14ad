"""Offline, CPU, single-threaded (thread count changes floating-point results; see determinism tests)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny Llama + character tokenizer, built once per session."""
    from rlft.core.config import TinyModel
    from rlft.models import build_tiny_model

    return build_tiny_model(TinyModel(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1),
                            tmp_path_factory.mktemp("tiny"), seed=0)


def smoke_recipe(**stages) -> dict:
    """A recipe mapping on 1-digit addition with the given stages (tiny model sizes, a handful of steps)."""
    return {
        "name": "smoke",
        "seed": 0,
        "num_threads": 1,
        "data": {"task": "arithmetic", "kwargs": {"digits": 1}, "train_size": 64, "eval_size": 16},
        "stages": stages,
    }


TINY = {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1}}
SFT = {"algorithm": "sft", "model": TINY,
       "trainer": {"max_steps": 3, "per_device_train_batch_size": 8, "logging_steps": 1}}
GRPO = {"algorithm": "grpo", "rewards": ["numeric_match"],
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 8, "num_generations": 4,
                    "max_completion_length": 4, "logging_steps": 1, "learning_rate": 1e-4}}
EVAL = {"algorithm": "eval", "eval": {"max_new_tokens": 4}}


def digit_fraction(completions, **kwargs):
    """A reward a random-init model can climb quickly: the fraction of digits in the completion."""
    texts = [c[-1]["content"] for c in completions]
    return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]
