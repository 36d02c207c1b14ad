"""rlft's overhead: each TRL-backed stage run through `rlft.run` against the same TRL trainer constructed and
trained directly, on the same tiny model, the same data rows and the same config values; wall-time ratios
(rlft / TRL) measured in one run. Each side runs in a fresh process; repeats are interleaved.

    python bench/overhead.py --stages sft grpo dpo kto rloo reward_model --steps 100 --repeats 3

Side A (`rlft`): a one-stage recipe with `model.path` set to a prebuilt tiny Llama, evaluation off
(`eval_size: 0`). Side B (`trl`): the script below builds the rows with `rlft.data.load_splits` (the same
rows A trains on), loads the model with `from_pretrained`, writes the TRL config out explicitly and asserts it
equals the one rlft builds (`rlft.stages.trainer_config.make_trainer_config`), calls `trainer.train()` and saves the
model with `trainer.save_model`. Both report TRL's own `train_runtime` (the time inside `train()`) and a
"stage" time: A's `wall_s` (data, model load, trainer, train, save), B's span over the same steps. A's
`rlft.run` call as a whole (recipe checks, run folder, env.json, stage summary, plots and report.md) is
given beside them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

from _common import build_tiny, child_env, emit, loadavg

# Per-stage `trainer:` blocks (tiny sizes; `max_steps` comes from --steps) and whether the stage uses rewards.
TRAINER = {
    "sft": {"per_device_train_batch_size": 16, "learning_rate": 1e-3},
    "dpo": {"per_device_train_batch_size": 16, "learning_rate": 1e-4},
    "kto": {"per_device_train_batch_size": 16, "learning_rate": 1e-4},
    "reward_model": {"per_device_train_batch_size": 16, "learning_rate": 1e-4},
    "grpo": {"per_device_train_batch_size": 32, "num_generations": 8, "max_completion_length": 5,
             "temperature": 1.0, "beta": 0.0, "learning_rate": 1e-4},
    "rloo": {"per_device_train_batch_size": 32, "num_generations": 8, "max_completion_length": 5,
             "temperature": 1.0, "beta": 0.0, "learning_rate": 1e-4},
}  # fmt: skip
REWARDED = ("grpo", "rloo")
TRL_CLASSES = {  # stage -> (trainer, config) class names in `trl`
    "sft": ("SFTTrainer", "SFTConfig"),
    "dpo": ("DPOTrainer", "DPOConfig"),
    "kto": ("KTOTrainer", "KTOConfig"),
    "reward_model": ("RewardTrainer", "RewardConfig"),
    "grpo": ("GRPOTrainer", "GRPOConfig"),
    "rloo": ("RLOOTrainer", "RLOOConfig"),
}


def recipe(stage: str, model: str, steps: int, threads: int) -> dict:
    trainer = {**TRAINER[stage], "max_steps": steps}
    spec = {"algorithm": stage, "model": {"path": model}, "trainer": trainer}
    if stage in REWARDED:
        spec["rewards"] = ["numeric_match"]
    return {"name": f"overhead-{stage}", "seed": 0, "num_threads": threads,
            "data": {"task": "arithmetic", "kwargs": {"digits": 2, "ops": ["+"]}, "train_size": 2000, "eval_size": 0},
            "stages": {stage: spec}}  # fmt: skip


def child_rlft(args) -> dict:
    import rlft

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = rlft.run(recipe(args.stage, args.model, args.steps, args.threads), run_dir=Path(tmp) / "run",
                          echo=lambda s: None)  # fmt: skip
        run_s = time.perf_counter() - start
    summary = result.summary["stages"][args.stage]
    return {"train_s": summary["timing"]["train_runtime"], "stage_s": summary["wall_s"], "run_s": run_s,
            "steps": summary["train"]["global_step"]}  # fmt: skip


def child_trl(args) -> dict:
    import torch
    import trl
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from rlft.core.tracking import seed_everything
    from rlft.data import load_splits
    from rlft.rewards import resolve
    from rlft.runner.recipe import load_recipe
    from rlft.stages import ALGORITHMS
    from rlft.stages.trainer_config import device_defaults, make_trainer_config

    torch.set_num_threads(args.threads)
    stage = args.stage
    trainer_cls, config_cls = (getattr(trl, name) for name in TRL_CLASSES[stage])
    spec = recipe(stage, args.model, args.steps, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / stage / "trainer"
        # The config written out: rlft's fixed values, its device defaults, the stage's defaults, the trainer block.
        block = spec["stages"][stage]["trainer"]
        explicit = {"output_dir": str(out), "seed": 0, "report_to": "none", "save_strategy": "no",
                    "logging_steps": 10, "disable_tqdm": True, **device_defaults(block)}  # fmt: skip
        defaults = {"reward_weights": [1.0]} if stage in REWARDED else {}
        config = config_cls(**explicit, **defaults, **block)
        parsed = load_recipe(spec)  # ... and the one rlft builds from the recipe: they must match
        assert config.to_dict() == make_trainer_config(config_cls, parsed.stages[stage], out, 0, **defaults).to_dict()

        seed_everything(0)  # as the pipeline does before each stage
        start = time.perf_counter()
        train, _ = load_splits(parsed.stage_data(stage), 0, "data", ALGORITHMS[stage].data)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        kwargs = {}
        if stage == "reward_model":
            model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=1, dtype=torch.float32)
            model.config.pad_token_id = model.config.pad_token_id or tokenizer.pad_token_id
        else:
            model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
        if stage in REWARDED:
            train = train.remove_columns("completion")
            kwargs["reward_funcs"] = [resolve("numeric_match")]
        trainer = trainer_cls(model=model, args=config, train_dataset=train, processing_class=tokenizer, **kwargs)
        result = trainer.train()
        trainer.save_model(str(Path(tmp) / stage / "model"))
        stage_s = time.perf_counter() - start
    return {"train_s": result.metrics["train_runtime"], "stage_s": stage_s, "run_s": None,
            "steps": trainer.state.global_step}  # fmt: skip


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def table(results: dict, args, loads: tuple[str, str]) -> str:
    lines = [
        f"`python bench/overhead.py --stages {' '.join(args.stages)} --steps {args.steps} --repeats {args.repeats} "
        f"--threads {args.threads}` ({date.today()}; {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{loads[0]} at start and {loads[1]} at end (a shared, busy machine); torch {metadata.version('torch')}, "
        f"transformers {metadata.version('transformers')}, trl {metadata.version('trl')}, rlft "
        f"{metadata.version('rlft')}; tiny Llama hidden {args.hidden}, {args.layers} layers, char tokenizer; "
        f"medians of {args.repeats} fresh processes per side):",
        "",
        "| stage | steps | train() s: rlft | TRL | **rlft / TRL** | stage s: rlft | TRL | **rlft / TRL** "
        "| rlft.run() s | rlft.run / TRL stage |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stage, sides in results.items():
        a, b = sides["rlft"], sides["trl"]
        ta, tb, sa, sb, ra = (median(a, "train_s"), median(b, "train_s"), median(a, "stage_s"),
                              median(b, "stage_s"), median(a, "run_s"))  # fmt: skip
        lines.append(f"| {stage} | {a[0]['steps']} | {ta:.2f} | {tb:.2f} | **{ta / tb:.3f}** | {sa:.2f} | {sb:.2f} "
                     f"| **{sa / sb:.3f}** | {ra:.2f} | {ra / sb:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", nargs="+", default=["sft", "grpo", "dpo"], choices=list(TRAINER))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per side and stage (interleaved)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in each child")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--write", type=Path, help="append the markdown table to this file")
    p.add_argument("--child", choices=["rlft", "trl"])
    p.add_argument("--stage", choices=list(TRAINER))
    p.add_argument("--model")
    args = p.parse_args()
    if args.child:
        out = child_rlft(args) if args.child == "rlft" else child_trl(args)
        print(json.dumps(out))
        return

    start_load = loadavg()
    env = child_env(args.threads)
    results: dict = {s: {"rlft": [], "trl": []} for s in args.stages}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny(Path(tmp) / "model", args.hidden, args.layers)
        for r in range(args.repeats):
            for stage in args.stages:
                order = ("rlft", "trl") if r % 2 == 0 else ("trl", "rlft")  # A B, then B A: no side always first
                for side in order:
                    cmd = [sys.executable, __file__, "--child", side, "--stage", stage, "--model", str(model),
                           "--steps", str(args.steps), "--threads", str(args.threads)]  # fmt: skip
                    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if done.returncode:
                        sys.exit(f"{side} ({stage}) failed:\n{done.stderr[-3000:]}")
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    results[stage][side].append(row)
                    print(f"repeat {r} {stage} {side}: {row}", flush=True)
    text = table(results, args, (start_load, loadavg()))
    emit(text, args.write)


if __name__ == "__main__":
    main()
