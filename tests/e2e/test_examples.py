"""Every example runs as it is (in a subprocess, writing into a temporary directory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(
    path for path in EXAMPLES.glob("*.py") if 'if __name__ == "__main__"' in path.read_text()
)


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert any((tmp_path / "out").rglob("*.*")), f"{script.name} wrote no files"


def test_there_are_examples() -> None:
    names = {path.name for path in SCRIPTS}
    assert {"auto_instrument_client.py", "decorate_strategy.py"} <= names
