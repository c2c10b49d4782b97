"""The lint rules pyproject.toml declares hold for the whole tree (#37): every ``noqa`` comment names a rule that
is checked (ruff's RUF100 says when one no longer applies), and the packages' signatures are annotated."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
    rules = (ROOT / "pyproject.toml").read_text().split("[tool.ruff.lint]")[1]
    assert "RUF100" in rules and "ANN001" in rules  # the noqa comments' rules are declared, and kept meaningful
