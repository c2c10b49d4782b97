"""Colour themes for figures, as named roles (TikZ keeps the names as ``\\definecolor{rx<role>}``)."""
from __future__ import annotations

import re

from ..graph.dot import COLORS, IDENTITY_EDGE, SHORTCUT_EDGE
from .scene import Theme

# The projection shortcut is the same orange in every view and theme family (graph, tables, plots, paper).
LIGHT = Theme("light", {
    "background": "#ffffff", "text": "#212529", "line": "#495057", "io": "#e9ecef", "stem": "#ced4da",
    "head": "#ced4da", "basicblock": "#a5d8ff", "bottleneck": "#b2f2bb", "block": "#d0bfff",
    "projection": SHORTCUT_EDGE, "identity": IDENTITY_EDGE,
})
DARK = Theme("dark", {
    "background": "#1e1e1e", "text": "#f1f3f5", "line": "#ced4da", "io": "#495057", "stem": "#5c5f66",
    "head": "#5c5f66", "basicblock": "#1c7ed6", "bottleneck": "#2f9e44", "block": "#7048e8",
    "projection": "#ff922b", "identity": "#adb5bd",
})
THEMES: dict[str, Theme] = {t.name: t for t in (LIGHT, DARK)}


def role_name(kind: str) -> str:
    """A block type or graph kind as a role: letters only, lower case (``BasicBlock`` -> ``basicblock``)."""
    return re.sub(r"[^a-z]", "", kind.lower()) or "block"


# The Graphviz graphs' own palette (explorer.graph.dot), under the same kind of names.
GRAPH = Theme("graph", {
    "background": "#ffffff", "text": "#212529", "line": "#495057", "cluster": "#adb5bd",
    "projection": SHORTCUT_EDGE, "identity": IDENTITY_EDGE, **{role_name(k): v for k, v in COLORS.items()},
})


def check_theme(name: str) -> Theme:
    if name not in THEMES:
        raise ValueError(f"theme must be one of {list(THEMES)}, got {name!r}")
    return THEMES[name]
