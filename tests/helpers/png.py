"""Read the pixels of a PNG screenshot (8-bit RGB or RGBA, not interlaced: what Chromium writes).

Enough for tests to look at what a page really painted: where text is, what colour a corner is.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> samples per pixel (RGB, RGBA)


@dataclass(frozen=True)
class Image:
    """Decoded pixels; ``pixel(x, y)`` is (r, g, b, a) with a = 255 for images without alpha."""

    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]

    def pixel(self, x: int, y: int) -> tuple[int, int, int, int]:
        row, i = self.rows[y], x * self.channels
        if self.channels == 4:
            return row[i], row[i + 1], row[i + 2], row[i + 3]
        return row[i], row[i + 1], row[i + 2], 255

    def count(self, box: tuple[int, int, int, int], predicate: "Pixel") -> int:
        """How many pixels in ``box`` (left, top, right, bottom; right and bottom excluded) match."""
        left, top, right, bottom = box
        return sum(1 for y in range(max(0, top), min(self.height, bottom))
                   for x in range(max(0, left), min(self.width, right)) if predicate(self.pixel(x, y)))


class Pixel:
    """A test on one (r, g, b, a) pixel."""

    def __call__(self, rgba: tuple[int, int, int, int]) -> bool:
        raise NotImplementedError


class Bright(Pixel):
    """Opaque enough and light: white text on a dark screen."""

    def __call__(self, rgba: tuple[int, int, int, int]) -> bool:
        r, g, b, a = rgba
        return a > 128 and min(r, g, b) > 200


class Transparent(Pixel):
    def __call__(self, rgba: tuple[int, int, int, int]) -> bool:
        return rgba[3] == 0


def read(path: Path) -> Image:
    data = path.read_bytes()
    if data[:8] != SIGNATURE:
        raise ValueError(f"{path} is not a PNG")
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in CHANNELS or interlace:
                raise ValueError(f"{path}: only 8-bit RGB/RGBA, non-interlaced PNGs are read here")
            channels = CHANNELS[colour]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(kind, line, prior, channels)
        rows.append(bytes(line))
        prior = line
    return Image(width, height, channels, tuple(rows))


def _unfilter(kind: int, line: bytearray, prior: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prior[i]
        up_left = prior[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG filter {kind}")
