"""A figure as plain geometry: boxes, cuboids, curves and text in points, y pointing down.

Layouts (the paper figure, a Graphviz layout) produce a Scene; writers (SVG, TikZ, draw.io) only translate
it, so every format shows the same drawing. Colours are named roles of a theme, so TikZ can keep them as
``\\definecolor``s an author restyles, while SVG and draw.io resolve them to hex.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True)
class Colour:
    """A theme role, optionally mixed with white (``tint`` > 0) or black (``tint`` < 0), in percent."""

    role: str
    tint: int = 0


@dataclass(frozen=True)
class Theme:
    name: str
    roles: dict[str, str]  # role -> "#rrggbb"; "background", "text" and "line" always present

    def hex(self, c: Colour) -> str:
        base = self.roles[c.role]
        rgb = [int(base[i:i + 2], 16) for i in (1, 3, 5)]
        toward, share = (255, c.tint / 100) if c.tint > 0 else (0, -c.tint / 100)
        return "#" + "".join(f"{round(v + (toward - v) * share):02x}" for v in rgb)


@dataclass(frozen=True)
class Box:
    """A rectangle (``shape`` "rect", "rounded" or "circle" inscribed in it); ``depth`` > 0 draws it as a
    cuboid whose top and right faces recede up and to the right by ``depth`` points."""

    id: str
    x: float
    y: float
    w: float
    h: float
    fill: Colour | None  # None: an outline (a Graphviz cluster's frame)
    stroke: Colour = Colour("line")
    shape: str = "rect"
    depth: float = 0.0
    group: str | None = None  # the stage (paper) or cluster (graph) it belongs to
    name: str = ""  # what it is, in the model's words (block name, stage, layer)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Left, top, right, bottom, the receding faces included."""
        return self.x, self.y - self.depth, self.x + self.w + self.depth, self.y + self.h


@dataclass(frozen=True)
class Curve:
    """A path of cubic Bézier segments: ``points`` = p0, c1, c2, p1, c1, c2, p2, ...; ``source``/``target``
    name the boxes it joins, so editable formats can keep it attached."""

    id: str
    points: tuple[Point, ...]
    stroke: Colour = Colour("line")
    width: float = 0.6
    dashed: bool = False
    arrow: bool = True
    source: str | None = None
    target: str | None = None
    kind: str = "data"  # "data", "identity" or "projection"
    group: str | None = None


@dataclass(frozen=True)
class Text:
    """Centred lines of text whose top edge is at ``y``; ``owner`` is the box or curve it labels, when the
    text sits inside it (a Graphviz node's label) rather than beside it (a paper figure's stage label)."""

    id: str
    x: float
    y: float
    lines: tuple[str, ...]
    size: float
    colour: Colour = Colour("text")
    owner: str | None = None
    group: str | None = None
    bold: bool = False
    anchor: str = "middle"  # or "start": ``x`` is the left edge

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        w = max(text_width(line, self.size) for line in self.lines)
        left = self.x - w / 2 if self.anchor == "middle" else self.x
        return left, self.y, left + w, self.y + self.height

    @property
    def height(self) -> float:
        return len(self.lines) * self.size * LINE_HEIGHT


@dataclass
class Scene:
    width: float
    height: float
    theme: Theme
    title: str = ""
    boxes: list[Box] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # id -> label (stages, clusters)
    background: bool = True  # paint the theme's background (a paper figure); Graphviz layouts are on white


LINE_HEIGHT = 1.2
# Advance widths in em of DejaVu Sans, the widest of the sans fonts a renderer may substitute for Helvetica
# (Helvetica and LaTeX's sans are narrower), so a layout that fits with these fits with any of them.
_WIDE = {**dict.fromkeys("0123456789", 0.64), **dict.fromkeys("mwMW", 0.98), **dict.fromkeys("ijl.,:;|!' ", 0.32),
         **dict.fromkeys("frt()[]", 0.41), "×": 0.84, "→": 0.84, "·": 0.32, "+": 0.84, "-": 0.36, "_": 0.5}


def text_width(s: str, size: float) -> float:
    """A safe upper estimate of the printed width of ``s`` at ``size`` points."""
    return size * sum(_WIDE.get(ch, 0.76 if ch.isupper() else 0.62) for ch in s)


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float = 0.0) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad
