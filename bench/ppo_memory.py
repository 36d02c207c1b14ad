"""Peak memory of one LoRA PPO step (rlft) vs one LoRA GRPO step (TRL) on a model with Qwen2.5-0.5B's shapes
(random weights, built locally), on the CPU. Each runs in a fresh process; the figure is its peak RSS.

    python bench/ppo_memory.py --completion-length 32 --batch 8

Goal (issue): PPO at most 1.25x GRPO's peak. PPO keeps one base model for policy, reference and value
(two LoRA adapters plus a scalar head); GRPO with beta 0 keeps only the policy.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import build_qwen05b_shapes


def child(kind: str, model: str, batch: int, length: int) -> None:
    import rlft

    coin = [{"name": "random_reward", "kwargs": {"seed": 0}}]
    trainer = {"max_steps": 1, "learning_rate": 1e-4, "max_completion_length": length, "logging_steps": 1,
               "per_device_train_batch_size": batch}
    if kind == "grpo":
        trainer.update(num_generations=4)
    else:
        trainer.update(num_ppo_epochs=1, num_mini_batches=1)
    recipe = {"name": f"mem-{kind}", "seed": 0, "num_threads": 2,
              "data": {"task": "arithmetic", "kwargs": {"digits": 2}, "train_size": 64, "eval_size": 8},
              "stages": {"s": {"algorithm": kind, "model": {"path": model}, "rewards": coin,
                               "lora": {"r": 16, "lora_alpha": 32}, "trainer": trainer}}}
    with tempfile.TemporaryDirectory() as tmp:
        result = rlft.run(recipe, run_dir=Path(tmp) / "run", echo=lambda s: None)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "peak_mb": peak_mb, "wall_s": result.summary["stages"]["s"]["wall_s"]}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8, help="completions per step (PPO: prompts; GRPO: 2 x 4)")
    p.add_argument("--completion-length", type=int, default=32)
    p.add_argument("--child", choices=["ppo", "grpo"])
    p.add_argument("--model")
    args = p.parse_args()
    if args.child:
        child(args.child, args.model, args.batch, args.completion_length)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = build_qwen05b_shapes(Path(tmp) / "qwen05b-shapes")
        rows = {}
        for kind in ("grpo", "ppo"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, "--model", str(model), "--batch",
                                  str(args.batch), "--completion-length", str(args.completion_length)],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            rows[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            print(rows[kind], flush=True)
    ratio = rows["ppo"]["peak_mb"] / rows["grpo"]["peak_mb"]
    print(f"| step (LoRA r16, {args.batch} completions x {args.completion_length} tokens) | peak RSS MB | wall s |")
    print("| --- | --- | --- |")
    for kind in ("grpo", "ppo"):
        print(f"| {kind} | {rows[kind]['peak_mb']:.0f} | {rows[kind]['wall_s']:.1f} |")
    print(f"PPO / GRPO peak memory: {ratio:.2f}x")


if __name__ == "__main__":
    main()
