"""rlft's PPO against TRL 1.12's `trl.experimental.ppo.PPOTrainer` (the last TRL with a PPO) on the same tiny
model, prompts and reward model, with matching settings: seconds per PPO step and peak memory of each, and
their ratios, in one run. Each trainer runs in a fresh process.

    python bench/ppo_vs_trl.py --steps 10 --batch 16 --length 8 [--hidden 128 --layers 2]

TRL 1.12 is installed on first use into `--trl-dir` (`pip install --no-deps --target`), never into the
project: its child process puts that folder first on `sys.path`, beside the rest of this environment.
Both sides: full fine-tuning (policy, frozen reference, value model) or, with LoRA, TRL's layout (policy
adapter, reference = adapter off, a separate full value model) against rlft's (policy and value adapters on
one base). Both use a reward *model* here because TRL's PPO accepts nothing else.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

from _common import emit

TRL_OLD = "trl==1.12.0"


def build(out: Path, hidden: int, layers: int) -> tuple[Path, Path]:
    """The policy (a tiny Llama, char tokenizer) and a reward model on the same weights (new score head)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    from rlft.core.config import TinyModel
    from rlft.models import build_tiny_model

    logging.set_verbosity_error()  # the new score head is expected to be "missing"
    logging.disable_progress_bar()

    policy = build_tiny_model(TinyModel(hidden_size=hidden, num_layers=layers, num_heads=4, num_kv_heads=2),
                              out / "policy", seed=0)  # fmt: skip
    rm = AutoModelForSequenceClassification.from_pretrained(policy, num_labels=1)
    rm.config.pad_token_id = rm.config.pad_token_id or AutoTokenizer.from_pretrained(policy).pad_token_id
    rm.save_pretrained(out / "rm")
    AutoTokenizer.from_pretrained(policy).save_pretrained(out / "rm")
    return policy, out / "rm"


def prompts(n: int) -> list[str]:
    """The quickstart's task: 2-digit addition problems, as user messages."""
    import random

    from rlft.data.tasks import TASKS, sample_problems

    train, _ = sample_problems(TASKS["arithmetic"], {"digits": 2, "ops": ["+"]}, n, 0, seed=0)
    random.Random(0).shuffle(train)
    return [p for p, _ in train]


def child_trl(args) -> dict:
    sys.path.insert(0, str(args.trl_dir))
    import torch
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    assert trl.__version__ == TRL_OLD.split("==")[1], f"expected {TRL_OLD}, imported {trl.__version__}"
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.policy)
    ids = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True,
                                   return_dict=False) for p in prompts(args.batch * args.steps)]  # fmt: skip
    data = Dataset.from_dict({"input_ids": ids})
    policy = AutoModelForCausalLM.from_pretrained(args.policy)
    peft_config = None
    if args.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    ref = None if args.lora else AutoModelForCausalLM.from_pretrained(args.policy)
    value = AutoModelForSequenceClassification.from_pretrained(args.rm, num_labels=1)
    reward = AutoModelForSequenceClassification.from_pretrained(args.rm, num_labels=1)
    with tempfile.TemporaryDirectory() as tmp:
        config = PPOConfig(
            output_dir=tmp, per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
            num_ppo_epochs=args.epochs, num_mini_batches=args.mini_batches, total_episodes=args.batch * args.steps,
            response_length=args.length, temperature=0.7, stop_token="eos", kl_coef=0.05, learning_rate=3e-4,
            local_rollout_forward_batch_size=args.batch, num_sample_generations=0, bf16=False, use_cpu=True,
            report_to="none", save_strategy="no", logging_steps=args.steps, seed=0, disable_tqdm=True,
        )  # fmt: skip
        trainer = PPOTrainer(args=config, processing_class=tok, model=policy, ref_model=ref, reward_model=reward,
                             train_dataset=data, value_model=value, peft_config=peft_config)  # fmt: skip
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
        steps = trainer.state.global_step
    return {"steps": steps, "train_s": wall}


