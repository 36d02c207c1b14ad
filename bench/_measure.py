"""Run one recipe in this process and print one JSON line: the time of each training step, the peak RSS
of the process and a few logged figures. Started by `_common.measure`, one fresh process per measurement.

    python bench/_measure.py RECIPE.json STAGE RUN_DIR

Step times come from the stage's progress lines (`[stage] step N/M`, one per step with `logging_steps: 1`),
stamped as `rlft.run` echoes them: step N's time is the gap between the lines of steps N-1 and N, so it
covers sampling, scoring, forward, backward and the optimiser step, and step 1 (no line before it) is never
timed. The peak is `getrusage(RUSAGE_SELF).ru_maxrss`: imports, model loading and training together.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path

LOGGED = ("completions/mean_length", "completions/clipped_ratio")  # GRPO, RLOO, online DPO and PPO log these


def main() -> None:
    recipe, stage, run_dir = json.loads(Path(sys.argv[1]).read_text()), sys.argv[2], sys.argv[3]
    line = re.compile(rf"\[{re.escape(stage)}\] step (\d+)/")
    marks: dict[int, float] = {}

    def echo(text: str) -> None:
        found = line.search(text)
        if found:
            marks.setdefault(int(found.group(1)), time.perf_counter())

    import rlft

    try:
        result = rlft.run(recipe, run_dir=run_dir, echo=echo)
    except Exception as e:  # reported in the table row, not raised: one configuration failing ends nothing else
        first = (str(e).strip().splitlines() or [""])[0][:160]
        oom = isinstance(e, MemoryError) or "allocate memory" in str(e)
        print(json.dumps({"error": "OOM", "detail": first} if oom else {"error": f"{type(e).__name__}: {first}"}))
        sys.exit(1)
    steps = sorted(marks)
    summary = result.summary["stages"][stage]
    print(json.dumps({
        "step_s": [marks[b] - marks[a] for a, b in zip(steps, steps[1:]) if b == a + 1],
        "steps": summary["train"]["global_step"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stage_s": summary["wall_s"],
        **{k: summary["train"][k] for k in LOGGED if k in summary["train"]},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
