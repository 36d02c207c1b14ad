"""`python -m rlft.cli ...` (how torchrun and accelerate launch start rlft): the `rlft` command."""

import sys

from rlft.cli import main

if __name__ == "__main__":
    sys.exit(main())
