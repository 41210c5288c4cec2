"""Files per record kind per UTC day of event time, kept open between batches.

``{directory}/{service}_{kind}s_{YYYYMMDD}{suffix}``, as the seed logger names them. A file that
already exists with a different header is never appended to: the next free name
``..._{YYYYMMDD}_2{suffix}`` is used instead, so one file always has one schema.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from tradetrace import semconv as sc
from tradetrace.exporters.rows import DayName
from tradetrace.records import Record

_MAX_OPEN = 16
_DAY = DayName()


def group_by_file(
    batch: Sequence[Record], convert: Callable[[Record], Any]
) -> dict[tuple[str, str], list[Any]]:
    """Convert each record and group the results by (kind, UTC day of event time)."""
    groups: dict[tuple[str, str], list[Any]] = {}
    day = _DAY
    for record in batch:
        key = (record.kind, day(record.time_ns))
        items = groups.get(key)
        if items is None:
            groups[key] = [convert(record)]
        else:
            items.append(convert(record))
    return groups


_ERRORS = "backslashreplace"


class DailyFiles:
    """Opens, reuses and rotates the per-kind, per-day files of one exporter."""

    def __init__(
        self,
        directory: Path,
        service_name: str,
        suffix: str,
        header: Callable[[str], bytes],
        binary: bool,
        wrap: Callable[[IO[Any]], tuple[Any, ...]] = lambda file: (file,),
    ) -> None:
        self.directory = directory
        self._service = service_name
        self._suffix = suffix
        self._header = header
        self._binary = binary
        self._wrap = wrap
        self._open: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self._touched: set[tuple[str, str]] = set()

    def path(self, kind: str, day: str, index: int = 1) -> Path:
        stem = f"{self._service}_{sc.KIND_FILE_STEM[sc.RecordKind(kind)]}_{day}"
        return self.directory / f"{stem}{'' if index == 1 else f'_{index}'}{self._suffix}"

    def get(self, kind: str, day: str) -> tuple[Any, ...]:
        """The handle ``(file, *wrapped)`` for (kind, day), opened (with header) if needed."""
        key = (kind, day)
        handle = self._open.get(key)
        if handle is None:
            handle = self._wrap(self._open_file(kind, day))
            self._open[key] = handle
            while len(self._open) > _MAX_OPEN:
                self._open.popitem(last=False)[1][0].close()
        else:
            self._open.move_to_end(key)
        self._touched.add(key)
        return handle

    def _open_file(self, kind: str, day: str) -> IO[Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        header = self._header(kind)
        index = 1
        while True:
            path = self.path(kind, day, index)
            existing = _first_line(path, len(header))
            if existing is None or existing == header or not header:
                break
            index += 1
        if self._binary:
            file: IO[Any] = open(path, "ab")  # noqa: SIM115 - kept open between batches
        else:
            # errors: a lone surrogate is written as ``\udcff`` text instead of failing the batch
            file = open(path, "a", newline="", encoding="utf-8", errors=_ERRORS)  # noqa: SIM115
        if existing is None and header:
            file.write(header if self._binary else header.decode("utf-8"))
        return file

    def flush_touched(self) -> None:
        """Flush every file written since the last call (end of a batch)."""
        for key in self._touched:
            handle = self._open.get(key)
            if handle is not None:
                handle[0].flush()
        self._touched.clear()

    def close_all(self) -> None:
        for file, *_ in self._open.values():
            file.close()
        self._open.clear()

    def forget(self) -> None:
        """Drop handles without flushing (a forked child must not write the parent's bytes)."""
        self._open = OrderedDict()
        self._touched = set()


def _first_line(path: Path, length: int) -> bytes | None:
    """The first ``length`` bytes of ``path``, or None if it is missing or empty."""
    try:
        with open(path, "rb") as file:
            data = file.read(max(length, 1))
    except FileNotFoundError:
        return None
    return data or None
