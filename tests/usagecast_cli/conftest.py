"""Helpers of the CLI tests (real_export) are imported by name."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; real_export's name is unique.
sys.path.insert(0, str(Path(__file__).parent))
