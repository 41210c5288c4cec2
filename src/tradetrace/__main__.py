"""``python -m tradetrace`` is the ``tradetrace`` command."""

import sys

from tradetrace.cli import main

sys.exit(main())
