"""Step time and peak memory of every training algorithm, with and without LoRA and gradient checkpointing,
on the tiny model and on a model with Qwen2.5-0.5B's shapes (random weights, built locally).

    python bench/step_cost.py --sizes tiny qwen0.5b --steps 4 --write docs/benchmarks.md

Each configuration is one `rlft.run` of a one-stage recipe in a fresh process (bench/_measure.py) with
`num_threads: 1`; the table gives the median time of the steps after the first `--warmup` and the peak RSS
of that process. A configuration that fails, runs out of memory (`--mem-gb` caps each process's address
space) or out of time (`--timeout`) gets a row saying so; the others still run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import (
    build_qwen05b_shapes,
    build_tiny,
    command_line,
    count_parameters,
    emit,
    environment,
    loadavg,
    measure,
)

ALGORITHMS = ("sft", "reward_model", "dpo", "kto", "grpo", "rloo", "online_dpo", "ppo")
ONLINE = ("grpo", "rloo", "online_dpo", "ppo")
SIZES = {"tiny": "tiny Llama (hidden 128, 2 layers, 4 heads, 2 kv heads)",
         "qwen0.5b": "Qwen2.5-0.5B's shapes as a LlamaForCausalLM (hidden 896, 24 layers, 14 heads, 2 kv heads, "
                     "MLP 4864, vocabulary 151936, tied embeddings), random weights"}  # fmt: skip
LAYOUTS = {"full": (False, False), "LoRA": (True, False), "full + ckpt": (False, True), "LoRA + ckpt": (True, True)}
LAYOUT_FLAGS = {"full": "full", "lora": "LoRA", "ckpt": "full + ckpt", "lora+ckpt": "LoRA + ckpt"}
LORA = {"r": 16, "lora_alpha": 32}  # all linear layers (rlft's default target)


def trainer_block(algorithm: str, args, checkpointing: bool) -> dict:
    """The stage's `trainer:` block: `--batch` rows or prompts a step; online algorithms sample `--generations`
    completions per prompt (online DPO always 2; PPO gets batch x generations prompts, one completion each) of
    exactly `--completion-length` tokens where the trainer can force it (`min_new_tokens`)."""
    block = {"max_steps": args.steps, "logging_steps": 1, "learning_rate": 1e-5,
             "per_device_train_batch_size": args.batch}  # fmt: skip
    length = {"max_completion_length": args.completion_length}
    forced = {"generation_kwargs": {"min_new_tokens": args.completion_length}}
    if algorithm in ("grpo", "rloo"):
        block.update(length, **forced, num_generations=args.generations,
                     per_device_train_batch_size=args.batch * args.generations)  # fmt: skip
    elif algorithm == "online_dpo":
        block.update(forced, max_new_tokens=args.completion_length)
    elif algorithm == "ppo":  # rlft's generate has no min_new_tokens: lengths are the model's own (logged)
        block.update(length, per_device_train_batch_size=args.batch * args.generations, num_ppo_epochs=1)
    if checkpointing:
        block["activation_checkpointing"] = True
    return block


def recipe(algorithm: str, model: Path, args, lora: bool, checkpointing: bool) -> dict:
    spec = {"algorithm": algorithm, "model": {"path": str(model)}, "trainer": trainer_block(algorithm, args,
                                                                                          checkpointing)}
    if lora:
        spec["lora"] = LORA
    if algorithm in ONLINE:
        spec["rewards"] = ["numeric_match"]
    data = {"task": "arithmetic", "kwargs": {"digits": args.digits, "ops": ["+"]}, "train_size": 512,
            "eval_size": 0}  # fmt: skip
    return {"name": f"cost-{algorithm}", "seed": 0, "num_threads": 1, "data": data, "stages": {algorithm: spec}}


def run_all(args) -> dict:
    """{size: {"params": n, "rows": {(algorithm, layout): result}}}, printing each result as it comes."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            model = (build_tiny(Path(tmp) / size, 128, 2) if size == "tiny"
                     else build_qwen05b_shapes(Path(tmp) / size))  # fmt: skip
            rows = {}
            for algorithm in args.algorithms:
                for name in args.layouts:
                    lora, ckpt = LAYOUTS[name]
                    start = time.perf_counter()
                    row = measure(recipe(algorithm, model, args, lora, ckpt), algorithm, timeout=args.timeout,
                                  mem_gb=args.mem_gb, warmup=args.warmup)  # fmt: skip
                    rows[algorithm, name] = row
                    print(f"{size} {algorithm} {name}: {row} ({time.perf_counter() - start:.0f} s)", flush=True)
            results[size] = {"params": count_parameters(model), "rows": rows}
    return results


def cell(row: dict, base: dict | None) -> tuple[str, str]:
    """(time, memory) cells; beside a layout other than full fine-tuning, its ratio to full fine-tuning."""
    if "error" in row:
        return row["error"], "-"
    t, m = f"{row['median_s']:.3f}", f"{row['peak_mb']:,.0f}"
    if base is not None and "error" not in base:
        t += f" ({row['median_s'] / base['median_s']:.2f}x)"
        m += f" ({row['peak_mb'] / base['peak_mb']:.2f}x)"
    return t, m


