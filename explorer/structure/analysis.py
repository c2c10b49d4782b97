"""Structure analytics from a Trace: channel ratios, stage transitions, receptive fields, cost shares.

Pure bookkeeping over records; no model is run here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..tracing.records import ACTIVATION_NAMES, BlockRecord, LayerRecord, Trace, format_shape

@dataclass(frozen=True)
class ChannelRecord:
    """A block's channels: input, bottleneck width (conv1/conv2 outputs) and output, and why the ratio is what it is."""

    block: str
    stage: int
    block_type: str
    in_channels: int
    width: int
    out_channels: int
    ratio: float  # out : width
    reason: str
    in_shape: str
    out_shape: str
    prefix: str  # state-dict prefix


@dataclass(frozen=True)
class TransitionRecord:
    """Where channels and resolution change: the first block of each stage."""

    block: str
    from_channels: int
    to_channels: int
    from_size: str
    to_size: str
    stride: int
    projection: bool
    note: str


@dataclass(frozen=True)
class ReceptiveField:
    name: str  # "stem", a block name, or a stage name
    size: int  # side of the square input region that can affect one output unit through the convs and pools
    output_stride: int  # input pixels per output pixel (the "jump")
    global_context: bool = False  # after a layer that sees the whole input (SE / ECA attention pools globally)
    walked: bool = True  # False: an op the walk cannot follow (a resize) came before; ``size`` is a lower bound


@dataclass(frozen=True)
class StageStats:
    name: str
    blocks: int
    params: int
    params_share: float
    macs: int
    macs_share: float
    output_stride: int
    receptive_field: int
    out_shape: str


def ratio_reason(b: BlockRecord) -> str:
    """Hover text: why out : width is what it is for this block."""
    planes = b.out_shape[0] // b.expansion
    if b.expansion == 1:
        return f"{b.block_type}: two 3×3 convs at the same width, expansion 1, so out : width = 1"
    groups = next((c.groups for c in b.convs if c.kernel_size > 1), 1)
    wpg = b.width * 64 // max(1, planes * groups)
    if groups == 1 and wpg == 64:
        return f"Bottleneck: 1×1 reduces to {planes}, 3×3, 1×1 expands ×4 to {b.out_shape[0]}, so out : width = 4"
    base = (f"width = planes × width_per_group / 64 × groups = {planes} × {wpg}/64 × {groups} = {b.width}; "
            f"output = planes × 4 = {b.out_shape[0]}, so out : width = {b.out_shape[0] / b.width:g}")
    if groups > 1:
        return f"ResNeXt ({groups} groups of {wpg}): {base}"
    return f"Wide ResNet (width_per_group {wpg}): {base}"


def channels(t: Trace) -> list[ChannelRecord]:
    return [
        ChannelRecord(
            block=b.name, stage=b.stage, block_type=b.block_type, in_channels=b.in_shape[0], width=b.width,
            out_channels=b.out_shape[0], ratio=b.out_shape[0] / b.width, reason=ratio_reason(b),
            in_shape=format_shape(b.in_shape), out_shape=format_shape(b.out_shape), prefix=b.name,
        )
        for b in t.blocks
    ]


def transitions(t: Trace) -> list[TransitionRecord]:
    out = []
    for b in t.blocks:
        if b.index != 0:
            continue
        c_in, c_out = b.in_shape[0], b.out_shape[0]
        hw_in, hw_out = format_shape(b.in_shape[1:]), format_shape(b.out_shape[1:])
        proj = b.downsample is not None
        if not proj:
            note = f"{c_in} → {c_out} ch, {hw_in} kept: identity shortcut, no projection needed"
        elif b.downsample.stride == 1:
            note = f"{c_in} → {c_out} ch at stride 1 ({hw_in} kept): {b.downsample.word} only to match channels"
        elif not b.downsample.projection:
            note = f"{c_in} → {c_out} ch, {hw_in} → {hw_out}: {b.downsample.kind}, no weights"
        else:
            note = f"{c_in} → {c_out} ch, {hw_in} → {hw_out}: projection with stride {b.downsample.stride}"
        dilated = b.stage > 1 and b.stride == 1 and any(
            o.dilation > 1 for o in t.blocks if o.stage == b.stage and o.index == 1)
        if dilated:
            note += " (the stage's stride 2 replaced by dilation)"
        out.append(TransitionRecord(b.name, c_in, c_out, hw_in, hw_out, b.stride, proj, note))
    return out


