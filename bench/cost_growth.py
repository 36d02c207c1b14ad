"""How a GRPO step's time and peak memory grow with `num_generations`, completion length and model size:
three sweeps around one base point, a markdown table per sweep and one PNG with all three.

    python bench/cost_growth.py --generations 2 4 8 16 --lengths 8 32 128 --sizes 0.5M 4M 30M \
        --plot docs/plots/cost_growth.png --write docs/benchmarks.md

Each point is one `rlft.run` of a one-stage GRPO recipe in a fresh process (bench/_measure.py), full
fine-tuning, `num_threads: 1`, random weights. Completions are forced to their full length with
`generation_kwargs: {min_new_tokens: L}` (a random tiny model would otherwise end some early on its eos
token); the logged mean length is in the tables.
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

# Model sizes: (hidden, layers, heads, kv heads) of a char-tokenizer Llama; "0.5B" is Qwen2.5-0.5B's shapes.
SIZES = {"0.5M": (128, 2, 4, 2), "4M": (256, 4, 4, 2), "30M": (512, 8, 8, 2), "0.5B": None}
SWEEPS = {"generations": "num_generations", "lengths": "completion tokens", "sizes": "parameters"}


def recipe(model: Path, args, generations: int, length: int) -> dict:
    trainer = {"max_steps": args.steps, "logging_steps": 1, "learning_rate": 1e-5, "num_generations": generations,
               "per_device_train_batch_size": args.prompts * generations, "max_completion_length": length,
               "generation_kwargs": {"min_new_tokens": length}}  # fmt: skip
    spec = {"algorithm": "grpo", "model": {"path": str(model)}, "rewards": ["numeric_match"], "trainer": trainer}
    data = {"task": "arithmetic", "kwargs": {"digits": args.digits, "ops": ["+"]}, "train_size": 512, "eval_size": 0}
    return {"name": "cost-growth", "seed": 0, "num_threads": 1, "data": data, "stages": {"grpo": spec}}


def points(args) -> list[tuple[str, str, int, int]]:
    """(sweep, size, generations, length) of every point; each sweep varies one setting around the base."""
    base = (args.base_size, args.base_generations, args.base_length)
    sweep = [("generations", base[0], g, base[2]) for g in args.generations]
    sweep += [("lengths", base[0], base[1], n) for n in args.lengths]
    return sweep + [("sizes", s, base[1], base[2]) for s in args.sizes]


def run_all(args) -> tuple[dict, dict]:
    """({(size, generations, length): result}, {size: parameters}); a point shared by sweeps runs once."""
    results, params = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for _, size, generations, length in points(args):
            if size not in models:
                out = Path(tmp) / size
                longest = max(args.base_length, *args.lengths) + 32  # prompt and completion fit in the positions
                models[size] = (build_qwen05b_shapes(out) if SIZES[size] is None
                                else build_tiny(out, *SIZES[size], max_positions=longest))  # fmt: skip
                params[size] = count_parameters(models[size])
            key = (size, generations, length)
            if key in results:
                continue
            start = time.perf_counter()
            row = measure(recipe(models[size], args, generations, length), "grpo", timeout=args.timeout,
                          mem_gb=args.mem_gb, warmup=args.warmup)  # fmt: skip
            results[key] = row
            print(f"{key}: {row} ({time.perf_counter() - start:.0f} s)", flush=True)
    return results, params


def sweep_rows(sweep: str, results: dict, params: dict, args) -> list[tuple[str, float, int, dict]]:
    """(label, x value, completions a step, result) of one sweep's points, in order."""
    rows = []
    for name, size, generations, length in points(args):
        if name == sweep:
            x, label = {"generations": (generations, str(generations)), "lengths": (length, str(length)),
                        "sizes": (params[size], f"{size} ({params[size] / 1e6:.2f}M)")}[sweep]  # fmt: skip
            rows.append((label, x, args.prompts * generations, results[size, generations, length]))
    return rows


