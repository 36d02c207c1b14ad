"""The notebooks in examples/ run headless, top to bottom, as a user would run them (other settings injected
after their parameters cell, as papermill does)."""

import json

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK = ROOT / "examples" / "custom_reward.ipynb"
# The quickstart in a smoke size: a smaller SFT warm-up and a few GRPO steps.
SMOKE = {
    "stages.sft.trainer.max_steps": 60,
    "stages.sft.eval.every": 30,
    "stages.grpo.trainer.max_steps": 4,
    "stages.grpo.trainer.logging_steps": 1,
    "stages.grpo.trainer.per_device_train_batch_size": 32,
    "data.train_size": 1000,
    "data.eval_size": 32,
}


def execute(path, settings: str, timeout: int) -> tuple[list, str]:
    """Run a notebook top to bottom with `settings` (code) injected after its parameters cell, one thread;
    return its outputs (none an error) and their printed text."""
    nb = nbformat.read(path, as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(params + 1, nbformat.v4.new_code_cell(f"{settings}\nimport torch; torch.set_num_threads(1)"))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs, "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


@pytest.mark.slow
def test_custom_reward_notebook_runs(tmp_path):
    outputs, text = execute(NOTEBOOK, f"OVERRIDES = {SMOKE!r}\nRUN_DIR = {str(tmp_path / 'run')!r}", 600)
    assert "reward 'near_miss': ok" in text and "accuracy after GRPO:" in text and "4 logged steps" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the reward curve
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["stage"] == "grpo" and "rewards/near_miss/mean" in r] == [1, 2, 3, 4]


ENV_NOTEBOOK = ROOT / "examples" / "environments.ipynb"


@pytest.mark.slow
def test_environments_notebook_runs(tmp_path):
    """Write an environment, check it, play 4 GRPO steps on it and plot success and turns: about a minute."""
    outputs, text = execute(ENV_NOTEBOOK, f"RUN_DIR = {str(tmp_path / 'run')!r}", 300)
    assert "environment 'dial': ok" in text and "scripted policy: mean return 1" in text
    assert "4 logged steps; held-out success" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # success and turns
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train" and "rewards/Dial/mean" in r] == [1, 2, 3, 4]
    assert [r["env/episodes"] for r in records if r["split"] == "eval"] == [8]
