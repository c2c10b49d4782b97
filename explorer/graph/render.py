"""Rendering Graphviz source to SVG / PDF / PNG with the system ``dot`` program."""
from __future__ import annotations

import shutil

import graphviz

RENDER_FORMATS: tuple[str, ...] = ("svg", "pdf", "png")
MIN_DPI, MAX_DPI, DEFAULT_DPI = 36, 600, 96
INSTALL_HINT = ("Graphviz's `dot` program is not installed, so diagrams cannot be drawn "
                "(DOT, JSON and CSV exports still work). Install it with `sudo apt-get install graphviz` "
                "(Debian/Ubuntu), `brew install graphviz` (macOS) or from https://graphviz.org/download/, "
                "then restart.")


class GraphvizMissing(RuntimeError):
    """The ``dot`` executable is not on PATH."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


def dot_available() -> bool:
    return shutil.which("dot") is not None


MAX_PNG_SIDE = 32_000  # cairo's surface limit is 32,767 px


def svg_size_pt(svg: bytes) -> tuple[float, float]:
    """Width and height of a Graphviz SVG, in points."""
    import re

    m = re.search(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if not m:
        raise ValueError("not a Graphviz SVG (no width/height in points)")
    return float(m.group(1)), float(m.group(2))


def check_dpi(dpi: object) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not MIN_DPI <= dpi <= MAX_DPI:
        raise ValueError(f"dpi must be an integer from {MIN_DPI} to {MAX_DPI}, got {dpi!r}")
    return dpi


def check_png_size(svg: bytes, dpi: int) -> tuple[int, int]:
    """Pixel size of the PNG at ``dpi``; ValueError with the fix when it is too large."""
    w, h = (round(v * dpi / 72) for v in svg_size_pt(svg))
    if max(w, h) > MAX_PNG_SIDE:
        best = int(dpi * MAX_PNG_SIDE / max(w, h))
        raise ValueError(f"a PNG at {dpi} dpi would be {w:,}×{h:,} px, over the {MAX_PNG_SIDE:,} px limit; "
                         f"use at most {best} dpi, a left-to-right layout, or SVG/PDF (which scale without limit)")
    return w, h


def render(source: str, fmt: str = "svg", dpi: int = DEFAULT_DPI) -> bytes:
    """Lay out and render ``source``; ``dpi`` sets the PNG scale (72 dpi = 1 px per point)."""
    if fmt not in RENDER_FORMATS:
        raise ValueError(f"render format must be one of {list(RENDER_FORMATS)}, got {fmt!r}")
    check_dpi(dpi)
    if not dot_available():
        raise GraphvizMissing()
    if fmt == "png":  # a graph attribute rather than a -G flag, so graphviz.pipe can run it
        source = source.replace("{", f"{{\n  graph [dpi={dpi}];", 1)
    try:
        return graphviz.pipe("dot", fmt, source.encode(), quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing() from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"dot could not render the graph: {detail[0] if detail else exc}") from None
