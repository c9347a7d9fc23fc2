"""Refresh docs/screenshots/*.png: run the browser tests with screenshots switched on.

The tests build the reference pipeline's lineage (plus a failed run), serve it with
``headwater serve`` and drive Debian's Chromium; with ``UI_SCREENSHOTS`` set, each
test saves the views it checks. Usage: ``.venv/bin/python scripts/screenshots.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run the browser tests (tests/web/test_browser.py, test_pages.py, test_analysis_views.py, test_large_graph.py) with ``UI_SCREENSHOTS=docs/screenshots``."""
    target = ROOT / "docs" / "screenshots"
    env = {**os.environ, "UI_SCREENSHOTS": str(target)}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/web/test_browser.py",
        "tests/web/test_pages.py",
        "tests/web/test_analysis_views.py",
        "tests/web/test_large_graph.py",
    ]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code == 0:
        for png in sorted(target.glob("*.png")):
            print(png.relative_to(ROOT))
    return code


if __name__ == "__main__":
    sys.exit(main())
