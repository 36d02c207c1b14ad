"""The learning-regression gate: the quickstart, over 3 seeds two at a time, must not fail the claims of its
`expect:` block (a claim that is undecided on 3 seeds passes; one whose whole interval is below its floor fails).
A change in rlft, TRL or torch that makes the recipe learn less stops CI here. About 4-5 minutes on 2 cores."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
@pytest.mark.gate
def test_quickstart_keeps_its_promise(tmp_path):
    cmd = [sys.executable, "-m", "rlft.cli", "verify", str(ROOT / "recipes/quickstart.yaml"), "--seeds", "0-2",
           "--jobs", "2", "--run-dir", str(tmp_path / "gate")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    result = json.loads((tmp_path / "gate" / "verify.json").read_text())
    verdicts = {c["claim"]: (c["verdict"], c["iqm"], c["ci_low"], c["ci_high"]) for c in result["claims"]}
    assert done.returncode == 0, f"{verdicts}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert all(v[0] in ("holds", "undecided") for v in verdicts.values()), verdicts
