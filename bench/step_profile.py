"""Where a GRPO and a PPO step spend their time: generation, reward, log-probabilities (forward passes without
gradients), the training forward, backward and the optimizer, at 0.5M, 4M and 30M parameters, with the achieved
GFLOP/s of each phase against this machine's matmul peak measured in the same run.

    python bench/step_profile.py --sizes 0.5M 4M 30M --write docs/benchmarks.md

Each (algorithm, size) is one `rlft.run` of a one-stage recipe in this process, timed by hooks that change
nothing it computes: `GenerationMixin.generate` and `Tensor.backward` wrapped, the outermost model's forward
hooks (split by whether gradients are on), torch's global optimizer-step hooks, and the reward registered under
its own name. Step 1 (warm-up) is left out: the clock starts when the second generation does. Arithmetic counts
2·N FLOPs per token for a forward pass (prompt and generated tokens), 4·N more for its backward (N: the
parameters, embeddings included); attention's own FLOPs are left out, so figures are a slight undercount.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import build_tiny, command_line, count_parameters, emit, environment, loadavg  # noqa: E402

# hidden size, layers: about 0.5M, 4M and 30M parameters with the character tokenizer's 100-token vocabulary
SIZES = {"0.5M": (128, 2), "4M": (256, 5), "30M": (512, 9)}
PHASES = ("generation", "reward", "logprobs", "forward", "backward", "optimizer")


class Profile:
    """Seconds and FLOPs per phase, from hooks installed around one run."""

    def __init__(self, params: int):
        self.params, self.generations, self.depth, self.started, self.last = params, 0, 0, None, None
        self.seconds, self.flops, self.undo = defaultdict(float), defaultdict(float), []

    def add(self, phase: str, seconds: float, flops: float = 0.0) -> None:
        if self.started is not None:
            self.seconds[phase] += seconds
            self.flops[phase] += flops
            self.last = time.perf_counter()

    def install(self) -> None:
        import torch
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
        from transformers import GenerationMixin, PreTrainedModel

        profile, generate, backward = self, GenerationMixin.generate, torch.Tensor.backward

        def timed_generate(model, *args, **kwargs):
            profile.generations += 1
            if profile.generations == 2:  # step 1 done: measure from here
                profile.started = time.perf_counter()
            profile.depth += 1
            start = time.perf_counter()
            try:
                out = generate(model, *args, **kwargs)
            finally:
                profile.depth -= 1
            ids = out if isinstance(out, torch.Tensor) else out.sequences
            profile.add("generation", time.perf_counter() - start, 2.0 * profile.params * ids.numel())
            return out

        def timed_backward(tensor, *args, **kwargs):
            start = time.perf_counter()
            backward(tensor, *args, **kwargs)
            profile.add("backward", time.perf_counter() - start)

        clock = {}

        def before(module, args):
            if isinstance(module, PreTrainedModel) and not profile.depth:
                profile.depth += 1
                clock[id(module)] = time.perf_counter()

        def after(module, args, kwargs, output):
            if id(module) in clock:
                profile.depth -= 1
                ids = kwargs.get("input_ids", args[0] if args else None)
                tokens = ids.numel() if isinstance(ids, torch.Tensor) else 0
                grad = torch.is_grad_enabled()
                profile.add("forward" if grad else "logprobs", time.perf_counter() - clock.pop(id(module)),
                            2.0 * profile.params * tokens)
                if grad:  # its backward: twice the forward's arithmetic
                    profile.flops["backward"] += 4.0 * profile.params * tokens if profile.started else 0.0

        steps = {}

        def step_before(optimizer, args, kwargs):
            steps[id(optimizer)] = time.perf_counter()

        def step_after(optimizer, args, kwargs):
            profile.add("optimizer", time.perf_counter() - steps.pop(id(optimizer), time.perf_counter()))

        GenerationMixin.generate, torch.Tensor.backward = timed_generate, timed_backward
        self.undo = [lambda: setattr(GenerationMixin, "generate", generate),
                     lambda: setattr(torch.Tensor, "backward", backward)]
        for handle in (register_module_forward_pre_hook(before),
                       register_module_forward_hook(after, with_kwargs=True),
                       register_optimizer_step_pre_hook(step_before),
                       register_optimizer_step_post_hook(step_after)):
            self.undo.append(handle.remove)

    def remove(self) -> None:
        for undo in self.undo:
            undo()

    def timed_reward(self, fn):
        def reward(completions, **kwargs):
            start = time.perf_counter()
            out = fn(completions, **kwargs)
            self.add("reward", time.perf_counter() - start)
            return out

        reward.__name__ = "timed_numeric_match"
        return reward


def matmul_peak(threads: int, n: int = 1024, seconds: float = 2.0) -> float:
    """fp32 GFLOP/s of n x n matrix products, best of repeated timings, with `threads` threads."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def recipe(model: Path, algorithm: str, args) -> dict:
    trainer = {"max_steps": args.steps + 1, "logging_steps": 1, "learning_rate": 1e-5,
               "per_device_train_batch_size": args.batch, "max_completion_length": args.length}
    if algorithm == "grpo":
        trainer |= {"num_generations": 8, "generation_kwargs": {"min_new_tokens": args.length}}
    return {"name": f"profile-{algorithm}", "seed": 0, "num_threads": args.threads,
            "data": {"task": "arithmetic", "train_size": 256, "eval_size": 8},
            "stages": {algorithm: {"algorithm": algorithm, "model": {"path": str(model)},
                                   "rewards": ["timed_numeric_match"], "trainer": trainer}}}


