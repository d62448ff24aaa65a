"""Write a zip archive as a stream of byte chunks, never holding a whole entry.

:func:`stream_zip` drives :mod:`zipfile` in its streaming mode: the archive is
written to a non-seekable sink, so each entry gets a data descriptor (CRC and
sizes after the data) instead of a patched local header. Deflate runs at
zlib's default level (6). Memory is one
compressor per entry plus the central directory (about 100 bytes an entry).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assistant.export.chunks import CHUNK_BYTES

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_FILE_MODE = 0o644 << 16  # rw-r--r-- in the Unix bits of external_attr


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One file to put in the archive; ``chunks`` is consumed lazily, once."""

    name: str
    chunks: Iterable[bytes]
    date_time: tuple[int, int, int, int, int, int] = ZIP_EPOCH
    compress: bool = True


class _ChunkSink(io.RawIOBase):
    """A write-only, non-seekable file that collects what zipfile writes until drained."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        part = bytes(data)
        self._parts.append(part)
        self.pending += len(part)
        return len(part)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return out


def zip_date_time(unix_ms: int | None) -> tuple[int, int, int, int, int, int]:
    """The zip timestamp (UTC) for a unix time in ms; times before 1980 or unknown give 1980-01-01."""
    if unix_ms is None:
        return ZIP_EPOCH
    moment = dt.datetime.fromtimestamp(unix_ms / 1000, tz=dt.timezone.utc)
    if moment.year < ZIP_EPOCH[0]:
        return ZIP_EPOCH
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def stream_zip(entries: Iterable[ZipEntry], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield a zip archive holding ``entries`` in order, in chunks of about ``chunk_bytes``."""
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, mode="w") as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=entry.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            info.external_attr = _FILE_MODE
            with archive.open(info, mode="w") as member:
                for chunk in entry.chunks:
                    member.write(chunk)
                    if sink.pending >= chunk_bytes:
                        yield sink.drain()
            if sink.pending >= chunk_bytes:
                yield sink.drain()
    tail = sink.drain()
    if tail:
        yield tail
