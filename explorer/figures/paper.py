"""The paper figure: a ResNet drawn as the classic CNN diagram, from a Trace.

Left to right: the input, the stem, each stage (its first block, which downsamples, and the rest as one box,
or every block when ``unit="blocks"``), the head. A box's height follows the spatial resolution and its
depth (extent along the flow) the channels, both on log scales so ResNet-18 and Wide ResNet-101 read alike;
3-D boxes recede by the resolution too. Every residual connection is an arc over its block(s): grey and
dashed for identity shortcuts, orange with a square (the 1×1 conv) for projections, plain orange for the CIFAR
family's option A (subsample + zero-pad: no weights). The figure is exactly
one column or the full page wide: box depths and gaps shrink or grow to fit, never the text, and each
stage's label gets the room it needs, so labels never overlap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..tracing.records import BlockRecord, Trace, format_shape
from .scene import LINE_HEIGHT, Box, Colour, Curve, Scene, Text, text_width
from .themes import check_theme, role_name

SIZES: dict[str, tuple[float, float]] = {"column": (240.0, 7.0), "page": (504.0, 8.0)}  # width pt, font pt
UNITS: tuple[str, ...] = ("stages", "blocks")
MARGIN, GROUP_GAP, PIECE_GAP = 4.0, 7.0, 2.5
MIN_SCALE, MAX_SCALE = 0.08, 2.5


def box_height(resolution: int) -> float:
    """Front-face height for a ``resolution``×``resolution`` map: 7 px -> 9 pt, doubling -> +8 pt."""
    return max(6.0, 9.0 + 8.0 * math.log2(max(resolution, 1) / 7))


def box_depth(channels: int) -> float:
    """Extent along the flow for ``channels``: 16 or fewer -> 2.5 pt, doubling -> +2.6 pt."""
    return 2.5 + 2.6 * math.log2(max(channels, 16) / 16)


@dataclass(frozen=True)
class _Piece:
    id: str
    name: str
    role: str
    channels: int
    resolution: int
    flat: bool
    height: float | None = None  # a fixed height (the fc layer), otherwise from the resolution
    arc: str | None = None  # "identity" / "projection" / "padded" (option A): a residual arc over this piece

    @property
    def h(self) -> float:
        return self.height if self.height is not None else box_height(self.resolution)

    @property
    def oblique(self) -> float:
        return 0.0 if self.flat else 0.3 * self.h


@dataclass
class _Slot:
    group: str
    wide: tuple[str, ...]  # the label on two lines, and on more, narrower ones for crowded figures
    narrow: tuple[str, ...]
    pieces: list[_Piece] = field(default_factory=list)
    label: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.label = self.label or self.wide

    def content(self, sx: float) -> float:
        return (sum(box_depth(p.channels) * sx for p in self.pieces) + PIECE_GAP * sx * (len(self.pieces) - 1)
                + self.pieces[-1].oblique)

    def width(self, sx: float, size: float) -> float:
        return max(self.content(sx), max(text_width(line, size) for line in self.label))


def _shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """Channels and resolution of a (C, H, W) or (C,) shape."""
    return shape[0], (shape[1] if len(shape) > 1 else 1)


def _block_piece(b: BlockRecord, flat: bool, id: str | None = None) -> _Piece:
    c, r = _shape(b.out_shape)
    return _Piece(id or b.name, id or b.name, role_name(b.block_type), c, r, flat,
                  arc="identity" if b.downsample is None else "projection" if b.downsample.projection else "padded")


def _slots(t: Trace, unit: str, flat: bool) -> list[_Slot]:
    c, r = _shape(t.input_shape)
    slots = [_Slot("input", ("input", format_shape(t.input_shape)), ("input", *_narrow(t.input_shape)),
                   [_Piece("input", "input", "io", c, r, flat)])]
    stem = _Slot("stem", ("stem", format_shape(t.stem.out_shape)), ("stem", *_narrow(t.stem.out_shape)))
    shapes = [layer.out_shape for layer in t.stem.layers if layer.kind == "conv" or "pool" in layer.kind]
    for i, shape in enumerate(shapes or [t.stem.out_shape]):
        if i == 0 or shape != shapes[i - 1]:
            stem.pieces.append(_Piece(f"stem.{i}", "stem", "stem", *_shape(shape), flat))
    slots.append(stem)
    for s in t.stages:
        members = [b for b in t.blocks if b.stage == s.stage]
        slot = _Slot(s.name, (f"{s.name} ×{s.blocks}", format_shape(s.out_shape)),
                     (s.name, f"×{s.blocks}", *_narrow(s.out_shape)))
        if unit == "blocks":
            slot.pieces += [_block_piece(b, flat) for b in members]
        else:
            slot.pieces.append(_block_piece(members[0], flat))
            if len(members) > 1:
                slot.pieces.append(_block_piece(members[1], flat, f"{members[1].name}-{members[-1].name}"))
        slots.append(slot)
    c, r = _shape(t.head.in_shape)
    n = t.output_shape[0]
    slots.append(_Slot("head", ("head", f"fc {n:,}"), ("head", "fc", f"{n:,}"), [
        _Piece("head.pool", "global pool", "head", c, 1, flat),
        _Piece("head.fc", "fc", "head", 16, 1, True, height=box_height(max(7, round(math.sqrt(n)) * 4))),
    ]))
    return slots


def _narrow(shape: tuple[int, ...]) -> tuple[str, ...]:
    """``1024 ch`` and ``14×14`` on separate lines."""
    return (f"{shape[0]:,} ch", format_shape(shape[1:])) if len(shape) > 1 else (f"{shape[0]:,}",)


def _fit(slots: list[_Slot], width: float, size: float) -> tuple[float, float, float]:
    """The depth scale that makes the slots fill ``width``, the gap between slots, and the width the layout
    takes (over ``width`` only when even the narrow labels and the thinnest boxes do not fit: the caller then
    scales the whole figure down)."""
    fixed = 2 * MARGIN + GROUP_GAP * (len(slots) - 1)

    def total(sx: float) -> float:
        return fixed + sum(s.width(sx, size) for s in slots)

    if total(MAX_SCALE) <= width:
        return MAX_SCALE, GROUP_GAP + (width - total(MAX_SCALE)) / (len(slots) - 1), width
    if total(MIN_SCALE) > width:
        for s in slots:
            s.label = s.narrow
    lo, hi = MIN_SCALE, MAX_SCALE
    if total(lo) > width:
        return lo, GROUP_GAP, total(lo)
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total(mid) <= width else (lo, mid)
    return lo, GROUP_GAP, width


def paper_scene(t: Trace, unit: str = "stages", flat: bool = False, theme: str = "light",
                size: str = "column") -> Scene:
    """The figure of ``t``; ``unit`` "stages" or "blocks", ``flat`` for 2-D boxes, ``size`` "column"/"page"."""
    if unit not in UNITS:
        raise ValueError(f"a paper figure draws {' or '.join(UNITS)}, got {unit!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)}, got {size!r}")
    width, font = SIZES[size]
    slots = _slots(t, unit, flat)
    sx, gap, laid_out = _fit(slots, width, font)
    pieces = [p for s in slots for p in s.pieces]
    above = max(p.h / 2 + p.oblique for p in pieces)
    arc_h = 2.2 * font
    axis = MARGIN + arc_h + 2 + above
    label_y = axis + max(p.h / 2 for p in pieces) + 4
    scene = Scene(laid_out, 0, check_theme(theme), title=f"{t.model_name}: paper {unit}")

    x, placed = MARGIN, []
    for slot in slots:
        w = slot.width(sx, font)
        scene.groups[slot.group] = " ".join(slot.label)
        px = x + (w - slot.content(sx)) / 2
        for p in slot.pieces:
            d = box_depth(p.channels) * sx
            box = Box(p.id, px, axis - p.h / 2, d, p.h, Colour(p.role), depth=p.oblique, group=slot.group,
                      name=p.name)
            scene.boxes.append(box)
            placed.append((box, p))
            px += d + PIECE_GAP * sx
        scene.texts.append(Text(f"{slot.group}:label", x + w / 2, label_y, slot.label, font, group=slot.group))
        x += w + gap
    _connect(scene, placed, slots, arc_h)
    bottom = max(tx.y + tx.height for tx in scene.texts) + 5
    scene.height = _legend(scene, {p.role for p in pieces if p.arc}, bottom, font * 0.9,
                           {p.arc for p in pieces if p.arc}) + MARGIN
    return scale(scene, width / laid_out) if laid_out > width else scene


def scale(s: Scene, k: float) -> Scene:
    """The whole figure, text included, scaled by ``k`` (a crowded figure fitted to its column)."""
    def pts(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        return tuple((x * k, y * k) for x, y in points)

    return Scene(s.width * k, s.height * k, s.theme, s.title,
                 [replace(b, x=b.x * k, y=b.y * k, w=b.w * k, h=b.h * k, depth=b.depth * k) for b in s.boxes],
                 [replace(c, points=pts(c.points), width=c.width * k) for c in s.curves],
                 [replace(t, x=t.x * k, y=t.y * k, size=t.size * k) for t in s.texts], s.groups, s.background)


def _connect(scene: Scene, placed: list[tuple[Box, _Piece]], slots: list[_Slot], arc_h: float) -> None:
    """Forward arrows between stages, and each block's residual arc from its input to its output."""
    ends = {s.group: (s.pieces[0].id, s.pieces[-1].id) for s in slots}
    boxes = {b.id: b for b, _ in placed}
    for a, b in zip(slots, slots[1:]):
        tail, head = boxes[ends[a.group][1]], boxes[ends[b.group][0]]
        y = head.y + head.h / 2
        x0, x1 = tail.x + tail.w + tail.depth + 1, head.x - 1
        if x1 - x0 >= 3:
            scene.curves.append(Curve(f"{tail.id}->{head.id}", _line((x0, y), (x1, y)), source=tail.id,
                                      target=head.id))
    for i, (box, p) in enumerate(placed):
        if p.arc is None:
            continue
        prev, nxt = placed[i - 1][0], placed[i + 1][0]
        x0 = (prev.x + prev.w + box.x) / 2 if prev.group == box.group else box.x - 1
        x1 = (box.x + box.w + nxt.x) / 2 if nxt.group == box.group else box.x + box.w + box.depth + 1
        x1 = max(x1, box.x + box.w + min(box.depth, 1.5))
        base = box.y - box.depth - 1.5
        lift = min(arc_h, max(2.0, 0.9 * (x1 - x0)))
        colour = Colour("projection" if p.arc == "padded" else p.arc)
        scene.curves.append(Curve(f"{p.id}:shortcut", ((x0, base), (x0, base - lift), (x1, base - lift), (x1, base)),
                                  stroke=colour, width=0.5 if p.arc == "identity" else 0.8,
                                  dashed=p.arc == "identity", source=prev.id, target=nxt.id, kind=p.arc,
                                  group=box.group))
        if p.arc == "projection":
            m = min(3.0, max(1.6, (x1 - x0) / 3))
            scene.boxes.append(Box(f"{p.id}:projection", (x0 + x1) / 2 - m / 2, base - 0.75 * lift - m / 2, m, m,
                                   colour, stroke=colour, group=box.group, name=f"{p.name} projection (1×1 conv)"))


