"""Sweep GRPO settings from the quickstart's SFT checkpoints and print held-out accuracy per variant.

    python bench/grpo_sweep.py --write docs/grpo_sweep.md            # all variants, seed 0
    python bench/grpo_sweep.py --seeds 0 1 2 3 4 --variants base lr3e-4_t0.7_b128

For each seed the SFT stage of recipes/quickstart.yaml runs once; each variant then runs the quickstart's GRPO
stage from that checkpoint with some trainer fields changed, evaluating every 50 steps. Variants name every
field they change, so they keep their meaning when the recipe's own GRPO settings change.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

import rlft

# name -> changes to stages.grpo.trainer of the quickstart ("base": the recipe as it is)
VARIANTS = {
    "base": {},
    "lr3e-4_t0.7_b128": {"learning_rate": 3e-4, "temperature": 0.7},  # the quickstart's GRPO before 2026-11-24
    "lr2e-4_t1.0_b128": {"learning_rate": 2e-4, "temperature": 1.0},
    "lr1e-4_t1.0_b64": {"learning_rate": 1e-4, "temperature": 1.0, "per_device_train_batch_size": 64},
    "lr3e-4_t1.0_b256": {"learning_rate": 3e-4, "temperature": 1.0, "per_device_train_batch_size": 256},
    "lr1e-4_t1.0_b128_iter2": {"learning_rate": 1e-4, "temperature": 1.0, "num_iterations": 2},
    "lr2e-4_t1.0_b128_g16": {"learning_rate": 2e-4, "temperature": 1.0, "num_generations": 16},
    "lr3e-4_t0.7_b128_beta0.04": {"learning_rate": 3e-4, "temperature": 0.7, "beta": 0.04},
    "lr1e-3_t1.0_b64": {"learning_rate": 1e-3, "temperature": 1.0, "per_device_train_batch_size": 64},
    "lr3e-4_t0.5_b128": {"learning_rate": 3e-4, "temperature": 0.5},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--write", type=Path)
    args = p.parse_args()

    base = yaml.safe_load(Path("recipes/quickstart.yaml").read_text())
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
                grpo["trainer"].update({"max_steps": args.steps, **VARIANTS[name]})
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
        f"--seeds {' '.join(map(str, args.seeds))} --steps {args.steps}`.",
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
