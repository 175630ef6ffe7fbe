"""The generated bug examples are up to date with the correct example they are derived from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_derived_examples_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "submissions" / "make_examples.py"), "--check"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