def _line(a: tuple[float, float], b: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """A straight segment as one Bézier segment."""
    return a, (a[0] + (b[0] - a[0]) / 3, a[1]), (a[0] + 2 * (b[0] - a[0]) / 3, b[1]), b


ARC_LABELS = {"identity": "identity shortcut", "projection": "projection shortcut (1×1 conv)",
              "padded": "option A shortcut (subsample + zero-pad)"}


def _legend(scene: Scene, roles: set[str], y: float, size: float, arcs: set[str] | None = None) -> float:
    """Swatches for the block types present and the shortcut kinds (identity and projection, and option A where
    it is drawn), wrapped to the width; returns the bottom edge."""
    names = {"basicblock": "BasicBlock", "bottleneck": "Bottleneck"}
    shown = {"identity", "projection"} - ({"projection"} if arcs and "padded" in arcs and "projection" not in arcs
                                          else set()) | (arcs or set())
    items = [(r, names.get(r, r)) for r in sorted(roles)] + [(a, ARC_LABELS[a]) for a in ARC_LABELS if a in shown]
    x, row_h, sw = MARGIN, size * LINE_HEIGHT, size * 0.9
    for role, label in items:
        w = sw + 3 + text_width(label, size)
        if x + w > scene.width - MARGIN and x > MARGIN:
            x, y = MARGIN, y + row_h + 2
        mid = y + row_h / 2
        if role in ARC_LABELS:
            scene.curves.append(Curve(f"legend:{role}", _line((x, mid), (x + sw, mid)),
                                      stroke=Colour("projection" if role == "padded" else role),
                                      width=0.8, dashed=role == "identity", arrow=False, kind=role, group="legend"))
        else:
            scene.boxes.append(Box(f"legend:{role}", x, mid - sw / 2, sw, sw, Colour(role), group="legend",
                                   name=label))
        scene.texts.append(Text(f"legend:{role}:label", x + sw + 3, y, (label,), size, group="legend", anchor="start"))
        x += w + 8
    scene.groups["legend"] = "legend"
    return y + row_h
