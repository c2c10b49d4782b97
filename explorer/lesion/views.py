"""A lesion study's charts, drawn as Veit et al. (2016) draw them: the error (or, without labels, the disagreement
with the full model) when each block alone is removed, blocks along the x axis, downsampling (projection) blocks
orange (their Fig. 3 and 4), beside the ‖F(x)‖ / ‖shortcut‖ magnitude proxy from the same images; the error as k
random blocks are removed, mean ± std over the draws (Fig. 5a); the share of paths of each length (Fig. 6a)."""
from __future__ import annotations


import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..palette import SELECTED
from ..theme import TEMPLATE
from .study import path_lengths

IDENTITY_COLOR, PROJECTION_COLOR = "#1f77b4", "#ff7f0e"


def _effect(rows: list[dict]) -> tuple[list[float], str]:
    """Error when removed where the run had labels, else disagreement with the full model."""
    if rows and all(r["accuracy"] != "" for r in rows):
        return [1 - float(r["accuracy"]) for r in rows], "top-1 error"
    return [1 - float(r["agreement"]) for r in rows], "disagreement with the full model"


def _ranks(values: list[float]) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    """Rank correlation (ties by order), None where either side is constant."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def lesion_figure(rows: list[dict], full_accuracy: float | None, selected: str | None = None) -> go.Figure:
    """Per-block error when removed (markers: identity blue, projection orange; the full model dashed), and the
    ‖F‖/‖shortcut‖ proxy on a second axis; the rank correlation between the two in the title."""
    names = [r["block"] for r in rows]
    effect, what = _effect(rows)
    ratio = [float(r["ratio"]) for r in rows]
    colors = [PROJECTION_COLOR if r["projection"] == "1" else IDENTITY_COLOR for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=names, y=effect, mode="lines+markers", name=f"{what} when removed",
                             line={"color": "#888", "width": 1}, marker={"color": colors, "size": 9},
                             customdata=[[r["kl"], r["agreement"]] for r in rows],
                             hovertemplate="%{x}: %{y:.3f}<br>KL %{customdata[0]:.4g} · agreement "
                                           "%{customdata[1]:.3f}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=names, y=ratio, mode="lines", name="‖F(x)‖ / ‖shortcut‖ (proxy)",
                             line={"color": "#2ca02c", "dash": "dot"}), secondary_y=True)
    if full_accuracy is not None and what == "top-1 error":
        fig.add_hline(y=1 - full_accuracy, line={"dash": "dash", "color": "#444"},
                      annotation_text=f"full model {1 - full_accuracy:.3f}", secondary_y=False)
    if selected in names:
        j = names.index(selected)
        fig.add_trace(go.Scatter(x=[selected], y=[effect[j]], mode="markers", name="selected", showlegend=False,
                                 marker={"size": 17, "color": "rgba(0,0,0,0)", "line": {"color": SELECTED, "width": 3}}))
    rho = spearman(effect, ratio)
    agree = (f"<br><sup>rank correlation of the proxy with the lesion's {what}: {rho:+.2f}</sup>"
             if rho is not None else "")
    fig.update_layout(template=TEMPLATE, title=f"Each block removed alone (orange: downsampling){agree}",
                      height=380, margin={"l": 50, "r": 50, "t": 50, "b": 60}, legend={"orientation": "h", "y": -0.3})
    fig.update_yaxes(title_text=what, secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="‖F‖ / ‖shortcut‖", secondary_y=True, rangemode="tozero")
    return fig


def k_figure(rows: list[dict], blocks: int) -> go.Figure:
    """Error (or disagreement) against k, mean ± std over the draws; beside it the path-length shares."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("k random blocks removed", f"paths through {blocks} blocks"))
    if rows:
        effect, what = _effect(rows)
        ks = sorted({int(r["k"]) for r in rows})
        by_k = {k: [e for r, e in zip(rows, effect) if int(r["k"]) == k] for k in ks}
        fig.add_trace(go.Scatter(x=ks, y=[float(np.mean(by_k[k])) for k in ks], mode="lines+markers", name=what,
                                 error_y={"type": "data", "array": [float(np.std(by_k[k])) for k in ks]}), 1, 1)
        fig.update_yaxes(title_text=f"{what} (mean ± std)", rangemode="tozero", row=1, col=1)
    fig.add_trace(go.Bar(x=list(range(blocks + 1)), y=path_lengths(blocks), name="share of paths",
                         marker={"color": "#9467bd"}), 1, 2)
    fig.update_xaxes(title_text="k", row=1, col=1)
    fig.update_xaxes(title_text="path length (branches passed through)", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=320, margin={"l": 50, "r": 20, "t": 40, "b": 50}, showlegend=False)
    return fig


__all__ = ["k_figure", "lesion_figure", "spearman"]
