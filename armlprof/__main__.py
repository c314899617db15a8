"""`python -m armlprof`: the same as the `armlprof` command."""

import sys

from armlprof.cli import main

sys.exit(main())
