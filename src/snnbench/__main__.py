"""``python -m snnbench ...``: the same command line as ``snnbench``; the entry point that
``torchrun --nproc_per_node N -m snnbench run ...`` starts in every process."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