def _step(rf: int, jump: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    effective = dilation * (kernel - 1) + 1
    return rf + (effective - 1) * jump, jump * stride


SPATIAL = ("conv", "maxpool", "avgpool2d", "BlurPool2d")  # layers the formula steps through
POINTWISE = ("bn", "relu", "flatten", "Dropout", "DropPath")  # layers that see one position (in inference)


def receptive_fields(t: Trace) -> list[ReceptiveField]:
    """Receptive field and output stride after the stem, each block and each stage.

    Traces carry them, measured over the recorded dataflow through every convolution and pool that ran (the
    branch and its shortcut, every path of a multi-path branch: ``tracing.receptive``). A trace without them
    (records made by hand) is walked here along each block's branch, as a chain. Any other layer in the branch
    (SE / ECA attention: a global pool) makes every later unit see the whole input: ``global_context``;
    ``size`` still counts the convs and pools.
    """
    if t.stem.receptive is not None and all(b.receptive is not None for b in t.blocks):
        def of(name: str, f) -> ReceptiveField:  # noqa: ANN001
            return ReceptiveField(name, f.size, f.stride, f.global_context, f.walked)

        out = [of("stem", t.stem.receptive)]
        for b in t.blocks:
            out.append(of(b.name, b.receptive))
            if b.index == t.stages[b.stage - 1].blocks - 1:
                out.append(of(t.stages[b.stage - 1].name, b.receptive))
        return out
    return _walked(t)


def _walked(t: Trace) -> list[ReceptiveField]:
    rf, jump, context = 1, 1, False

    def walk(layers: tuple[LayerRecord, ...]) -> None:
        nonlocal rf, jump, context
        for layer in layers:
            if layer.kind in SPATIAL:
                rf, jump = _step(rf, jump, layer.kernel_size, layer.stride, layer.dilation)
            elif layer.kind not in POINTWISE and layer.kind not in ACTIVATION_NAMES:
                context = True

    walk(t.stem.layers)
    out = [ReceptiveField("stem", rf, jump, context)]
    for b in t.blocks:
        walk(b.branch or tuple(LayerRecord(c.name, "conv", c.out_shape, c.kernel_size, c.stride, c.dilation)
                               for c in b.convs))
        out.append(ReceptiveField(b.name, rf, jump, context))
        if b.index == t.stages[b.stage - 1].blocks - 1:
            out.append(ReceptiveField(t.stages[b.stage - 1].name, rf, jump, context))
    return out


def stage_stats(t: Trace) -> list[StageStats]:
    rfs = {r.name: r for r in receptive_fields(t)}
    rows = [StageStats("stem", 0, t.stem.params, t.stem.params / t.total_params, t.stem.macs,
                       t.stem.macs / t.total_macs, rfs["stem"].output_stride, rfs["stem"].size,
                       format_shape(t.stem.out_shape))]
    for s in t.stages:
        rows.append(StageStats(s.name, s.blocks, s.params, s.params / t.total_params, s.macs, s.macs / t.total_macs,
                               rfs[s.name].output_stride, rfs[s.name].size, format_shape(s.out_shape)))
    rows.append(StageStats("head", 0, t.head.params, t.head.params / t.total_params, t.head.macs,
                           t.head.macs / t.total_macs, rfs[t.stages[-1].name].output_stride,
                           rfs[t.stages[-1].name].size, format_shape(t.head.out_shape)))
    return rows


BLOCK_ANALYTICS_COLUMNS = ("block", "type", "in ch", "width", "out ch", "out : width", "output stride",
                           "receptive field")
STAGE_STATS_COLUMNS = ("part", "blocks", "params", "params %", "MACs", "MACs %", "output stride",
                       "receptive field", "output")


def stage_stats_rows(t: Trace) -> list[list[Any]]:
    rows = [[r.name, r.blocks, r.params, round(100 * r.params_share, 2), r.macs, round(100 * r.macs_share, 2),
             r.output_stride, r.receptive_field, r.out_shape] for r in stage_stats(t)]
    rows.append(["total", len(t.blocks), t.total_params, 100.0, t.total_macs, 100.0, rows[-1][6], rows[-1][7],
                 format_shape(t.output_shape)])
    return rows


def analysis_dict(t: Trace) -> dict[str, Any]:
    """Everything above, JSON-serialisable."""
    return {
        "channels": [asdict(c) for c in channels(t)],
        "transitions": [asdict(x) for x in transitions(t)],
        "receptive_fields": [asdict(r) for r in receptive_fields(t)],
        "stages": [asdict(s) for s in stage_stats(t)],
    }
