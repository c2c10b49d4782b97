"""Plotly figures for the structure views: channel hourglass and ratios, stage transitions, costs, comparisons.

Every figure has an explicit height (plotly in tabs renders blank without one) and hover text with the
block name, shapes and state-dict prefix.
"""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..palette import PROJECTION, SELECTED
from ..theme import TEMPLATE
from ..tracing.records import Trace, format_shape
from .analysis import channels, receptive_fields, stage_stats, transitions
from .compare import Comparison
from .memory import check_batch, format_bytes, profile

# Orange is kept for projection shortcuts (theme.PROJECTION) in every view, so nothing else here uses it.
COLORS = {"in": "#74c0fc", "width": "#fcc419", "out": "#51cf66", "ratio": "#495057", "a": "#1c7ed6", "b": "#ae3ec9"}
HEIGHT = 460


def _layout(fig: go.Figure, title: str, height: int = HEIGHT, legend_below: bool = False) -> go.Figure:
    """Title, size and legend; ``legend_below`` for half-width figures, where a legend above the plot would
    wrap onto the title."""
    legend = (dict(orientation="h", yref="container", y=0.01, yanchor="bottom", x=0.5, xanchor="center")
              if legend_below else dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    fig.update_layout(title=dict(text=title, x=0.01), height=height, template=TEMPLATE, hovermode="closest",
                      margin=dict(l=60, r=60, t=60, b=130 if legend_below else 60), legend=legend)
    return fig


def pow2_axis(values: list[float], title: str) -> dict:
    """A log axis labelled at the powers of two the values span (64, 128, ... 2048), without plotly's minor
    2-and-5 labels that clutter a log axis of channel counts."""
    lo, hi = max(1.0, min(values)), max(values)
    ticks = [2 ** k for k in range(int(math.floor(math.log2(lo))), int(math.ceil(math.log2(hi))) + 1)]
    return dict(title_text=title, type="log", tickvals=ticks, ticktext=[f"{v:,}" for v in ticks])


def channels_figure(t: Trace) -> go.Figure:
    """Per block: input channels, bottleneck width and output channels as grouped bars (the 1×1 reduce ->
    3×3 -> 1×1 expand hourglass), with out : width on a second axis."""
    rows = channels(t)
    names = [r.block for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    hover = [f"<b>{r.block}</b> ({r.block_type})<br>{r.in_shape} → {r.out_shape}<br>state dict: {r.prefix}.*"
             for r in rows]
    for key, label, values in (("in", "input channels", [r.in_channels for r in rows]),
                               ("width", "bottleneck width (1×1 reduce, 3×3)", [r.width for r in rows]),
                               ("out", "output channels (1×1 expand)", [r.out_channels for r in rows])):
        fig.add_trace(go.Bar(x=names, y=values, name=label, marker_color=COLORS[key], customdata=hover,
                             hovertemplate="%{customdata}<br>" + label + ": %{y}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(
        x=names, y=[r.ratio for r in rows], name="out : width", mode="lines+markers",
        line=dict(color=COLORS["ratio"], width=2), marker=dict(size=6),
        customdata=[[h, r.reason] for h, r in zip(hover, rows)],
        hovertemplate="%{customdata[0]}<br>out : width = %{y:.3g}<br>%{customdata[1]}<extra></extra>",
    ), secondary_y=True)
    proj = [b for b in t.blocks if b.downsample is not None]
    fig.add_trace(go.Scatter(x=[b.name for b in proj], y=[b.out_shape[0] for b in proj], mode="markers",
                             name="projection shortcut", marker=dict(symbol="diamond", size=10, color=PROJECTION,
                                                                     line=dict(color="black", width=1)),
                             customdata=[b.downsample.label for b in proj],
                             hovertemplate="<b>%{x}</b><br>%{customdata}<extra></extra>"), secondary_y=False)
    fig.update_yaxes(**pow2_axis([v for r in rows for v in (r.in_channels, r.width, r.out_channels)],
                                 "channels (log scale)"), secondary_y=False)
    fig.update_yaxes(title_text="out : width", secondary_y=True, rangemode="tozero", showgrid=False)
    fig.update_layout(barmode="group", bargap=0.25, xaxis=dict(title="block", tickangle=-60))
    return _layout(fig, f"{t.model_name}: channels per block (in → width → out) and the out : width ratio")


def highlight_block(fig: go.Figure, block: str) -> go.Figure:
    """A copy of a per-block figure (blocks on the x axis) with ``block`` marked by a band; ``fig`` unchanged."""
    names = list(fig.data[0].x) if fig.data else []
    if block not in names:
        return fig
    at = names.index(block)
    out = go.Figure(fig)
    out.add_vrect(x0=at - 0.5, x1=at + 0.5, fillcolor=SELECTED, opacity=0.12, line_width=0, layer="below")
    out.add_annotation(x=block, y=1, yref="paper", text=f"selected: {block}", showarrow=False, yanchor="bottom",
                       font=dict(color=SELECTED, size=11))
    return out


def transition_figure(t: Trace) -> go.Figure:
    """Spatial resolution against channels along the network; each stage's transition under its tick."""
    rf = {r.name: r for r in receptive_fields(t)}
    notes = {t.block(tr.block).stage_name or t.stages[t.block(tr.block).stage - 1].name: tr for tr in transitions(t)}
    points = [("input", t.input_shape), ("stem", t.stem.out_shape)] + [(s.name, s.out_shape) for s in t.stages]
    names = [n for n, _ in points]
    hover = []
    for n, shape in points:
        text = f"<b>{n}</b><br>output {format_shape(shape)}"
        if n in rf:
            text += f"<br>output stride {rf[n].output_stride}, receptive field {rf[n].size} px"
        if n in notes:
            text += f"<br>{notes[n].block}: {notes[n].note}"
        hover.append(text)
    ticks = []
    for n in names:
        tr = notes.get(n)
        if tr is None:
            ticks.append(n)
        else:
            how = f"proj s{tr.stride}" if tr.projection else "identity"
            ticks.append(f"{n}<br><span style='font-size:10px'>{tr.from_channels}→{tr.to_channels} · {how}</span>")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=names, y=[s[0] for _, s in points], name="channels", mode="lines+markers+text",
                             text=[str(s[0]) for _, s in points], textposition="top center",
                             line=dict(color=COLORS["out"], width=3), customdata=hover,
                             hovertemplate="%{customdata}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=names, y=[s[1] for _, s in points], name="resolution (px)", mode="lines+markers+text",
                             text=[f"{s[1]}×{s[2]}" for _, s in points], textposition="bottom center",
                             line=dict(color=COLORS["a"], width=3, dash="dot"), customdata=hover,
                             hovertemplate="%{customdata}<extra></extra>"), secondary_y=True)
    fig.update_xaxes(tickmode="array", tickvals=names, ticktext=ticks)
    fig.update_yaxes(**pow2_axis([s[0] for _, s in points], "channels (log)"), secondary_y=False)
    fig.update_yaxes(**pow2_axis([s[1] for _, s in points], "resolution (px, log)"), secondary_y=True, showgrid=False)
    return _layout(fig, f"{t.model_name}: resolution vs channels per stage, and where they change")