def child_rlft(args) -> dict:
    import rlft

    trainer = {"max_steps": args.steps, "per_device_train_batch_size": args.batch, "num_ppo_epochs": args.epochs,
               "num_mini_batches": args.mini_batches, "max_completion_length": args.length, "temperature": 0.7,
               "kl_coef": 0.05, "learning_rate": 3e-4, "logging_steps": args.steps}  # fmt: skip
    stage = {"algorithm": "ppo", "model": {"path": str(args.policy)}, "trainer": trainer,
             "rewards": [{"name": "reward_model", "kwargs": {"path": str(args.rm)}}]}  # fmt: skip
    if args.lora:
        stage["lora"] = {"r": 16, "lora_alpha": 32}
    recipe = {"name": "ppo-bench", "seed": 0, "num_threads": args.threads,
              "data": {"task": "arithmetic", "kwargs": {"digits": 2, "ops": ["+"]}, "train_size": 2000,
                       "eval_size": 0},
              "stages": {"ppo": stage}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result = rlft.run(recipe, run_dir=Path(tmp) / "run", echo=lambda s: None)
    summary = result.summary["stages"]["ppo"]
    return {"steps": summary["train"]["global_step"], "train_s": summary["timing"]["train_runtime"]}


def child(args) -> None:
    out = child_trl(args) if args.child == "trl" else child_rlft(args)
    out["step_s"] = out["train_s"] / out["steps"]
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def ensure_trl(path: Path) -> None:
    if (path / "trl" / "__init__.py").exists():
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(path), TRL_OLD],
                   check=True)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10, help="PPO steps (rollout batch + its updates)")
    p.add_argument("--batch", type=int, default=16, help="prompts per rollout")
    p.add_argument("--length", type=int, default=8, help="max completion tokens")
    p.add_argument("--epochs", type=int, default=4, help="PPO epochs per rollout")
    p.add_argument("--mini-batches", type=int, default=1)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layouts", nargs="+", default=["full", "lora"], choices=["full", "lora"])
    p.add_argument("--trl-dir", type=Path, default=Path(tempfile.gettempdir()) / "rlft-bench-trl-1.12")
    p.add_argument("--write", type=Path, help="append the markdown table to this file")
    p.add_argument("--child", choices=["trl", "rlft"])
    p.add_argument("--policy", type=Path)
    p.add_argument("--rm", type=Path)
    p.add_argument("--lora", action="store_true")
    args = p.parse_args()
    if args.child:
        child(args)
        return

    ensure_trl(args.trl_dir)
    lines = [f"`python bench/ppo_vs_trl.py --steps {args.steps} --batch {args.batch} --length {args.length} "
             f"--hidden {args.hidden} --layers {args.layers}` ({date.today()}, {platform.machine()}, "
             f"{args.threads} threads, torch {metadata.version('torch')}, transformers "
             f"{metadata.version('transformers')}, {TRL_OLD} vs rlft {metadata.version('rlft')}):", "",
             "| layout | trainer | s per step | peak RSS MB |", "| --- | --- | --- | --- |"]  # fmt: skip
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        policy, rm = build(Path(tmp), args.hidden, args.layers)
        common = ["--policy", str(policy), "--rm", str(rm), "--trl-dir", str(args.trl_dir)]
        for name in ("steps", "batch", "length", "epochs", "mini_batches", "threads"):
            common += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        for layout in args.layouts:
            rows = {}
            for kind in ("trl", "rlft"):
                cmd = [sys.executable, __file__, "--child", kind, *common, *(["--lora"] if layout == "lora" else [])]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{kind} ({layout}) failed:\n{done.stderr[-3000:]}")
                rows[kind] = json.loads(done.stdout.strip().splitlines()[-1])
                print(layout, kind, rows[kind], flush=True)
                lines.append(f"| {layout} | {'TRL 1.12 PPOTrainer' if kind == 'trl' else 'rlft ppo'} | "
                             f"{rows[kind]['step_s']:.3f} | {rows[kind]['peak_mb']:.0f} |")
            ratios.append(f"{layout}: rlft / TRL time {rows['rlft']['step_s'] / rows['trl']['step_s']:.2f}x, "
                          f"peak memory {rows['rlft']['peak_mb'] / rows['trl']['peak_mb']:.2f}x")
    lines += ["", *[f"- {r}" for r in ratios]]
    table = "\n".join(lines)
    emit(table, args.write)


if __name__ == "__main__":
    main()