def table(sweep: str, results: dict, params: dict, args) -> list[str]:
    lines = [f"| {SWEEPS[sweep]} | completions/step | s/step | time x | peak RSS MB | memory x | tokens/completion |",
             "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    rows = sweep_rows(sweep, results, params, args)
    first = next((r for *_, r in rows if "error" not in r), None)
    for label, _, batch, row in rows:
        if "error" in row:
            lines.append(f"| {label} | {batch} | {row['error']} | - | - | - | - |")
            continue
        length = row.get("completions/mean_length")
        lines.append(f"| {label} | {batch} | {row['median_s']:.3f} | {row['median_s'] / first['median_s']:.1f}x "
                     f"| {row['peak_mb']:,.0f} | {row['peak_mb'] / first['peak_mb']:.2f}x "
                     f"| {'-' if length is None else f'{length:.1f}'} |")  # fmt: skip
    return lines


def plot(results: dict, params: dict, args, path: Path) -> None:
    """Step time (top) and peak RSS (bottom) against each swept setting, log-log."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6.5), layout="constrained")
    axes = fig.subplots(2, 3)
    for col, sweep in enumerate(SWEEPS):
        rows = [(x, r) for _, x, _, r in sweep_rows(sweep, results, params, args) if "error" not in r]
        xs = [x for x, _ in rows]
        for row_i, (key, label) in enumerate((("median_s", "s / step"), ("peak_mb", "peak RSS (MB)"))):
            ax = axes[row_i][col]
            ax.plot(xs, [r[key] for _, r in rows], "o-")
            ax.set_xscale("log", base=2 if sweep != "sizes" else 10)
            ax.set_yscale("log")
            ax.set_xlabel(SWEEPS[sweep])
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"GRPO step cost (base: {args.base_size}, {args.base_generations} generations, "
                 f"{args.base_length} tokens, {args.prompts} prompts/step; 1 thread)")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def report(results: dict, params: dict, args, loads: tuple[str, str], minutes: float) -> str:
    lines = [
        f"`{command_line()}`", "",
        f"{environment()}. Load average (1/5/15 min) {loads[0]} at the start, {loads[1]} at the end; the whole "
        f"run took {minutes:.1f} min. GRPO, full fine-tuning, a fresh process per point, `num_threads: 1`, "
        f"`OMP_NUM_THREADS=1`, {args.steps} steps, median of steps {args.warmup + 1}-{args.steps}; "
        f"{args.prompts} prompts a step ({args.digits}-digit addition); base point {args.base_size}, "
        f"{args.base_generations} generations, {args.base_length} tokens; each sweep varies one of them. "
        "Ratios (x) are against the sweep's first row.", "",
    ]  # fmt: skip
    for sweep in SWEEPS:
        lines += table(sweep, results, params, args) + [""]
    if args.plot:
        lines += [f"![GRPO step cost]({args.plot_link or args.plot})", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generations", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--lengths", type=int, nargs="+", default=[8, 32, 128], help="completion tokens")
    p.add_argument("--sizes", nargs="+", default=["0.5M", "4M", "30M"], choices=list(SIZES))
    p.add_argument("--base-size", default="0.5M", choices=list(SIZES))
    p.add_argument("--base-generations", type=int, default=8)
    p.add_argument("--base-length", type=int, default=32)
    p.add_argument("--prompts", type=int, default=4, help="prompts per step (completions = prompts x generations)")
    p.add_argument("--digits", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the median (at least 1)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed per point")
    p.add_argument("--mem-gb", type=float, default=20, help="address-space cap per point (GiB)")
    p.add_argument("--plot", type=Path, help="write the PNG here")
    p.add_argument("--plot-link", help="the image path as the markdown should link it (default: --plot)")
    p.add_argument("--write", type=Path, help="append the markdown to this file")
    args = p.parse_args()
    if args.steps < args.warmup + 1 or args.warmup < 1:
        p.error("need --warmup >= 1 and --steps > --warmup (step 1 is never timed)")

    start_load, start = loadavg(), time.perf_counter()
    results, params = run_all(args)
    if args.plot:
        plot(results, params, args, args.plot)
    text = report(results, params, args, (start_load, loadavg()), (time.perf_counter() - start) / 60)
    emit(text, args.write)


if __name__ == "__main__":
    main()
