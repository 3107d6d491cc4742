"""`python -m rerun_orchestrator.cli` is the console script."""

import sys

from . import main

sys.exit(main())
