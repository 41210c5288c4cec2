"""The durable spool: a write-ahead log of records on local disk.

Every record is appended here before the recording call returns; each exporter then reads the
spool at its own pace (:class:`SpoolReader`) and acknowledges what it has made durable in its
sink (a checkpoint). A segment is deleted once every exporter has acknowledged all of it.

Why own segments rather than SQLite in WAL mode: an append is one ``write()`` of a few hundred
bytes into the page cache (it survives ``kill -9``; ``fdatasync`` per the sync policy makes it
survive power loss), with no transaction, no B-tree and no lock shared with readers; readers
stream sequentially; recovery is one linear scan; space is freed by unlinking whole files.

Layout of ``{directory}`` (one spool per process; a lock file refuses a second owner)::

    LOCK                         flock'd by the owning process (holds its pid)
    00000000000000000000.seg     segments, named by the global position of their first byte
    checkpoint.<exporter>        the position each exporter has acknowledged

A segment starts with the 8-byte magic ``TTSPOOL1``; then frames: ``u32 length``,
``u32 crc32(payload)``, ``payload`` (:mod:`~tradetrace.pipeline.spool_codec`). Positions are
global byte offsets: a segment covers ``[start, end)`` and the next one starts at or after
``end``, so a checkpoint is one integer.

Recovery (on open): every segment is scanned; at the first frame that is torn (cut short) or
corrupt (bad length or checksum) the segment is truncated, and what followed is counted as
discarded (frames that could still be delimited, and bytes).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tradetrace.pipeline.health import InternalErrors

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock, one process by convention
    fcntl = None  # type: ignore[assignment]

SyncPolicy = Literal["none", "interval", "always"]
SYNC_POLICIES: tuple[str, ...] = ("none", "interval", "always")
MAGIC = b"TTSPOOL1"
_FRAME = struct.Struct("<II")
_CHECKPOINT = struct.Struct("<QI")
MAX_FRAME = 64 << 20  # a record is never this large; a bigger length field is corruption
_SUFFIX = ".seg"


class SpoolLockedError(RuntimeError):
    """Another live process owns this spool directory."""


@dataclass
class RecoveryReport:
    """What opening an existing spool found."""

    segments: int = 0
    records: int = 0
    bytes: int = 0
    discarded_records: int = 0
    discarded_bytes: int = 0
    damaged_segments: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_name(start: int) -> str:
    return f"{start:020d}{_SUFFIX}"


def frame(payload: bytes) -> bytes:
    """One frame: length, checksum, payload."""
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def iter_frames(data: bytes | memoryview, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(end offset, payload)`` of each whole, valid frame from ``offset``; stops at the first
    frame that is cut short or fails its checks."""
    size = len(data)
    head = _FRAME.size
    while offset + head <= size:
        length, checksum = _FRAME.unpack_from(data, offset)
        end = offset + head + length
        if not 0 < length <= MAX_FRAME or end > size:  # no record encodes to 0 bytes: zeros
            return
        payload = bytes(data[offset + head : end])
        if zlib.crc32(payload) != checksum:
            return
        yield end, payload
        offset = end


def count_delimitable(data: bytes | memoryview, offset: int) -> int:
    """How many frames (valid or not) can be told apart from ``offset``: the records a cut at
    ``offset`` discards. A trailing fragment counts as one."""
    count = 0
    size = len(data)
    while offset < size:
        count += 1
        if offset + _FRAME.size > size:
            break
        length, _ = _FRAME.unpack_from(data, offset)
        if not 0 < length <= MAX_FRAME:
            break
        offset += _FRAME.size + length
    return count


