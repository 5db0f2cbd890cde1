"""``python -m emkit.cli``: the ``emkit`` command."""

import sys

from emkit.cli.app import main

sys.exit(main())
