"""Reading user images safely: size and pixel limits before decoding, every mode to RGB, EXIF orientation.

Anything that is not a readable image becomes an ``ImageError`` whose message says what to do.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..limits import DEFAULT_LIMITS, Limits

# A large JPEG is decoded at a reduced scale (DCT scaling), down to this many times the short side the
# preprocessing needs: several times faster, and within 2 grey levels of decoding it whole.
REDUCE_MARGIN = 4
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "MPO")


class ImageError(ValueError):
    """An upload that is not a usable image; the message is meant for the user."""


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header only; the pixel count is checked here, before anything is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow's own warning threshold is not ours: the check below applies the configured limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):  # Pillow's hard cap, far above any sensible limit
            raise ImageError(f"the image declares too many pixels (limit {max_pixels / 1e6:.0f} MP); "
                             "use a smaller image") from None
        raise ImageError("this file is not an image we can read; use JPEG, PNG, WebP, BMP, GIF or TIFF") from None
    if img.format not in FORMATS:
        raise ImageError(f"{img.format or 'this'} files are not supported; use JPEG, PNG, WebP, BMP, GIF or TIFF")
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(f"the image is {w}×{h} = {w * h / 1e6:.1f} MP, over the {max_pixels / 1e6:g} MP limit; "
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


def load_image(source: str | os.PathLike[str] | bytes, need_short_side: int = 256,
               limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """Decode an uploaded file (path or bytes) to an upright RGB image, within ``limits`` (size and pixels).

    Other formats decode in full, so preprocessing them is exactly torchvision's. A JPEG much larger than
    needed decodes at a reduced scale (at least REDUCE_MARGIN × ``need_short_side``): after the final resize
    it differs by at most 2 grey levels (tests/test_features.py measures it).
    """
    max_bytes = limits.upload_bytes
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError:
            raise ImageError("the uploaded file could not be found; upload it again") from None
        if size > max_bytes:
            raise ImageError(f"the file is {size / 2**20:.1f} MiB, over the {limits.max_upload_mb:g} MiB upload limit")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise ImageError(f"the file is {len(data) / 2**20:.1f} MiB, over the {limits.max_upload_mb:g} MiB upload limit")
    if not data:
        raise ImageError("the file is empty")
    img = _open(data, limits.image_pixels)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (need_short_side * REDUCE_MARGIN,) * 2)
        img.seek(0)  # GIF, TIFF: the first frame
        img.load()
        return _to_rgb(ImageOps.exif_transpose(img))
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError):
        # PIL's own words ("Truncated File Read", "broken data stream") say less than this to a user.
        raise ImageError("the image is damaged or truncated (the file ends early or its data is broken) and cannot "
                         "be decoded; save or export it again") from None
