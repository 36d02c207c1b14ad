"""What the bench scripts share: the models they build, the environment their children run in, the line that
records machine and versions, and one measured run of a recipe in a fresh process (`measure`)."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from importlib import metadata
from pathlib import Path

# Qwen2.5-0.5B: hidden 896, 24 layers, 14 heads (2 kv), MLP 4864, vocabulary 151936, tied embeddings.
QWEN_05B = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, max_position_embeddings=512)
MEASURE = Path(__file__).with_name("_measure.py")


def build_tiny(out: Path, hidden: int, layers: int, heads: int = 4, kv_heads: int = 2,
               max_positions: int = 128) -> Path:  # fmt: skip
    """A random-init Llama of the given width and depth with rlft's char tokenizer, saved to `out`."""
    from rlft.core.config import TinyModel
    from rlft.models import build_tiny_model

    spec = TinyModel(hidden_size=hidden, num_layers=layers, num_heads=heads, num_kv_heads=kv_heads,
                     max_position_embeddings=max_positions)  # fmt: skip
    return build_tiny_model(spec, out, seed=0)


def build_qwen05b_shapes(out: Path) -> Path:
    """A random-init LlamaForCausalLM with Qwen2.5-0.5B's shapes and rlft's char tokenizer, saved to `out`.
    Llama, not Qwen2: a `qwen2` config.json makes AutoTokenizer load Qwen2's tokenizer class instead of the
    saved one; the only layer difference is Qwen2's q/k/v biases (about 0.1M parameters)."""
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed

    from rlft.models import build_char_tokenizer

    tok = build_char_tokenizer()
    set_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**QWEN_05B, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id))
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def count_parameters(model_dir: Path) -> int:
    """Parameters of a saved model, read from its safetensors headers (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for file in Path(model_dir).glob("*.safetensors"):
        with safe_open(file, "pt") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118
    return total


def child_env(threads: int = 1) -> dict:
    """The environment of a measured child: OpenMP threads that sleep when idle (the machine is shared)."""
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads),
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}  # fmt: skip


def user_env() -> dict:
    """The environment of a child started as a user would start `rlft`: no thread settings of ours (rlft picks
    them), offline."""
    drop = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "HF_HUB_OFFLINE": "1"}


def emit(text: str, write: Path | None) -> None:
    """Print a result and, with --write, append it to that file (results accumulate across runs)."""
    print(text)
    if write:
        with write.open("a") as f:
            f.write(text + "\n\n")


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. '1.84 / 1.20 / 0.95'."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def environment() -> str:
    """One line: date, machine, CPUs, memory, Python and library versions."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "transformers", "trl", "peft", "rlft"))
    return (f"{date.today()}; {platform.machine()} ({cpu_name()}), {os.cpu_count()} CPUs, "
            f"{mem:.0f} GiB RAM; Python {platform.python_version()}, {versions}")  # fmt: skip


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def command_line() -> str:
    """How this script was started, as a reader would retype it."""
    return " ".join(["python", os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def measure(recipe: dict, stage: str, threads: int = 1, timeout: float | None = None, mem_gb: float | None = None,
            warmup: int = 1) -> dict:  # fmt: skip
    """Run `recipe` in a fresh process (bench/_measure.py) and return its step times, their median after the
    first `warmup` steps (`median_s`) and peak RSS, or {"error": why} when it failed, ran out of memory (address
    space capped at `mem_gb`), ran out of time or timed no step."""
    row = run_child(recipe, stage, threads, timeout, mem_gb)
    row["median_s"] = median_step(row, warmup)
    if "error" not in row and row["median_s"] is None:
        row["error"] = f"no step timed ({row.get('steps')} steps done)"
    return row


def median_step(row: dict, warmup: int) -> float | None:
    """Median of the step times after the first `warmup` steps (step 1 is never timed: see _measure.py)."""
    times = row.get("step_s", [])[max(warmup - 1, 0):]
    return statistics.median(times) if times else None


def run_child(recipe: dict, stage: str, threads: int, timeout: float | None, mem_gb: float | None) -> dict:
    """bench/_measure.py on `recipe` in a fresh process with its address space capped: its JSON row, or an error."""
    def cap() -> None:
        if mem_gb:
            limit = int(mem_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipe.json"
        path.write_text(json.dumps(recipe))
        cmd = [sys.executable, str(MEASURE), str(path), stage, str(Path(tmp) / "run")]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads), timeout=timeout,
                                  preexec_fn=cap)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"error": f"skipped: over the {timeout:.0f} s limit"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:  # measured, or an error the child caught itself
        row = json.loads(lines[-1])
        if row.get("error") == "OOM" and mem_gb:
            row["error"] = f"OOM at the {mem_gb:g} GiB cap"
        return row
    if done.returncode < 0:
        return {"error": f"killed by signal {-done.returncode} (out of memory?)"}
    return {"error": "failed: " + (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


QUICKSTART_SHORT = ["stages.sft.trainer.max_steps=150", "stages.grpo.trainer.max_steps=40"]


def quickstart_options(parser) -> None:
    """The options of a bench that runs the quickstart: whole or shortened, other overrides, where to write."""
    parser.add_argument("--full", action="store_true", help="the whole quickstart instead of the shortened one")
    parser.add_argument("--overrides", nargs="*", help=f"recipe overrides (default: {' '.join(QUICKSTART_SHORT)})")
    parser.add_argument("--write", type=Path, help="append the result to this file")


def quickstart_overrides(args) -> list[str]:
    """The overrides `quickstart_options` chose: none for --full, else --overrides, else the shortened run."""
    return [] if args.full else QUICKSTART_SHORT if args.overrides is None else args.overrides

