"""The bundle's entry point: the ``studio`` command (and, with ``--run-module``, its own daemon)."""

import multiprocessing
import sys

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
