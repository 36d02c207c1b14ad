"""The step-cost and cost-growth benchmarks, run end to end on the tiny model with a few steps, so that the
scripts behind the figures in docs/benchmarks.md keep working."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT


def run_script(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    """The cells of the markdown table rows whose first cell starts with `first_cell`."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|")]
    return [r for r in rows if r[0].startswith(first_cell)]


def number(cell: str) -> float:
    """'0.123 (1.17x)' -> 0.123; '1,234' -> 1234."""
    return float(cell.split()[0].replace(",", ""))


@pytest.mark.slow
def test_step_cost_measures_each_layout(tmp_path):
    out = tmp_path / "step_cost.md"
    run_script("step_cost.py", "--sizes", "tiny", "--algorithms", "sft", "--layouts", "full", "lora",
               "--steps", "3", "--write", str(out))  # fmt: skip
    text = out.read_text()
    assert "Load average" in text and "transformers" in text
    [row] = table_rows(text, "sft")
    full_s, full_mb, lora_s, lora_mb = (number(c) for c in row[1:5])
    assert full_s > 0 and lora_s > 0
    assert 100 < full_mb < 5000 and 100 < lora_mb < 5000  # MB: a torch process, not KB or bytes
    assert "x)" in row[3]  # LoRA given relative to full fine-tuning


@pytest.mark.slow
def test_cost_growth_writes_table_and_plot(tmp_path):
    out, png = tmp_path / "growth.md", tmp_path / "growth.png"
    run_script("cost_growth.py", "--generations", "2", "--lengths", "8", "--sizes", "0.5M", "--base-generations",
               "2", "--base-length", "8", "--prompts", "2", "--steps", "3", "--warmup", "1", "--plot", str(png),
               "--write", str(out))  # fmt: skip
    text = out.read_text()
    rows = table_rows(text, "2") + table_rows(text, "8") + table_rows(text, "0.5M")
    assert len(rows) == 3  # one point, shown in each of the three sweeps
    for row in rows:
        assert row[1] == "4"  # completions per step: 2 prompts x 2 generations
        assert number(row[2]) > 0 and number(row[4]) > 100
        assert number(row[6]) == 8.0  # min_new_tokens forces the full completion length
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"



@pytest.mark.slow
def test_concurrency_runs_alone_and_in_pairs(tmp_path):
    out = tmp_path / "concurrency.md"
    run_script("concurrency.py", "--overrides", "stages.sft.trainer.max_steps=2", "stages.sft.eval.every=0",
               "stages.sft.eval.stop_at_accuracy=null", "stages.grpo.trainer.max_steps=1", "--write", str(out))
    text = out.read_text()
    rows = table_rows(text, "alone") + table_rows(text, "two at once")
    assert [r[0] for r in rows] == ["alone", "two at once, run a", "two at once, run b"]
    for row in rows:
        assert row[1] == "2" and row[2] == "PASSIVE"  # the quickstart's 2 threads; rlft's wait policy
        assert number(row[3]) > 0 and row[6] == "yes"  # every run reproduces the run alone
    assert "reproduce the run alone's metrics.jsonl: yes" in text


@pytest.mark.slow
def test_parallel_seeds_bench_runs_both_sweeps(tmp_path):
    out = tmp_path / "parallel.md"
    run_script("parallel_seeds.py", "--seeds", "0-1", "--overrides", "stages.sft.trainer.max_steps=2",
               "stages.sft.eval.every=0", "stages.sft.eval.stop_at_accuracy=null", "stages.grpo.trainer.max_steps=1",
               "--write", str(out))
    text = out.read_text()
    [seq] = table_rows(text, "one after another")
    [par] = table_rows(text, "--jobs 2")
    assert seq[3] == "[2]" and par[3] == "[1]"  # the recipe's 2 threads; half the 2 cores per process
    assert number(seq[1]) > 0 and number(par[1]) > 0 and "s0 " in par[4] and "s1 " in par[4]


def test_gpu_check_says_when_there_is_no_gpu():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--out", "/tmp/rlft-gpu-check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})  # fmt: skip
    assert done.returncode == 1 and '"problems": ["no CUDA device"]' in done.stdout


@pytest.mark.slow
def test_step_profile_splits_a_grpo_and_a_ppo_step(tmp_path):
    out = tmp_path / "profile.md"
    run_script("step_profile.py", "--sizes", "0.5M", "--steps", "2", "--batch", "16", "--length", "8", "--threads",
               "1", "--write", str(out))  # fmt: skip
    text = out.read_text()
    assert "fp32 matmul peak in this run" in text and "transformers" in text
    for algorithm in ("grpo", "ppo"):
        [row] = table_rows(text, f"{algorithm} 0.5M")
        wall, phases = number(row[2]), [number(c) for c in row[3:9]]
        assert wall > 0 and phases[0] > 0 and phases[4] > 0  # generation and backward always take time
        assert sum(phases) <= wall * 1.05  # the phases are parts of the step
        assert number(row[10]) > 0 and row[12].endswith("%")