def profile_one(model: Path, algorithm: str, args) -> dict:
    import rlft
    from rlft.rewards import REWARDS, register, resolve

    profile = Profile(count_parameters(model))
    REWARDS.pop("timed_numeric_match", None)
    register(profile.timed_reward(resolve("numeric_match")), name="timed_numeric_match", columns=("answer",))
    profile.install()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rlft.run(recipe(model, algorithm, args), run_dir=Path(tmp) / "run", echo=lambda s: None)
    finally:
        profile.remove()
    wall = (profile.last - profile.started) / args.steps
    row = {"algorithm": algorithm, "params": profile.params, "wall": wall}
    for phase in PHASES:
        row[phase] = (profile.seconds[phase] / args.steps, profile.flops[phase] / args.steps)
    return row


def table(rows: list[dict], peak: float, args) -> str:
    head = ("| step | params | s/step | " + " | ".join(f"{p}: s (GFLOP/s)" for p in PHASES)
            + " | other s | GFLOP/step | bound s | bound / step |")
    lines = [f"Step profile, {args.batch} completions of {args.length} tokens per step, {args.threads} thread(s), "
             f"the mean of steps 2-{args.steps + 1}. fp32 matmul peak in this run: "
             f"{peak:.0f} GFLOP/s. Load average before: {args.load}.", "",
             head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        cells = []
        for phase in PHASES:
            seconds, flops = r[phase]
            rate = f" ({flops / seconds / 1e9:.0f})" if seconds > 0 and flops > 0 else ""
            cells.append(f"{seconds:.3f}{rate}")
        flops = sum(r[p][1] for p in PHASES)
        other = r["wall"] - sum(r[p][0] for p in PHASES)
        bound = flops / (peak * 1e9)
        lines.append(f"| {r['algorithm']} {r['size']} | {r['params'] / 1e6:.2f}M | {r['wall']:.3f} | "
                     + " | ".join(cells) + f" | {other:.3f} | {flops / 1e9:.1f} | {bound:.3f} | "
                     f"{bound / r['wall']:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--algorithms", nargs="+", default=["grpo", "ppo"], choices=["grpo", "ppo"])
    parser.add_argument("--steps", type=int, default=4, help="measured steps, after one warm-up step")
    parser.add_argument("--batch", type=int, default=64, help="completions per step (GRPO: 8 per prompt)")
    parser.add_argument("--length", type=int, default=32, help="tokens per completion")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, help="append the table to this file")
    args = parser.parse_args()
    args.load = loadavg()
    peak = matmul_peak(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            hidden, layers = SIZES[size]
            model = build_tiny(Path(tmp) / size, hidden, layers)
            for algorithm in args.algorithms:
                rows.append({**profile_one(model, algorithm, args), "size": size})
                print(f"{algorithm} {size}: {rows[-1]['wall']:.3f} s/step", flush=True)
    emit(f"`{command_line()}`\n\n{environment()}\n\n{table(rows, peak, args)}", args.write)


if __name__ == "__main__":
    main()
