"""Sweep GRPO settings from the quickstart's SFT checkpoints and print held-out accuracy per variant.

    python bench/grpo_sweep.py --write docs/grpo_sweep.md            # all variants, seed 0
    python bench/grpo_sweep.py --seeds 0 1 2 3 4 --variants base lr3e-4_cosine --threads 1
    python bench/grpo_sweep.py --sft-stop 0.55 --variants lr1e-4_constant lr1e-4_constant_t0.7   # a later start

For each seed the SFT stage of recipes/quickstart.yaml runs once; each variant then runs the quickstart's GRPO
stage from that checkpoint with some trainer fields changed, evaluating every 50 steps. Variants name every
field they change, so they keep their meaning when the recipe's own GRPO settings change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

import rlft

# name -> changes to stages.grpo.trainer of the quickstart ("base": the recipe as it is)
VARIANTS = {
    "base": {},
    "lr1e-4_constant": {"learning_rate": 1e-4, "lr_scheduler_type": "constant"},  # the GRPO stage until 2026-11-24
    "lr2e-4_constant": {"learning_rate": 2e-4, "lr_scheduler_type": "constant"},
    "lr2e-4_cosine": {"learning_rate": 2e-4, "lr_scheduler_type": "cosine"},
    "lr3e-4_cosine": {"learning_rate": 3e-4, "lr_scheduler_type": "cosine"},
    "lr2e-4_cosine_s400": {"learning_rate": 2e-4, "lr_scheduler_type": "cosine", "max_steps": 400},
    "lr2e-4_cosine_b64_s500": {"learning_rate": 2e-4, "lr_scheduler_type": "cosine",
                               "per_device_train_batch_size": 64, "max_steps": 500},
    "lr2e-4_cosine_scale_batch": {"learning_rate": 2e-4, "lr_scheduler_type": "cosine", "scale_rewards": "batch"},
    "lr2e-4_cosine_t0.8": {"learning_rate": 2e-4, "lr_scheduler_type": "cosine", "temperature": 0.8},
    "lr1e-4_constant_t0.7": {"learning_rate": 1e-4, "lr_scheduler_type": "constant", "temperature": 0.7},
    "lr1e-4_constant_scale_batch": {"learning_rate": 1e-4, "lr_scheduler_type": "constant", "scale_rewards": "batch"},
    "lr1e-4_constant_iter2": {"learning_rate": 1e-4, "lr_scheduler_type": "constant", "num_iterations": 2},
    "lr1e-4_constant_g16": {"learning_rate": 1e-4, "lr_scheduler_type": "constant", "num_generations": 16},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--sft-stop", type=float, help="the SFT stage's eval.stop_at_accuracy (default: the recipe's)")
    p.add_argument("--threads", type=int, help="num_threads (default: the recipe's)")
    p.add_argument("--write", type=Path)
    args = p.parse_args()

    base = yaml.safe_load(Path("recipes/quickstart.yaml").read_text())
    if args.sft_stop is not None:
        base["stages"]["sft"]["eval"]["stop_at_accuracy"] = args.sft_stop
    if args.threads is not None:
        base["num_threads"] = args.threads
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            warmup = {name: base["stages"][name] for name in ("sft", "eval_sft")}
            sft = {**base, "seed": seed, "stages": warmup}
            start = rlft.run(sft, run_dir=Path(tmp) / f"sft-s{seed}", echo=lambda s: None)
            start_acc = start.summary["stages"]["eval_sft"]["eval"]["accuracy"]
            model_dir = str(start.path / "sft" / "model")
            for name in args.variants:
                grpo = yaml.safe_load(yaml.safe_dump(base["stages"]["grpo"]))
                grpo["model"] = {"path": model_dir}
                grpo["trainer"].update({"max_steps": args.steps, **VARIANTS[name]})  # a variant may set its own
                grpo["eval"] = {"every": 50, "max_new_tokens": 5, "batch_size": 200}
                recipe = {**base, "name": name, "seed": seed, "stages": {"grpo": grpo}}
                result = rlft.run(recipe, run_dir=Path(tmp) / f"{name}-s{seed}", echo=lambda s: None)
                stage = result.summary["stages"]["grpo"]
                curve = " ".join(f"{h['accuracy']:.3f}" for h in stage["eval_history"])
                rows.append(f"| {name} | {seed} | {start_acc:.3f} | {curve} | {stage['wall_s']:.0f} |")
                print(rows[-1], flush=True)
    text = "\n".join([
        f"GRPO variants from the quickstart's SFT checkpoints (seeds {' '.join(map(str, args.seeds))}), "
        f"{args.steps} steps, held-out greedy accuracy every 50 steps. Command: `python bench/grpo_sweep.py "
        f"{' '.join(sys.argv[1:])}`.",
        "",
        "| variant | seed | start | accuracy every 50 steps | wall s |",
        "| --- | --- | --- | --- | --- |",
        *rows,
    ])  # fmt: skip
    print(text)
    if args.write:
        args.write.write_text(text + "\n")


if __name__ == "__main__":
    main()
