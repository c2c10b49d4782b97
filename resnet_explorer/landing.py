"""The landing view at first paint: the first model's totals and architecture graph, there when the page appears.

``python app.py`` serves its page before torch is imported (seconds sooner), so what it shows first is the render
an earlier start saved in the user's cache folder (every start saves it again once torch is loaded, so it is at
most one start old; the page's first redraw replaces it moments later). Where torch is loaded anyway
(``explorer.show``, ``--open FILE``, the tests) it is computed before the page is built. With neither, the views
say that they are being drawn.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .html import notice_html

INPUT_SIZE = 224


@dataclass(frozen=True)
class Landing:
    spec: str
    totals: str  # the totals line (Markdown)
    graph: str  # the Graph tab's figure at its default options (HTML)


def cache_file(spec: str, input_size: int = INPUT_SIZE) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "resnet-explorer"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)[:80]
    return root / f"landing-{safe}-{input_size}.json"


def compute(spec: str, input_size: int = INPUT_SIZE) -> Landing:
    """The landing view now (torch is imported for it)."""
    from .handlers.graph import DEFAULTS, show_graph
    from .handlers.structure import totals_text

    return Landing(spec, totals_text(spec, input_size), show_graph(spec, input_size, *DEFAULTS))


def save(landing: Landing, input_size: int = INPUT_SIZE) -> None:
    """Keep ``landing`` for the next start (written whole, then renamed: a reader never sees half a file)."""
    path = cache_file(landing.spec, input_size)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(f".{os.getpid()}.part")
        part.write_text(json.dumps(asdict(landing)))
        part.replace(path)
    except OSError:  # a read-only home: the page shows "drawing" states instead
        pass


def landing(spec: str, now: bool, input_size: int = INPUT_SIZE) -> Landing:
    """What the page shows before its first redraw: computed ``now`` (where torch is loaded or will be anyway),
    saved by an earlier start, or the states that say the views are being drawn."""
    if now:
        try:
            return compute(spec, input_size)
        except Exception:  # noqa: BLE001 - the first redraw shows the refusal itself
            return drawing(spec)
    try:
        found = Landing(**json.loads(cache_file(spec, input_size).read_text()))
        return found if found.spec == spec else drawing(spec)
    except (OSError, ValueError, TypeError):
        return drawing(spec)


def drawing(spec: str) -> Landing:
    """The views while they are being drawn (the page's first redraw fills them)."""
    return Landing(spec, f"Measuring **{spec}** …", notice_html(f"Drawing the architecture of {spec} …"))
