"""Scene -> SVG (text kept as text, one ``<g>`` per stage with its name), and PDF / PNG through CairoSVG."""
from __future__ import annotations

from typing import Iterable
from xml.sax.saxutils import escape, quoteattr

from .scene import LINE_HEIGHT, Box, Colour, Curve, Scene, Text

FONT = "Helvetica, Arial, 'DejaVu Sans', sans-serif"


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _points(pts: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in pts)


def _box(s: Scene, b: Box) -> str:
    fill, stroke = s.theme.hex(b.fill) if b.fill else "none", s.theme.hex(b.stroke)
    title = f"<title>{escape(b.name)}</title>" if b.name else ""
    common = f'stroke={quoteattr(stroke)} stroke-width="0.4" stroke-linejoin="round"'
    if b.shape == "circle":
        r = min(b.w, b.h) / 2
        return (f'<circle cx="{_n(b.x + b.w / 2)}" cy="{_n(b.y + b.h / 2)}" r="{_n(r)}" fill="{fill}" {common}>'
                f"{title}</circle>")
    if b.depth <= 0:
        rx = ' rx="3"' if b.shape == "rounded" else ""
        return (f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}"{rx} fill="{fill}" '
                f"{common}>{title}</rect>")
    faces = cuboid_faces(b)
    top, side = s.theme.hex(Colour(b.fill.role, 35)), s.theme.hex(Colour(b.fill.role, -18))
    return (f"<g>{title}"
            f'<polygon points="{_points(faces["top"])}" fill="{top}" {common}/>'
            f'<polygon points="{_points(faces["side"])}" fill="{side}" {common}/>'
            f'<polygon points="{_points(faces["front"])}" fill="{fill}" {common}/></g>')


def cuboid_faces(b: Box) -> dict[str, tuple[tuple[float, float], ...]]:
    """The three visible faces of a cuboid box (oblique projection, receding up and to the right)."""
    x, y, w, h, d = b.x, b.y, b.w, b.h, b.depth
    return {"front": ((x, y), (x + w, y), (x + w, y + h), (x, y + h)),
            "top": ((x, y), (x + d, y - d), (x + w + d, y - d), (x + w, y)),
            "side": ((x + w, y), (x + w + d, y - d), (x + w + d, y + h - d), (x + w, y + h))}


def _path(c: Curve) -> str:
    p = c.points
    segs = " ".join(f"C {_points(p[i:i + 3])}" for i in range(1, len(p) - 2, 3))
    return f"M {_points(p[:1])} {segs}"


def _curve(s: Scene, c: Curve) -> str:
    colour = s.theme.hex(c.stroke)
    dash = ' stroke-dasharray="2,1.5"' if c.dashed else ""
    marker = f' marker-end="url(#arrow-{colour[1:]})"' if c.arrow else ""
    return (f'<path d="{_path(c)}" fill="none" stroke="{colour}" stroke-width="{_n(c.width)}"{dash}{marker}>'
            f"<title>{escape(c.kind)}</title></path>")


def _text(s: Scene, t: Text) -> str:
    weight = ' font-weight="bold"' if t.bold else ""
    spans = "".join(f'<tspan x="{_n(t.x)}" y="{_n(t.y + t.size * (0.82 + i * LINE_HEIGHT))}">{escape(line)}</tspan>'
                    for i, line in enumerate(t.lines))
    return (f'<text font-family={quoteattr(FONT)} font-size="{_n(t.size)}" text-anchor="{t.anchor}" '
            f'fill="{s.theme.hex(t.colour)}"{weight}>{spans}</text>')


def to_svg(s: Scene) -> str:
    colours = sorted({s.theme.hex(c.stroke) for c in s.curves if c.arrow})
    markers = "".join(
        f'<marker id="arrow-{c[1:]}" viewBox="0 0 6 6" refX="5.5" refY="3" markerWidth="4" markerHeight="4" '
        f'orient="auto-start-reverse"><path d="M0,0 L6,3 L0,6 z" fill="{c}"/></marker>' for c in colours)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(s.width)}pt" height="{_n(s.height)}pt" '
           f'viewBox="0 0 {_n(s.width)} {_n(s.height)}">', f"<title>{escape(s.title)}</title>",
           f"<defs>{markers}</defs>"]
    if s.background:
        out.append(f'<rect width="100%" height="100%" fill="{s.theme.roles["background"]}"/>')
    groups = [None, *s.groups]
    for g in groups:
        body = ([_box(s, b) for b in s.boxes if b.group == g] + [_curve(s, c) for c in s.curves if c.group == g]
                + [_text(s, t) for t in s.texts if t.group == g])
        if not body:
            continue
        out.append(f"<g id={quoteattr(g)}><title>{escape(s.groups[g])}</title>" if g else "<g>")
        out.extend(body)
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def svg_to(svg: str, fmt: str, dpi: int = 96) -> bytes:
    """PDF or PNG of an SVG through CairoSVG (cairo keeps PDF text as text, fonts embedded)."""
    import cairosvg

    if fmt == "pdf":
        return cairosvg.svg2pdf(bytestring=svg.encode())
    if fmt == "png":
        return cairosvg.svg2png(bytestring=svg.encode(), dpi=dpi)
    raise ValueError(f"fmt must be pdf or png, got {fmt!r}")
