"""Sweep GRPO settings from one SFT checkpoint of the quickstart and print held-out accuracy per variant.

    python bench/grpo_sweep.py --write docs/grpo_sweep.md            # all variants (~10 min on 2 cores)
    python bench/grpo_sweep.py --variants base lr3e-4_t0.7_b128

The SFT stage of recipes/quickstart.yaml runs once (seed 0); each variant then runs the quickstart's GRPO
stage from that checkpoint with some trainer fields changed, evaluating every 50 steps.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

import rlft

# name -> changes to stages.grpo.trainer of the quickstart
VARIANTS = {
    "base": {},
    "lr1e-4_t1.0_b64": {"learning_rate": 1e-4, "temperature": 1.0, "per_device_train_batch_size": 64},
    "lr3e-4_t1.0_b64": {"learning_rate": 3e-4, "temperature": 1.0, "per_device_train_batch_size": 64},
    "lr1e-3_t1.0_b64": {"learning_rate": 1e-3, "temperature": 1.0, "per_device_train_batch_size": 64},
    "lr3e-4_t0.5_b128": {"temperature": 0.5},
    "lr5e-4_t0.7_b128": {"learning_rate": 5e-4},
    "lr3e-4_t0.7_b128_iter2": {"num_iterations": 2},
    "lr3e-4_t0.7_b128_beta0.04": {"beta": 0.04},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--write", type=Path)
    args = p.parse_args()

    base = yaml.safe_load(Path("recipes/quickstart.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        sft = {**base, "stages": {"sft": base["stages"]["sft"], "eval_sft": base["stages"]["eval_sft"]}}
        start = rlft.run(sft, run_dir=Path(tmp) / "sft", echo=lambda s: None)
        start_acc = start.summary["stages"]["eval_sft"]["eval"]["accuracy"]
        model_dir = str(start.path / "sft" / "model")
        rows = []
        for name in args.variants:
            grpo = yaml.safe_load(yaml.safe_dump(base["stages"]["grpo"]))
            grpo["model"] = {"path": model_dir}
            grpo["trainer"].update({"max_steps": args.steps, **VARIANTS[name]})
            grpo["eval"] = {"every": 50, "max_new_tokens": 5, "batch_size": 200}
            recipe = {**base, "name": name, "stages": {"grpo": grpo}}
            result = rlft.run(recipe, run_dir=Path(tmp) / name, echo=lambda s: None)
            stage = result.summary["stages"]["grpo"]
            curve = " ".join(f"{h['accuracy']:.3f}" for h in stage["eval_history"])
            rows.append(f"| {name} | {start_acc:.3f} | {curve} | {stage['wall_s']:.0f} |")
            print(rows[-1], flush=True)
    text = "\n".join([
        f"GRPO variants from one quickstart SFT checkpoint (seed 0), {args.steps} steps, held-out greedy "
        "accuracy every 50 steps. Command: `python bench/grpo_sweep.py`.",
        "",
        "| variant | start | accuracy every 50 steps | wall s |",
        "| --- | --- | --- | --- |",
        *rows,
    ])  # fmt: skip
    print(text)
    if args.write:
        args.write.write_text(text + "\n")


if __name__ == "__main__":
    main()