def cost_figure(t: Trace) -> go.Figure:
    """Share of parameters and MACs per stage."""
    stats = stage_stats(t)
    names = [s.name for s in stats]
    fig = go.Figure()
    for attr, share, color in (("params", "params_share", COLORS["a"]), ("MACs", "macs_share", COLORS["b"])):
        fig.add_trace(go.Bar(
            x=names, y=[100 * getattr(s, share) for s in stats], name=f"{attr} %", marker_color=color,
            customdata=[[s.params, s.macs, s.blocks, s.receptive_field] for s in stats],
            hovertemplate="<b>%{x}</b><br>" + attr + ": %{y:.1f}% of total<br>params %{customdata[0]:,}"
                          "<br>MACs %{customdata[1]:,}<br>blocks %{customdata[2]}<br>receptive field "
                          "%{customdata[3]} px<extra></extra>"))
    fig.update_layout(barmode="group", yaxis_title="% of model total")
    return _layout(fig, f"{t.model_name}: where the parameters and the compute are", height=440, legend_below=True)


def memory_figure(t: Trace, batch: int = 1) -> go.Figure:
    """Per part: weights and training activations as bars, the inference peak while the part runs as a line
    (the network's peak is the line's highest point)."""
    batch = check_batch(batch)
    parts = profile(t).parts
    names = [p.name for p in parts]
    mib = 2 ** 20
    fig = go.Figure()
    series = (("weights (fp32)", COLORS["a"], [p.weight_bytes for p in parts]),
              ("training activations", COLORS["b"], [p.training(batch) for p in parts]))
    for label, color, values in series:
        fig.add_trace(go.Bar(x=names, y=[v / mib for v in values], name=label, marker_color=color,
                             customdata=[format_bytes(v) for v in values],
                             hovertemplate="<b>%{x}</b><br>" + label + ": %{customdata}<extra></extra>"))
    peaks = [batch * p.inference_peak for p in parts]
    fig.add_trace(go.Scatter(x=names, y=[v / mib for v in peaks], name="inference peak (live while it runs)",
                             mode="lines+markers", line=dict(color=COLORS["ratio"], width=2),
                             customdata=[format_bytes(v) for v in peaks],
                             hovertemplate="<b>%{x}</b><br>inference peak: %{customdata}<extra></extra>"))
    fig.update_layout(barmode="group", yaxis_title="MiB")
    images = f"{batch} image{'s' if batch > 1 else ''}"
    return _layout(fig, f"{t.model_name}: memory per part, {images} of {t.input_shape[1]} px", height=440,
                   legend_below=True)


