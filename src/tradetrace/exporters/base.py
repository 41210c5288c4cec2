"""The one small protocol every exporter implements.

An exporter receives batches of records on its own thread (never the caller's), at its own pace.
``open(run)`` is called once per run before the first batch, ``export(batch)`` for each batch,
``force_flush(timeout)`` when the user flushes and ``shutdown(timeout)`` once at the end.
``after_fork()`` runs in a forked child before its first batch: drop inherited handles there.

Optional, looked up with ``getattr`` (not part of :class:`Exporter`): ``recover(replayed)``,
called once after a crash with the records replayed from the durable spool, before they are
exported; it returns those the exporter has not written yet (:class:`BaseExporter` keeps all).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tradetrace.pipeline.run import Run
    from tradetrace.records import Record


class ExportResult(Enum):
    """Whether a batch was written."""

    SUCCESS = "success"
    FAILURE = "failure"


@runtime_checkable
class Exporter(Protocol):
    """Receives batches of records; see the module docstring for the call order."""

    name: str

    def open(self, run: Run) -> None: ...

    def export(self, batch: Sequence[Record]) -> ExportResult: ...

    def force_flush(self, timeout: float) -> bool: ...

    def shutdown(self, timeout: float) -> None: ...

    def after_fork(self) -> None: ...


class BaseExporter(ABC):
    """Defaults for the optional parts of :class:`Exporter`; subclasses implement ``export``."""

    name = "exporter"

    def open(self, run: Run) -> None:
        """Called once per run before its first batch."""
        return None  # optional hook: nothing to do by default

    @abstractmethod
    def export(self, batch: Sequence[Record]) -> ExportResult:
        """Write one batch; called on the exporter's own thread."""

    def force_flush(self, timeout: float) -> bool:
        """Make everything exported so far durable or visible; True on success."""
        return True

    def shutdown(self, timeout: float) -> None:
        """Release resources; called once."""
        return None  # optional hook: nothing to do by default

    def after_fork(self) -> None:
        """Forget state inherited from the parent process (open files, sockets)."""
        return None  # optional hook: nothing to do by default

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        """Records replayed from the durable spool after a crash (the first ones from this
        exporter's checkpoint on, in spool order, at most a few thousand), called once before
        they are exported: return those this exporter has not written yet. The default keeps all
        (at-least-once)."""
        return replayed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
