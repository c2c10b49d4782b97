"""Files made to be refused (and a few odd but valid ones), shared by the decoding, weights and endpoint tests."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
            + chunk(b"IEND", b""))


def noise(size: tuple[int, int] = (300, 300)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


class Exploit:
    """Unpickling this runs ``touch marker``: a checkpoint loader that executes it has failed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
