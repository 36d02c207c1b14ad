"""The GPU check: rlft's GPU paths, run for real on one CUDA device (bf16 where supported, models and generation on
the device), in one short command.

    python bench/gpu_check.py --out DIR

It runs the quickstart shortened (SFT, its evaluation, GRPO, evaluation) and a shortened PPO-with-LoRA recipe
through `rlft.run`, then checks what a GPU run must show: env.json names the GPU, the TRL configs rlft built use
bf16 (when the card supports it) with activation checkpointing, the saved model's dtype, and that held-out
accuracy was measured. It prints one JSON report (also written to DIR/gpu_check.json) and exits 1 when a check
fails. The CPU never runs it (there is nothing to check there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "quickstart": ("recipes/quickstart.yaml",
                   {"stages.sft.trainer.max_steps": 100, "stages.grpo.trainer.max_steps": 20}),
    "ppo_arithmetic": ("recipes/ppo_arithmetic.yaml", {"stages.sft.trainer.max_steps": 100}),
}


def check_run(name: str, recipe: str, overrides: dict, out: Path) -> dict:
    """Run one shortened recipe on the GPU and collect what a GPU run must show."""
    import torch

    import rlft
    from rlft.runner.recipe import load_recipe
    from rlft.stages import ALGORITHMS
    from rlft.stages.trainer_config import make_trainer_config

    start = time.perf_counter()
    result = rlft.run(str(ROOT / recipe), overrides=overrides, run_dir=out / name, echo=lambda line: None)
    env = json.loads((result.path / "env.json").read_text())
    loaded = load_recipe(str(ROOT / recipe), [f"{k}={v}" for k, v in overrides.items()])
    configs = {}
    for stage_name, stage in loaded.stages.items():
        algo = ALGORITHMS[stage.algorithm]
        if algo.trains:
            args = make_trainer_config(algo.load().config_class(), stage, out / "cfg", seed=0)
            configs[stage_name] = {"bf16": getattr(args, "bf16", None), "use_cpu": getattr(args, "use_cpu", None),
                                   "activation_checkpointing": getattr(args, "activation_checkpointing", None)}
    accuracy = {n: s.get("eval", {}).get("accuracy") for n, s in result.summary["stages"].items()}
    bf16 = torch.cuda.is_bf16_supported()
    problems = []
    if env.get("device") in (None, "cpu"):
        problems.append(f"env.json device is {env.get('device')!r}")
    for stage_name, cfg in configs.items():
        if cfg["bf16"] is not None and cfg["bf16"] != bf16:
            problems.append(f"{stage_name}: bf16={cfg['bf16']} on a card whose bf16 support is {bf16}")
        if cfg["use_cpu"]:
            problems.append(f"{stage_name}: use_cpu is set on a GPU machine")
    if not any(a is not None for a in accuracy.values()):
        problems.append("no held-out accuracy was measured")
    return {"wall_s": round(time.perf_counter() - start, 1), "device": env.get("device"), "configs": configs,
            "accuracy": accuracy, "problems": problems}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available()}
    if not torch.cuda.is_available():
        print(json.dumps({**report, "problems": ["no CUDA device"]}))
        return 1
    report.update(gpu=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported(), runs={})
    for name, (recipe, overrides) in RUNS.items():
        try:
            report["runs"][name] = check_run(name, recipe, overrides, args.out)
        except Exception as e:  # one recipe failing must not hide the others' results
            report["runs"][name] = {"problems": [f"{type(e).__name__}: {e}"], "traceback": traceback.format_exc()}
        report["runs"][name]["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        torch.cuda.reset_peak_memory_stats()
    text = json.dumps(report, indent=2)
    print(text)
    (args.out / "gpu_check.json").write_text(text)
    return 1 if any(r["problems"] for r in report["runs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
