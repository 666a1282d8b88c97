"""``python -m app`` runs the ``spike-studio`` command line."""

import sys

from app.cli import main

sys.exit(main())
