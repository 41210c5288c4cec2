"""Files per record kind per UTC day of event time, kept open between batches.

``{directory}/{service}_{kind}s_{YYYYMMDD}{suffix}``, as the seed logger names them. A file that
already exists with a different header is never appended to: the next free name
``..._{YYYYMMDD}_2{suffix}`` is used instead, so one file always has one schema.

After a crash, :meth:`DailyFiles.recover` finds which replayed records a file already holds and
cuts a torn last row (a write cut short by ``kill -9``), with a format's :data:`Scan`: one forward
pass over the file that keeps only the matches, so memory follows the replay, not the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from tradetrace import semconv as sc
from tradetrace.exporters.rows import DayName
from tradetrace.records import Record

logger = logging.getLogger("tradetrace")

_MAX_OPEN = 16
_DAY = DayName()
#: A torn tail longer than this, or holding more row ends (``\r\n`` inside quoted cells), is
#: not one row cut short but a file damaged further up (a torn row in the middle, from an
#: earlier crash that was never recovered): it is left as it is and no longer appended to.
MAX_TORN_BYTES = 1 << 20
MAX_TORN_ROW_ENDS = 16

#: ``run_id`` as the file writes it -> the seqs looked for.
Wanted = Mapping[str, Set[int]]


@dataclass
class Scanned:
    """What one forward pass over a file found."""

    #: ``(run_id as written, seq)`` of the wanted records in complete rows.
    found: set[tuple[str, int]] = field(default_factory=set)
    #: The offset just past the last complete row: a torn tail starts here.
    end: int = 0
    #: Bytes that complete the last row at ``end`` (a whole JSON object without its newline).
    terminator: bytes = b""


#: Reads a file from its start (binary, at offset 0) and reports what it holds.
Scan = Callable[[BinaryIO, Wanted], Scanned]


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
        self._sealed: set[Path] = set()
        #: What :meth:`recover` and :meth:`repair` did (for health()).
        self.recovery: dict[str, int] = {
            "skipped": 0,
            "repaired_bytes": 0,
            "files_scanned": 0,
            "files_repaired": 0,
            "files_sealed": 0,
        }

    def path(self, kind: str, day: str, index: int = 1) -> Path:
        stem = f"{self._service}_{sc.KIND_FILE_STEM[sc.RecordKind(kind)]}_{day}"
        return self.directory / f"{stem}{'' if index == 1 else f'_{index}'}{self._suffix}"

    def siblings(self, kind: str, day: str) -> list[Path]:
        """The existing files of (kind, day): the base name and its ``_2``, ``_3``... siblings."""
        base = self.path(kind, day).name
        stem = base[: len(base) - len(self._suffix)]
        name = re.compile(re.escape(stem) + r"(?:_([0-9]+))?" + re.escape(self._suffix))
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = []
        for candidate in names:
            match = name.fullmatch(candidate)
            if match:
                found.append((int(match.group(1) or 1), self.directory / candidate))
        return [path for _, path in sorted(found)]

    def recover(
        self, replayed: Sequence[Record], key: Callable[[Record], tuple[str, int]], scan: Scan
    ) -> list[Record]:
        """The replayed records that no file holds yet, in order; torn tails are cut first.

        ``key`` gives a record's ``(run_id, seq)`` as ``scan`` reads them back. Every file a
        record could have gone to (the base name and its ``_N`` siblings) is scanned once;
        handles open on them are closed first and reopened (appending) by the next :meth:`get`.
        """
        day = _DAY
        targets: dict[tuple[str, str], dict[str, set[int]]] = {}
        for record in replayed:
            run, seq = key(record)
            wanted = targets.setdefault((record.kind, day(record.time_ns)), {})
            wanted.setdefault(run, set()).add(seq)
        found: dict[tuple[str, str], set[tuple[str, int]]] = {}
        for target, seqs_of_run in targets.items():
            handle = self._open.pop(target, None)
            if handle is not None:
                with contextlib.suppress(OSError):  # a full disk fails the flush; closed anyway
                    handle[0].close()
            self._touched.discard(target)
            hits = found[target] = set()
            for path in self.siblings(*target):
                hits |= self.repair(path, scan, seqs_of_run)
        kept = [r for r in replayed if key(r) not in found[(r.kind, day(r.time_ns))]]
        self.recovery["skipped"] += len(replayed) - len(kept)
        return kept

    def repair(self, path: Path, scan: Scan, wanted: Wanted | None = None) -> set[tuple[str, int]]:
        """Scan ``path``, cut its torn tail (see :data:`MAX_TORN_BYTES`) and return the wanted
        ``(run_id, seq)`` it holds. A file too damaged to cut is sealed: never appended to
        again by this process (the next ``_N`` name is used)."""
        with open(path, "r+b") as file:
            scanned = scan(file, wanted or {})
            size = file.seek(0, os.SEEK_END)
            self.recovery["files_scanned"] += 1
            torn = size - scanned.end
            if torn == 0 and not scanned.terminator:
                return scanned.found
            file.seek(scanned.end)
            if torn > MAX_TORN_BYTES or file.read(torn).count(b"\r\n") > MAX_TORN_ROW_ENDS:
                logger.warning(
                    "tradetrace: %s ends with %d bytes that are not whole rows; left as they "
                    "are, new rows go to another file",
                    path,
                    torn,
                )
                self._sealed.add(path)
                self.recovery["files_sealed"] += 1
                return scanned.found
            file.truncate(scanned.end)
            file.seek(scanned.end)
            file.write(scanned.terminator)
            file.flush()
            os.fsync(file.fileno())
        self.recovery["files_repaired"] += 1
        self.recovery["repaired_bytes"] += torn + len(scanned.terminator)
        return scanned.found

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
            if path not in self._sealed and (existing is None or existing == header or not header):
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


def ends_with(path: Path, ending: bytes) -> bool:
    """Whether ``path`` is missing or empty or ends with ``ending`` (reads only its last bytes)."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            if size == 0:
                return True
            file.seek(max(0, size - len(ending)))
            return file.read() == ending
    except FileNotFoundError:
        return True


def _first_line(path: Path, length: int) -> bytes | None:
    """The first ``length`` bytes of ``path``, or None if it is missing or empty."""
    try:
        with open(path, "rb") as file:
            data = file.read(max(length, 1))
    except FileNotFoundError:
        return None
    return data or None
