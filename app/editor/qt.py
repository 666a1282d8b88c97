"""Qt bootstrap: make NodeGraphQt (via Qt.py) use PySide6 before it is imported."""
from __future__ import annotations

import os

os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")
