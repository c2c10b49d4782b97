"""The per-block table and totals, as rows (for the UI and CSV) and as text (for the CLI)."""
from __future__ import annotations

import math

from ..limits import format_bytes
from ..tracing.records import BlockRecord, Trace, format_shape
from ..palette import PROJECTION
from .memory import MEMORY_COLUMNS, check_batch, memory_rows, profile

BLOCK_COLUMNS = ("block", "type", "in → out", "width", "stride", "downsample", "params", "MACs")
BLOCK_MEMORY_COLUMNS = ("weights", "training activations", "inference peak")


def human(n: float, unit: str = "") -> str:
    """12_345_678 -> '12.35 M'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()


def readable(rows: list[list]) -> list[list]:
    """Rows as people read them: whole numbers from 10,000 up with thousands separators (for the UI; files and
    the API's JSON keep raw numbers through the ``*_rows`` functions)."""
    return [[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000 else v for v in row]
            for row in rows]


def _downsample_cell(b: BlockRecord) -> str:
    if b.downsample is None:
        return "identity"
    d = b.downsample
    return f"{d.kind}: {format_shape(d.in_shape)} → {format_shape(d.out_shape)}"


def block_rows(trace: Trace, batch: int | None = None) -> list[list[str | int]]:
    """One row per block, in BLOCK_COLUMNS order; counts stay integers so tables can sort them. With
    ``batch``, the block's memory at that batch size follows (BLOCK_MEMORY_COLUMNS)."""
    rows: list[list[str | int]] = [
        [b.name, b.block_type, f"{format_shape(b.in_shape)} → {format_shape(b.out_shape)}", b.width,
         b.stride, _downsample_cell(b), b.params, b.macs]
        for b in trace.blocks
    ]
    if batch is None:
        return rows
    batch = check_batch(batch)
    parts = [profile(trace).part(b.name) for b in trace.blocks]
    return [[*row, format_bytes(p.weight_bytes), format_bytes(p.training(batch)),
             format_bytes(batch * p.inference_peak)] for row, p in zip(rows, parts)]


STAGE_COLUMNS = ("stage", "block type", "blocks", "in → out", "stride", "params", "MACs")


def stage_rows(trace: Trace) -> list[list[str | int]]:
    """One row per stage, in STAGE_COLUMNS order."""
    return [
        [s.name, s.block_type, s.blocks, f"{format_shape(s.in_shape)} → {format_shape(s.out_shape)}",
         s.stride, s.params, s.macs]
        for s in trace.stages
    ]


def totals(trace: Trace) -> dict[str, str | int]:
    return {
        "model": trace.model_name,
        "input": format_shape(trace.input_shape),
        "blocks": len(trace.blocks),
        "per stage": "-".join(str(s.blocks) for s in trace.stages),
        "params": trace.total_params,
        "MACs": trace.total_macs,
        "output": format_shape(trace.output_shape),
    }


def totals_markdown(trace: Trace) -> str:
    stages = " · ".join(f"{s.name}: {s.block_type} ×{s.blocks}" for s in trace.stages)
    return (
        f"**{trace.model_name}** — input {format_shape(trace.input_shape)} → output {format_shape(trace.output_shape)}  \n"
        f"**{len(trace.blocks)} blocks** ({stages})  \n"
        f"**Parameters:** {trace.total_params:,} ({human(trace.total_params)}) · "
        f"**MACs:** {trace.total_macs:,} ({human(trace.total_macs)}) per image"
    )


def trace_html(trace: Trace) -> str:
    """The block table with the stem, the head and the totals as one HTML table (how a notebook shows a Trace)."""
    from html import escape

    head = "".join(f"<th>{escape(c)}</th>" for c in BLOCK_COLUMNS)
    rows = readable(block_rows(trace))
    column = BLOCK_COLUMNS.index("downsample")
    # projection shortcuts in the same orange as every other view
    body = "".join("<tr>" + "".join(
        f'<td style="color:{PROJECTION}">{escape(str(c))}</td>' if i == column and c != "identity"
        else f"<td>{escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    totals_line = (f"{trace.model_name}: {len(trace.blocks)} blocks, {trace.total_params:,} parameters, "
                   f"{trace.total_macs:,} MACs per image at {format_shape(trace.input_shape)}")
    return (f'<table class="resnet-explorer-trace"><caption>{escape(totals_line)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """Fixed-width columns, a rule under the header; the columns in ``right`` are right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_table(trace: Trace, memory_batch: int | None = None) -> str:
    """Fixed-width text table with totals, for terminals; with ``memory_batch``, the memory per stage at that
    batch size before the totals line (``trace`` needs a memory profile then)."""
    rows = [[f"{c:,}" if i >= 6 else str(c) for i, c in enumerate(r)] for r in block_rows(trace)]
    stem, head = trace.stem, trace.head
    stem_stride = math.prod(layer.stride for layer in stem.layers)
    rows.insert(0, ["stem", stem.label, f"{format_shape(stem.in_shape)} → {format_shape(stem.out_shape)}",
                    "", str(stem_stride), "", f"{stem.params:,}", f"{stem.macs:,}"])
    rows.append(["head", head.label, f"{format_shape(head.in_shape)} → {format_shape(head.out_shape)}",
                 "", "", "", f"{head.params:,}", f"{head.macs:,}"])
    out = text_table(list(BLOCK_COLUMNS), rows, right={3, 4, 6, 7}).splitlines()
    if memory_batch is not None:
        memory = text_table(list(MEMORY_COLUMNS), memory_rows(trace, memory_batch), right={1, 2, 3, 4})
        out += ["", f"memory, batch {memory_batch}:", *memory.splitlines()]
    t = totals(trace)
    out.append("")
    out.append(f"total: {t['blocks']} blocks ({t['per stage']}), {trace.total_params:,} params "
               f"({human(trace.total_params)}), {trace.total_macs:,} MACs ({human(trace.total_macs)}) "
               f"at input {t['input']}")
    return "\n".join(out)
