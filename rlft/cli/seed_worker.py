"""A worker process of rlft.runner.seed_jobs (`python -m rlft.cli.seed_worker SWEEP RECIPE USE_CACHE`): it runs
`rlft run` for each seed read from stdin, in this one process, so torch and TRL are imported once."""

from __future__ import annotations

import sys
from pathlib import Path

from rlft.cli import main
from rlft.runner.seed_jobs import MARK, seed_args


def worker(sweep_dir: str, recipe_file: str, use_cache: str) -> None:
    """A worker process: for each seed read from stdin, `rlft run` it in this process and say when it is done
    (with the command's exit code: a failed seed leaves the worker ready for the next)."""
    for line in sys.stdin:
        seed = int(line)
        print(f"{MARK} start {seed}", flush=True)
        code = main(seed_args(Path(sweep_dir), recipe_file, seed, use_cache == "1"))
        print(f"{MARK} done {seed} {code}", flush=True)



if __name__ == "__main__":
    worker(*sys.argv[1:])
