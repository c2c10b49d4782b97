"""Side-by-side comparison of two traced configs: per-stage differences, cost deltas, unmatched blocks."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..tracing.records import Trace, format_shape
from .tables import human, text_table


@dataclass(frozen=True)
class StageDiff:
    stage: str
    blocks_a: int
    blocks_b: int
    params_a: int
    params_b: int
    macs_a: int
    macs_b: int
    out_a: str
    out_b: str

    @property
    def same(self) -> bool:
        return (self.blocks_a, self.params_a, self.macs_a, self.out_a) == (
            self.blocks_b, self.params_b, self.macs_b, self.out_b)


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    stages: tuple[StageDiff, ...]
    params_a: int
    params_b: int
    macs_a: int
    macs_b: int
    only_in_a: tuple[str, ...]  # block names present in one config and not the other
    only_in_b: tuple[str, ...]
    changed: tuple[str, ...]  # blocks in both whose shapes, width or cost differ

    @property
    def params_delta(self) -> int:
        return self.params_b - self.params_a

    @property
    def macs_delta(self) -> int:
        return self.macs_b - self.macs_a

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(params_delta=self.params_delta, macs_delta=self.macs_delta,
                 differing_stages=[s.stage for s in self.stages if not s.same])
        return d


def _signature(block: Any) -> tuple:
    return (block.block_type, block.in_shape, block.out_shape, block.width, block.stride, block.params, block.macs,
            block.downsample is not None)


def compare(a: Trace, b: Trace) -> Comparison:
    stages = tuple(
        StageDiff(sa.name, sa.blocks, sb.blocks, sa.params, sb.params, sa.macs, sb.macs,
                  format_shape(sa.out_shape), format_shape(sb.out_shape))
        for sa, sb in zip(a.stages, b.stages)
    )
    blocks_a = {x.name: x for x in a.blocks}
    blocks_b = {x.name: x for x in b.blocks}
    return Comparison(
        a=a.model_name, b=b.model_name, stages=stages,
        params_a=a.total_params, params_b=b.total_params, macs_a=a.total_macs, macs_b=b.total_macs,
        only_in_a=tuple(n for n in blocks_a if n not in blocks_b),
        only_in_b=tuple(n for n in blocks_b if n not in blocks_a),
        changed=tuple(n for n in blocks_a if n in blocks_b and _signature(blocks_a[n]) != _signature(blocks_b[n])),
    )


COMPARE_COLUMNS = ("stage", "blocks A", "blocks B", "Δ blocks", "params A", "params B", "Δ params", "MACs A",
                   "MACs B", "Δ MACs", "output A", "output B")


def compare_rows(c: Comparison) -> list[list[Any]]:
    rows = [[s.stage, s.blocks_a, s.blocks_b, s.blocks_b - s.blocks_a, s.params_a, s.params_b,
             s.params_b - s.params_a, s.macs_a, s.macs_b, s.macs_b - s.macs_a, s.out_a, s.out_b] for s in c.stages]
    rows.append(["total", sum(s.blocks_a for s in c.stages), sum(s.blocks_b for s in c.stages),
                 sum(s.blocks_b - s.blocks_a for s in c.stages), c.params_a, c.params_b, c.params_delta,
                 c.macs_a, c.macs_b, c.macs_delta, "", ""])
    return rows


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "none"
    if len(names) > 6:
        return f"{', '.join(names[:3])}, …, {', '.join(names[-2:])} ({len(names)} blocks)"
    return ", ".join(names)


def compare_summary(c: Comparison) -> str:
    """A few lines of Markdown: what differs, in words."""
    differing = [s for s in c.stages if not s.same]
    where = ", ".join(f"{s.stage} ({s.blocks_a} vs {s.blocks_b} blocks)" if s.blocks_a != s.blocks_b
                      else f"{s.stage} (same depth, different blocks)" for s in differing) or "nowhere"
    sign = lambda n: ("+" if n > 0 else "−" if n < 0 else "±") + human(abs(n))  # noqa: E731
    pct = lambda d, base: f"{100 * d / base:+.1f}%"  # noqa: E731
    return (
        f"**{c.a}** vs **{c.b}** differ in {where}.  \n"
        f"Parameters: {c.params_a:,} → {c.params_b:,} ({sign(c.params_delta)}, {pct(c.params_delta, c.params_a)}) · "
        f"MACs: {c.macs_a:,} → {c.macs_b:,} ({sign(c.macs_delta)}, {pct(c.macs_delta, c.macs_a)})  \n"
        f"Only in {c.a}: {_names(c.only_in_a)} · only in {c.b}: {_names(c.only_in_b)} · "
        f"in both but different: {_names(c.changed)}"
    )


def format_comparison(c: Comparison) -> str:
    """Text table for the CLI."""
    rows = [[f"{v:,}" if isinstance(v, int) else str(v) for v in r] for r in compare_rows(c)]
    table = text_table(list(COMPARE_COLUMNS), rows, right=set(range(1, len(COMPARE_COLUMNS))))
    text = compare_summary(c).replace("**", "").replace("  \n", "\n")
    return "\n".join([f"A = {c.a}, B = {c.b}", table, "", text])
