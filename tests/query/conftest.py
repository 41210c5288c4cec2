"""One real session recorded with every available exporter, shared by the query tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from recorded_session import Session, available_exporters, record_session


@pytest.fixture(scope="session")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The session of ``recorded_session.py``, written once (do not modify its files)."""
    return record_session(tmp_path_factory.mktemp("session"), available_exporters())


@pytest.fixture
def session_copy(session: Session, tmp_path: Path) -> Session:
    """A private copy of the session's files, for tests that damage them."""
    target = tmp_path / "copy"
    shutil.copytree(session.directory, target)
    return Session(target, session.run_id, session.exporters, dict(session.seqs))
