"""Reading user images safely: size and pixel limits before decoding, every mode to RGB, EXIF orientation.

Anything that is not a readable image becomes an ``ImageError`` whose message says what to do.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: I001

MAX_UPLOAD_BYTES = 25 * 2**20  # set from explorer.limits
MAX_IMAGE_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "MPO")
# Decoding is capped globally too: Pillow refuses anything far above the limit before allocating it;
# between 1× and 2× the limit our own check below names the size.
Image.MAX_IMAGE_PIXELS = 2 * MAX_IMAGE_PIXELS


class ImageError(ValueError):
    """An upload that is not a usable image; the message is meant for the user."""


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise ImageError(f"the image declares too many pixels (limit {MAX_IMAGE_PIXELS / 1e6:.0f} MP); "
                             "use a smaller image") from None
        raise ImageError("this file is not an image we can read; use JPEG, PNG, WebP, BMP, GIF or TIFF") from None
    if img.format not in FORMATS:
        raise ImageError(f"{img.format or 'this'} files are not supported; use JPEG, PNG, WebP, BMP, GIF or TIFF")
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageError(f"the image is {w}×{h} = {w * h / 1e6:.1f} MP, over the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; "
                         "use a smaller image")
    if w < 1 or h < 1:
        raise ImageError("the image has no pixels")
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Every mode to 8-bit RGB: alpha composited on white, 16-bit and float scaled, CMYK and palettes converted."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if img.mode.startswith("I;16") else (float(arr.min()), float(arr.max()))
        if img.mode == "I" and arr.max() <= 65535 and arr.min() >= 0:
            lo, hi = 0.0, 65535.0 if arr.max() > 255 else 255.0
        arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(source: str | os.PathLike[str] | bytes, need_short_side: int = 256) -> Image.Image:
    """Decode an uploaded file (path or bytes) to an upright RGB image.

    Images much larger than needed are reduced first (JPEG by DCT scaling, others by integer factors),
    keeping at least twice ``need_short_side`` so the final resize still antialiases properly.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError:
            raise ImageError("the uploaded file could not be found; upload it again") from None
        if size > MAX_UPLOAD_BYTES:
            raise ImageError(f"the file is {size / 2**20:.1f} MiB, over the {MAX_UPLOAD_BYTES / 2**20:.0f} MiB "
                             "upload limit")
        data = path.read_bytes()
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"the file is {len(data) / 2**20:.1f} MiB, over the {MAX_UPLOAD_BYTES / 2**20:.0f} MiB limit")
    if not data:
        raise ImageError("the file is empty")
    img = _open(data)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (need_short_side * 2, need_short_side * 2))
        img.seek(0)  # GIF, TIFF: the first frame
        img.load()
        img = ImageOps.exif_transpose(img)
        factor = min(img.size) // (need_short_side * 2)
        if factor >= 2:
            img = img.reduce(factor)
        return _to_rgb(img)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image is damaged or truncated and cannot be decoded ({str(exc).splitlines()[0][:80]})") \
            from None
