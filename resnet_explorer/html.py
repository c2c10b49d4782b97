"""The HTML the page shows: the selection, the inspector's code, the graph frame, notices. User text is always
escaped (``gr.HTML`` does not sanitise)."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from explorer.tracing.records import format_shape

if TYPE_CHECKING:
    from explorer.tracing.records import Trace


# Characters that reorder or hide text (bidirectional overrides, zero-width joiners): a file name can carry them.
_INVISIBLE = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E, 0x200F, 0xFEFF])


def safe_text(text: str) -> str:
    """User text for a toast or Markdown: HTML-escaped, without characters that reorder or hide text."""
    return html.escape(text.translate(_INVISIBLE), quote=False)


def selection_html(block: str, blocks: list[str]) -> str:
    """What the selection component shows; its data attributes drive the highlighting (assets/selection.js)."""
    return (f'<div class="rx-selection" data-block="{html.escape(block)}" data-blocks="{html.escape(" ".join(blocks))}">'
            f'Selected block: <b>{html.escape(block)}</b> <span class="rx-hint">— click a block in the graph, a table '
            "row or a plot to inspect it</span></div>")


def code_html(code: str) -> str:
    """The inspector's code: monochrome with comments dimmed (every colour passes WCAG AA contrast), focusable
    so a keyboard can scroll it."""
    lines = "\n".join(f'<span class="rx-comment">{html.escape(line)}</span>' if line.startswith("#")
                      else html.escape(line) for line in code.splitlines())
    return (f'<div class="rx-code-title">The code that builds it</div><pre class="rx-code" tabindex="0" '
            f'aria-label="the code that builds the selected block"><code>{lines}</code></pre>')


def _block_list(trace: Trace | None) -> str:
    """The graph as a list a screen reader can walk and a keyboard can use: each block a button that selects it."""
    if trace is None:
        return ""
    items = "".join(
        f'<li><button data-select="{html.escape(b.name)}">{html.escape(b.name)}</button>: {html.escape(b.block_type)}, '
        f"{format_shape(b.in_shape)} → {format_shape(b.out_shape)}, "
        f"{'projection' if b.downsample else 'identity'} shortcut</li>" for b in trace.blocks)
    return (f'<details class="rx-textalt"><summary>The blocks as a list ({len(trace.blocks)}; Enter selects one)'
            f"</summary><ol>{items}</ol></details>")


def graph_html(svg: bytes, trace: Trace | None = None) -> str:
    """Inline SVG in a pan/zoom frame (driven by assets/panzoom.js), with the blocks as a list below."""
    text = svg.decode()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE
    return (
        '<div class="rx-graph"><div class="rx-toolbar">'
        '<button data-zoom="in" title="zoom in" aria-label="zoom in">+</button>'
        '<button data-zoom="out" title="zoom out" aria-label="zoom out">−</button>'
        '<button data-zoom="fit" title="fit to view" aria-label="fit to view">fit</button></div>'
        f'<div class="rx-stage"><div class="rx-viewport">{text}</div></div>'
        '<div class="rx-hint">wheel: zoom · drag: pan · double-click: fit · click a block to select it</div>'
        f"{_block_list(trace)}</div>"
    )


def notice_html(message: str) -> str:
    return f'<div class="rx-notice">{html.escape(message)}</div>'
