"""Internal failures: counted for ``health()`` and logged once per kind, never raised."""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("tradetrace")


class InternalErrors:
    """Counts tradetrace's own failures by kind; logs the first of each kind with its traceback."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.RLock()  # re-entrant: a signal handler may report mid-report

    def report(self, kind: str, exc: BaseException | None = None, detail: str = "") -> None:
        """Count one failure of ``kind``; log it if it is the first of its kind."""
        with self._lock:
            self._counts[kind] += 1
            first = self._counts[kind] == 1
        if first:
            message = f"tradetrace internal failure [{kind}]{': ' + detail if detail else ''}"
            if exc is not None:
                logger.warning(
                    "%s (%s: %s); further failures of this kind are only counted",
                    message,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
            else:
                logger.warning("%s; further failures of this kind are only counted", message)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        self._counts = Counter()
        self._lock = threading.RLock()  # re-entrant: a signal handler may report mid-report
