"""`python -m studio` runs the `studio` command."""

import sys

from studio.cli import main

sys.exit(main())