class Spool:
    """Appends frames (any thread), serves readers, keeps checkpoints, frees segments.

    ``append`` never raises: a full spool waits up to ``block_timeout`` (``overflow="block"``)
    or not at all (``"drop_newest"``), then drops and counts; a failed write is counted.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        errors: InternalErrors,
        sync: SyncPolicy = "interval",
        sync_interval: float = 0.1,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 64 << 20,
        overflow: Literal["block", "drop_newest"] = "block",
        block_timeout: float = 0.1,
    ) -> None:
        if sync not in SYNC_POLICIES:
            raise ValueError(f"spool_sync={sync!r}: must be one of {', '.join(SYNC_POLICIES)}")
        if not sync_interval > 0:
            raise ValueError(f"spool_sync_interval={sync_interval!r}: must be above zero")
        if type(max_bytes) is not int or max_bytes < 1 << 20:
            raise ValueError(f"max_spool_bytes={max_bytes!r}: must be an int of at least 1 MiB")
        self.directory = Path(directory)
        self.sync = sync
        self.sync_interval = sync_interval
        self.max_bytes = max_bytes
        self.segment_bytes = max(1 << 16, min(segment_bytes, max_bytes // 4))
        self.overflow = overflow
        self.block_timeout = block_timeout
        self._errors = errors
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_lock()
        self._write_lock = threading.Lock()  # appends, rotation
        self._sync_lock = threading.Lock()  # fdatasync of the current segment vs its closing
        self._room = threading.Condition()  # space freed by acknowledgements
        self._release_lock = threading.Lock()  # segment deletion
        self._checkpoint_fds: dict[str, int] = {}
        self.acknowledged: dict[str, int] = {}
        self.appended = 0
        self.dropped = 0
        self.write_failures = 0
        self._closed = False
        self.recovery = RecoveryReport()
        self._segments: dict[int, int] = {}  # start -> end, closed segments
        self._segment_frames: dict[int, int] = {}  # start -> frames, recovered segments
        self._closed_bytes = 0
        self._recover()
        self.recovered_end = self._open_segment(self._next_start())
        self._dirty = False
        self._syncer: threading.Thread | None = None
        if sync == "interval":
            self._stop_syncer = threading.Event()
            self._syncer = threading.Thread(
                target=self._sync_loop, name="tradetrace-spool-sync", daemon=True
            )
            self._syncer.start()

    # --- ownership -----------------------------------------------------------------------

    def _take_lock(self) -> int:
        path = self.directory / "LOCK"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise SpoolLockedError(
                    f"the spool {self.directory} is in use by another process (pid {owner}); "
                    "give each process its own directory or service_name"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    # --- recovery ------------------------------------------------------------------------

    def _segment_files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            stem = path.name[: -len(_SUFFIX)]
            if stem.isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def _recover(self) -> None:
        started = time.monotonic()
        report = self.recovery
        for start, path in self._segment_files():
            data = path.read_bytes()
            valid = len(MAGIC) if data.startswith(MAGIC) else 0
            frames = 0
            if valid:
                for end, _ in iter_frames(data, valid):
                    valid = end
                    frames += 1
            if valid < len(data):
                report.discarded_bytes += len(data) - valid
                report.discarded_records += count_delimitable(data, max(valid, len(MAGIC)))
                report.damaged_segments.append(path.name)
            if valid == 0:
                path.unlink()
                continue
            if valid < len(data):
                os.truncate(path, valid)
            report.segments += 1
            report.records += frames
            report.bytes += valid
            self._segments[start] = start + valid
            self._segment_frames[start] = frames
            self._closed_bytes += valid
        report.seconds = time.monotonic() - started
        if report.discarded_bytes:
            self._errors.report(
                "spool_damaged_tail",
                detail=f"{self.directory}: cut {report.discarded_records} torn or corrupt "
                f"record(s), {report.discarded_bytes} bytes, in {report.damaged_segments}",
            )

    def frames_from(self, position: int) -> int:
        """How many recovered frames lie at or after ``position`` (a lane's backlog at start)."""
        count = 0
        for start, end in sorted(self._segments.items()):
            if start >= position:
                count += self._segment_frames.get(start, 0)
            elif position < end:
                data = self.path_of(start).read_bytes()
                count += sum(1 for _ in iter_frames(data, position - start))
        return count

    def _next_start(self) -> int:
        """After the last segment, and never below a checkpoint (an emptied spool restarts
        where its exporters left off)."""
        checkpoints = (self.checkpoint(p.name.split(".", 1)[1])
                       for p in self.directory.glob("checkpoint.*"))  # fmt: skip
        return max(max(self._segments.values(), default=0),
                   max((c for c in checkpoints if c is not None), default=0))  # fmt: skip

    def oldest(self) -> int:
        """The position of the first record still in the spool."""
        return min(self._segments, default=self._current_start) + len(MAGIC)

    # --- writing -------------------------------------------------------------------------

    def _open_segment(self, start: int) -> int:
        path = self.directory / segment_name(start)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        os.write(fd, MAGIC)
        if self.sync != "none":
            os.fdatasync(fd)
            self._sync_directory()
        self._fd = fd
        self._current_start = start
        self.end = start + len(MAGIC)
        return self.end

    def _sync_directory(self) -> None:
        with contextlib.suppress(OSError):  # not every file system lets a directory be synced
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @property
    def used_bytes(self) -> int:
        return self._closed_bytes + self.end - self._current_start

    def append(self, payload: bytes) -> bool:
        """Write one record's frame; True once it is in the spool file."""
        data = frame(payload)
        size = len(data)
        with self._write_lock:
            if self._closed:
                self._count_drop("spool_closed", "a record arrived after shutdown()")
                return False
            if self.used_bytes + size > self.max_bytes and not self._wait_for_room(size):
                self._count_drop(
                    "spool_full", f"spool full ({self.max_bytes} bytes, overflow={self.overflow})"
                )
                return False
            try:
                written = os.write(self._fd, data)
            except OSError as exc:
                self.write_failures += 1
                self._count_drop("spool_write", f"cannot write the spool: {exc}")
                return False
            if written != size:  # a short write (disk full): cut it off again
                self.write_failures += 1
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self.end - self._current_start)
                self._count_drop("spool_write", "short write to the spool (disk full?)")
                return False
            self.end += size
            self.appended += 1
            self._dirty = True
            if self.sync == "always":
                os.fdatasync(self._fd)
            if self.end - self._current_start >= self.segment_bytes:
                self._rotate()
        return True

    def _count_drop(self, kind: str, detail: str) -> None:
        self.dropped += 1
        self._errors.report(kind, detail=detail + "; records are being dropped")

    def _wait_for_room(self, size: int) -> bool:
        if self.overflow != "block" or self.block_timeout <= 0:
            return False
        deadline = time.monotonic() + self.block_timeout
        with self._room:
            while self.used_bytes + size > self.max_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._room.wait(remaining)
        return True

    def _rotate(self) -> None:
        old_start, old_end = self._current_start, self.end
        with self._sync_lock:
            if self.sync != "none":
                os.fdatasync(self._fd)
            os.close(self._fd)
        self._segments[old_start] = old_end
        self._closed_bytes += old_end - old_start
        self._open_segment(old_end)

    def _sync_loop(self) -> None:
        while not self._stop_syncer.wait(self.sync_interval):
            self.sync_now()

    def sync_now(self) -> None:
        """``fdatasync`` the current segment if anything was written since the last sync."""
        if not self._dirty:
            return
        self._dirty = False
        with self._sync_lock:
            try:
                os.fdatasync(self._fd)
            except OSError as exc:  # a closed fd after shutdown, or an I/O error
                if not self._closed:
                    self._errors.report("spool_sync", exc)

    # --- reading and acknowledging -------------------------------------------------------

    def readable(self, position: int) -> tuple[int, int, int]:
        """``(segment start, position, readable end)`` for a reader at ``position``: the
        segment holding it (or the next one when ``position`` is at a segment's end), with the
        position moved past the segment's header. Nothing to read when position >= end."""
        current = self._current_start
        if position < current:
            for start, end in sorted(self._segments.items()):
                if position < end:
                    return start, max(position, start + len(MAGIC)), end
        return current, max(position, current + len(MAGIC)), self.end

    def path_of(self, start: int) -> Path:
        return self.directory / segment_name(start)

    def checkpoint(self, name: str) -> int | None:
        """The position exporter ``name`` acknowledged before (``None``: never or unreadable)."""
        try:
            data = (self.directory / f"checkpoint.{name}").read_bytes()
        except OSError:
            return None
        if len(data) != _CHECKPOINT.size:
            return None
        position, checksum = _CHECKPOINT.unpack(data)
        if zlib.crc32(position.to_bytes(8, "little")) != checksum:
            return None
        return position

    def register(self, name: str) -> int:
        """Add reader ``name``; returns where it starts: its checkpoint, or the oldest record
        still in the spool if it has none. Segments are kept until it acknowledges them."""
        position = self.checkpoint(name)
        oldest = self.oldest()
        start = oldest if position is None else min(max(position, oldest), self.end)
        self.acknowledged[name] = start
        return start

    def acknowledge(self, name: str, position: int) -> None:
        """Exporter ``name`` has made everything before ``position`` durable in its sink."""
        fd = self._checkpoint_fds.get(name)
        if fd is None:
            fd = os.open(self.directory / f"checkpoint.{name}", os.O_RDWR | os.O_CREAT, 0o600)
            self._checkpoint_fds[name] = fd
        os.pwrite(fd, _CHECKPOINT.pack(position, zlib.crc32(position.to_bytes(8, "little"))), 0)
        self.acknowledged[name] = position
        self.release()

    def forget_checkpoints(self, keep: set[str]) -> None:
        """Delete the checkpoints of exporters no longer configured (they would pin segments)."""
        for path in self.directory.glob("checkpoint.*"):
            if path.name.split(".", 1)[1] not in keep:
                path.unlink(missing_ok=True)

    def release(self) -> None:
        """Delete closed segments every exporter has acknowledged entirely."""
        freed = False
        with self._release_lock:  # lanes acknowledge from their own threads
            low = min(self.acknowledged.values(), default=self.end)
            for start, end in sorted(self._segments.items()):
                if end > low:
                    break
                with contextlib.suppress(FileNotFoundError):
                    self.path_of(start).unlink()
                del self._segments[start]
                self._segment_frames.pop(start, None)
                self._closed_bytes -= end - start
                freed = True
        if freed:
            with self._room:
                self._room.notify_all()

    # --- end -----------------------------------------------------------------------------

    def close(self, timeout: float = 1.0) -> None:
        """Stop writing, sync, release the lock; delete the spool's files if every exporter
        acknowledged everything. Waits at most ``timeout`` for a writer (a signal handler may
        interrupt one)."""
        if self._closed:
            return
        if self._syncer is not None:
            self._stop_syncer.set()
        if not self._write_lock.acquire(timeout=max(0.0, timeout)):
            self._errors.report("spool_close", detail="a writer held the spool; left open")
            return
        try:
            self._closed = True
            with self._sync_lock:
                if self.sync != "none":
                    with contextlib.suppress(OSError):
                        os.fdatasync(self._fd)
                os.close(self._fd)
        finally:
            self._write_lock.release()
        for fd in self._checkpoint_fds.values():
            os.close(fd)
        self._checkpoint_fds.clear()
        if all(p >= self.end for p in self.acknowledged.values()):
            # everything delivered everywhere: leave an empty spool behind
            for start in [*self._segments, self._current_start]:
                self.path_of(start).unlink(missing_ok=True)
            for path in self.directory.glob("checkpoint.*"):
                path.unlink(missing_ok=True)
            self._segments.clear()
            self._closed_bytes = 0
            self._remove_if_empty()
        os.close(self._lock_file)

    def _remove_if_empty(self) -> None:
        """Delete the lock file and the directory (and an emptied parent ``spool/``) when
        nothing else is in it: a clean shutdown leaves no trace."""
        if any(p.name != "LOCK" for p in self.directory.iterdir()):
            return
        with contextlib.suppress(OSError):
            (self.directory / "LOCK").unlink()
            self.directory.rmdir()
            if self.directory.parent.name == "spool":
                self.directory.parent.rmdir()

    def abandon(self) -> None:
        """In a forked child: forget the parent's spool without touching its files."""
        self._closed = True
        if self._syncer is not None:
            self._stop_syncer.set()
        for fd in (self._fd, self._lock_file, *self._checkpoint_fds.values()):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._checkpoint_fds = {}

    def stats(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "bytes": self.used_bytes,
            "max_bytes": self.max_bytes,
            "segments": len(self._segments) + 1,
            "sync": self.sync,
            "appended": self.appended,
            "dropped": self.dropped,
            "write_failures": self.write_failures,
            "recovered": self.recovery.as_dict(),
        }


