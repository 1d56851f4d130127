"""``python -m tenset_study.cli``: the ``tenset-study`` command (as the GPU host's scripts run it)."""

import sys

from . import main

sys.exit(main())