def compare_figures(a: Trace, b: Trace, c: Comparison) -> tuple[go.Figure, go.Figure]:
    """Overlaid out : width and channel widths per block, and per-stage cost, for configs A and B."""
    ratio = go.Figure()
    for key, t in (("a", a), ("b", b)):
        rows = channels(t)
        ratio.add_trace(go.Scatter(
            x=list(range(len(rows))), y=[r.width for r in rows], name=f"{t.model_name}: bottleneck width",
            mode="lines+markers", line=dict(color=COLORS[key], width=2),
            customdata=[[r.block, r.in_shape, r.out_shape, r.ratio, r.reason] for r in rows],
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} → %{customdata[2]}<br>width %{y}"
                          "<br>out : width %{customdata[3]:.3g}<br>%{customdata[4]}<extra>" + t.model_name + "</extra>"))
        ratio.add_trace(go.Scatter(
            x=list(range(len(rows))), y=[r.out_channels for r in rows], name=f"{t.model_name}: output channels",
            mode="lines", line=dict(color=COLORS[key], width=1, dash="dot"), hoverinfo="skip"))
    widths = [v for t in (a, b) for r in channels(t) for v in (r.width, r.out_channels)]
    ratio.update_layout(xaxis_title="block index (depth)")
    ratio.update_yaxes(**pow2_axis(widths, "channels (log)"))
    _layout(ratio, f"Channels along the depth: {a.model_name} vs {b.model_name}")
    cost = make_subplots(rows=1, cols=2, subplot_titles=("parameters per stage", "MACs per stage"))
    for key, attr_p, attr_m, name in (("a", "params_a", "macs_a", c.a), ("b", "params_b", "macs_b", c.b)):
        stages = [s.stage for s in c.stages]
        cost.add_trace(go.Bar(x=stages, y=[getattr(s, attr_p) for s in c.stages], name=name,
                              marker_color=COLORS[key], legendgroup=key), row=1, col=1)
        cost.add_trace(go.Bar(x=stages, y=[getattr(s, attr_m) for s in c.stages], name=name,
                              marker_color=COLORS[key], legendgroup=key, showlegend=False), row=1, col=2)
    cost.update_layout(barmode="group")
    _layout(cost, f"Cost per stage: {c.a} vs {c.b}", height=400)
    # Below the plots: above them the legend sat on the subplot titles.
    cost.update_layout(legend=dict(orientation="h", y=-0.15, x=0.5, xanchor="center", yanchor="top"),
                       margin=dict(b=90))
    return ratio, cost
