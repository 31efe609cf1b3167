"""``python -m vtuber`` is the ``vtuber`` command."""

import sys

from vtuber.cli import main

sys.exit(main())
