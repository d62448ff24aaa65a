"""Helpers that turn a stream of text pieces into a stream of byte chunks.

Every exporter yields ``bytes`` chunks of roughly :data:`CHUNK_BYTES`: large
enough that an aiohttp ``StreamResponse.write`` per chunk is cheap, small
enough that one ``next()`` on the generator is a few milliseconds of work.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

CHUNK_BYTES = 64 * 1024  # target size of one yielded chunk, bytes


def batched(pieces: Iterable[str], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Encode ``pieces`` as UTF-8 and yield them joined into chunks of about ``chunk_bytes``."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        data = piece.encode("utf-8")
        buffer.append(data)
        size += len(data)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield b"".join(buffer)


def peek(items: Iterable[T]) -> tuple[T | None, Iterator[T]]:
    """Return the first item (or None when empty) and an iterator over *all* items.

    Headers need to know the first caption (its language, whether it is a
    translation) before anything is written, without consuming it.
    """
    iterator = iter(items)
    for first in iterator:
        return first, itertools.chain((first,), iterator)
    return None, iterator
