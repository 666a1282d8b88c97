"""Take docs/screenshot.png: the window during a training run, all four plots filled.

Run under a virtual display, from the repository root::

    xvfb-run -a -s "-screen 0 1600x1000x24" python tools/screenshot.py docs/screenshot.png

(The worker is a spawned process, so this file keeps its work under ``__main__``.)
"""
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.editor.screenshot import main

    sys.exit(main())