class SpoolReader:
    """One exporter's cursor over the spool: whole frames from ``position`` on."""

    def __init__(self, spool: Spool, position: int, chunk_bytes: int = 1 << 20) -> None:
        self.spool = spool
        self.position = position
        self._chunk = chunk_bytes
        self._file: Any = None
        self._file_start = -1

    def read(self, max_records: int) -> list[bytes]:
        """Up to ``max_records`` payloads from the current position (advancing it); a frame
        that fails its checks ends the segment for this reader (counted)."""
        payloads: list[bytes] = []
        while len(payloads) < max_records:
            start, position, end = self.spool.readable(self.position)
            self.position = position
            if position >= end:
                if start == self.spool._current_start:
                    break  # nothing more yet
                continue  # a closed segment with no record (a process that died at once)
            data = self._read(start, position, min(end - position, self._chunk))
            if not data:
                break
            offset = 0
            for frame_end, payload in iter_frames(data):
                payloads.append(payload)
                offset = frame_end
                if len(payloads) >= max_records:
                    break
            if offset == 0:  # one frame larger than the chunk, or damage
                length = _FRAME.unpack_from(data, 0)[0] if len(data) >= _FRAME.size else 0
                if len(data) < _FRAME.size + length <= MAX_FRAME and position + _FRAME.size + (
                    length
                ) <= end:
                    whole = self._read(start, position, _FRAME.size + length)
                    for frame_end, payload in iter_frames(whole):
                        payloads.append(payload)
                        offset = frame_end
                if offset == 0:
                    self.spool._errors.report(
                        "spool_read", detail=f"unreadable frame at {position}; segment skipped"
                    )
                    offset = end - position
            self.position = position + offset
        return payloads

    def _read(self, start: int, position: int, size: int) -> bytes:
        if self._file_start != start:
            self.close()
            self._file = open(self.spool.path_of(start), "rb")  # noqa: SIM115 - reused
            self._file_start = start
        self._file.seek(position - start)
        return self._file.read(size)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._file_start = -1
