"""Scene -> LaTeX/TikZ: a .tex that compiles with ``pdflatex`` as is, whose marked body pastes into a paper.

The body starts with one ``\\definecolor`` per role (``rxbottleneck``, ``rxprojection``, ...) so an author can
restyle the figure in one place; faces are tints of those colours (``rxbottleneck!65!white``). Coordinates
are the scene's points (PostScript points, ``bp``) with y pointing down (``y=-1bp``), and the bounding box is fixed, so the page is
exactly the figure's size. Only LaTeX's base classes and TikZ are needed (no ``standalone`` class).
"""
from __future__ import annotations

from .scene import LINE_HEIGHT, Box, Colour, Curve, Scene, Text
from .svg import cuboid_faces

BODY_START = "%% ---- figure body: paste from here into a paper (needs \\usepackage{tikz}) ----"
BODY_END = "%% ---- end of figure body ----"
_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
        "_": r"\_", "^": r"\^{}", "~": r"\~{}", "×": r"$\times$", "→": r"$\rightarrow$", "·": r"$\cdot$",
        "…": r"\ldots{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def tex_escape(s: str) -> str:
    out = "".join(_TEX.get(ch, ch if ord(ch) < 128 else "?") for ch in s)
    return out.replace("$$", "")  # "×" next to "→" joins into one math run


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _c(c: Colour) -> str:
    name = f"rx{c.role}"
    if c.tint > 0:
        return f"{name}!{100 - c.tint}!white"
    if c.tint < 0:
        return f"{name}!{100 + c.tint}!black"
    return name


def _xy(p: tuple[float, float]) -> str:
    return f"({_n(p[0])},{_n(p[1])})"


def _box(b: Box) -> list[str]:
    style = (f"fill={_c(b.fill)}, " if b.fill else "") + f"draw={_c(b.stroke)}, line width=0.4bp, line join=round"
    cmd = "\\filldraw" if b.fill else "\\draw"
    if b.shape == "circle":
        r = min(b.w, b.h) / 2
        return [f"{cmd}[{style}] {_xy((b.x + b.w / 2, b.y + b.h / 2))} circle[radius={_n(r)}];"]
    if b.depth <= 0:
        rounded = ", rounded corners=3bp" if b.shape == "rounded" else ""
        return [f"{cmd}[{style}{rounded}] {_xy((b.x, b.y))} rectangle {_xy((b.x + b.w, b.y + b.h))};"]
    faces = cuboid_faces(b)
    tints = {"top": Colour(b.fill.role, 35), "side": Colour(b.fill.role, -18), "front": b.fill}
    return [f"\\filldraw[fill={_c(tints[f])}, draw={_c(b.stroke)}, line width=0.4bp, line join=round] "
            + " -- ".join(_xy(p) for p in faces[f]) + " -- cycle;" for f in ("top", "side", "front")]


def _curve(c: Curve) -> str:
    style = [f"draw={_c(c.stroke)}", f"line width={_n(c.width)}bp"]
    if c.dashed:
        style.append("dash pattern=on 2bp off 1.5bp")
    if c.arrow:
        style.append("-stealth")
    p = c.points
    path = _xy(p[0]) + "".join(f" .. controls {_xy(p[i])} and {_xy(p[i + 1])} .. {_xy(p[i + 2])}"
                               for i in range(1, len(p) - 2, 3))
    return f"\\draw[{', '.join(style)}] {path};"


def _text(t: Text) -> str:
    font = f"\\sffamily\\fontsize{{{_n(t.size)}bp}}{{{_n(t.size * LINE_HEIGHT)}bp}}\\selectfont"
    if t.bold:
        font += "\\bfseries"
    body = "\\\\".join(tex_escape(line) for line in t.lines)
    anchor = "north" if t.anchor == "middle" else "north west"
    return (f"\\node[anchor={anchor}, align={'center' if t.anchor == 'middle' else 'left'}, inner sep=0bp, text={_c(t.colour)}, font={font}] "
            f"at {_xy((t.x, t.y))} {{{body}}};")


def tikz_body(s: Scene) -> str:
    """The figure alone: colour definitions and one tikzpicture."""
    # "%" ends the lines before the picture: a line end there would be a space in the paragraph
    lines = [f"\\definecolor{{rx{role}}}{{HTML}}{{{hex_[1:].upper()}}}%" for role, hex_ in s.theme.roles.items()]
    lines.append(f"\\begin{{tikzpicture}}[x=1bp, y=-1bp]  % {tex_escape(s.title)}")
    lines.append(f"\\useasboundingbox (0,0) rectangle {_xy((s.width, s.height))};")
    if s.background:
        lines.append(f"\\fill[rxbackground] (0,0) rectangle {_xy((s.width, s.height))};")
    for g in [None, *s.groups]:
        part = ([x for b in s.boxes if b.group == g for x in _box(b)] + [_curve(c) for c in s.curves if c.group == g]
                + [_text(t) for t in s.texts if t.group == g])
        if part:
            lines.append(f"% {tex_escape(s.groups[g])}" if g else "%")
            lines.extend(part)
    lines.append("\\end{tikzpicture}")
    return "\n".join(lines)


def to_tex(s: Scene) -> str:
    """A standalone document exactly the figure's size."""
    return "\n".join([
        f"% {tex_escape(s.title)}: drawn by ResNet Explorer. Compile as is: pdflatex FILE.tex",
        "% In a paper: \\usepackage{tikz} in the preamble, then paste the body below (or save it as fig.tex",
        "% and \\input{fig}); restyle it through the \\definecolor lines at its top.",
        "\\documentclass{article}",
        f"\\usepackage[paperwidth={_n(s.width)}bp, paperheight={_n(s.height)}bp, margin=0pt]{{geometry}}",
        "\\usepackage{tikz}",
        "\\pagestyle{empty}",
        "\\begin{document}",
        "\\noindent",
        BODY_START,
        tikz_body(s),
        BODY_END,
        "\\end{document}",
        "",
    ])