def size_table(size: str, result: dict, args) -> list[str]:
    layouts = args.layouts
    head = " | ".join(f"{name}: s/step | peak RSS MB" for name in layouts)
    lines = [f"**{size}**: {SIZES[size]}, {result['params'] / 1e6:.2f}M parameters.", "",
             f"| algorithm | {head} | tokens/completion |", "| --- " * (2 + 2 * len(layouts)) + "|"]  # fmt: skip
    for algorithm in args.algorithms:
        rows = result["rows"]
        base = rows.get((algorithm, "full"))
        cells = [c for name in layouts for c in cell(rows[algorithm, name], None if name == "full" else base)]
        length = rows[algorithm, layouts[0]].get("completions/mean_length")
        lines.append(f"| {algorithm} | {' | '.join(cells)} | {'-' if length is None else f'{length:.1f}'} |")
    return lines


def growth_table(results: dict, args) -> list[str]:
    """Largest size against the tiny one, full fine-tuning: how much a step and the peak grow."""
    big = args.sizes[-1]
    lines = [f"| algorithm | tiny s/step | {big} s/step | time ratio | tiny MB | {big} MB | memory ratio |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for algorithm in args.algorithms:
        a, b = results["tiny"]["rows"][algorithm, "full"], results[big]["rows"][algorithm, "full"]
        t = [f"{r['median_s']:.3f}" if "error" not in r else r["error"] for r in (a, b)]
        m = [f"{r['peak_mb']:,.0f}" if "error" not in r else "-" for r in (a, b)]
        ratios = ("-", "-")
        if "error" not in a and "error" not in b:
            ratios = (f"{b['median_s'] / a['median_s']:.0f}x", f"{b['peak_mb'] / a['peak_mb']:.1f}x")
        lines.append(f"| {algorithm} | {t[0]} | {t[1]} | {ratios[0]} | {m[0]} | {m[1]} | {ratios[1]} |")
    return lines


def report(results: dict, args, loads: tuple[str, str], minutes: float) -> str:
    lines = [
        f"`{command_line()}`", "",
        f"{environment()}. Load average (1/5/15 min) {loads[0]} at the start, {loads[1]} at the end; the whole "
        f"run took {minutes:.1f} min. Each configuration: a fresh process, `num_threads: 1`, "
        f"`OMP_NUM_THREADS=1`, {args.steps} steps, median of steps {args.warmup + 1}-{args.steps}; "
        f"{args.batch} rows or prompts a step, online algorithms {args.generations} completions per prompt "
        f"(online DPO 2; PPO {args.batch * args.generations} prompts x 1) of {args.completion_length} new tokens; "
        f"{args.digits}-digit addition; LoRA r {LORA['r']} on all linear layers; ckpt = "
        "`activation_checkpointing: true`. Ratios in brackets are against full fine-tuning of the same algorithm.",
        "",
    ]  # fmt: skip
    for size in args.sizes:
        lines += size_table(size, results[size], args) + [""]
    if "tiny" in results and len(results) > 1 and "full" in args.layouts:
        lines += growth_table(results, args) + [""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["tiny", "qwen0.5b"], choices=list(SIZES))
    p.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    p.add_argument("--steps", type=int, default=4, help="training steps per configuration")
    p.add_argument("--warmup", type=int, default=1, help="first steps left out of the median (at least 1)")
    p.add_argument("--batch", type=int, default=2, help="rows (offline) or prompts (online) per step")
    p.add_argument("--generations", type=int, default=2, help="completions per prompt (GRPO, RLOO; PPO prompts)")
    p.add_argument("--completion-length", type=int, default=16)
    p.add_argument("--digits", type=int, default=6, help="operand digits: 6 gives 15-token prompts")
    p.add_argument("--layouts", nargs="+", default=list(LAYOUT_FLAGS), choices=list(LAYOUT_FLAGS),
                   help="full fine-tuning, LoRA, each with gradient checkpointing (ckpt)")
    p.add_argument("--timeout", type=float, default=300, help="seconds allowed per configuration")
    p.add_argument("--mem-gb", type=float, default=20, help="address-space cap per configuration (GiB)")
    p.add_argument("--write", type=Path, help="append the markdown to this file")
    args = p.parse_args()
    args.layouts = [LAYOUT_FLAGS[name] for name in args.layouts]
    if args.steps < args.warmup + 1 or args.warmup < 1:
        p.error("need --warmup >= 1 and --steps > --warmup (step 1 is never timed)")

    start_load, start = loadavg(), time.perf_counter()
    results = run_all(args)
    text = report(results, args, (start_load, loadavg()), (time.perf_counter() - start) / 60)
    emit(text, args.write)


if __name__ == "__main__":
    main()
