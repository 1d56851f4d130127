"""``python -m tenset_study.book``: the book's commands (format tables, running a notebook), as
:func:`tenset_study.book.docs.main`."""

from __future__ import annotations

import sys

from .docs import main

if __name__ == "__main__":
    sys.exit(main())
