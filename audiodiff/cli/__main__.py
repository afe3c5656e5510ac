"""``python -m audiodiff.cli``: the ``audiodiff`` command."""

import sys

from audiodiff.cli import main

sys.exit(main())
