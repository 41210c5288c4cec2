"""The README's Python blocks run as they are, so the docs cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tradetrace as tt

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), {})
    finally:
        tt.shutdown()


def test_readme_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    assert commands[:2] == [
        "python -m pip install -e . && tradetrace demo",
        'python -m pip install -e ".[dev]" && python -m pytest',
    ]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci
