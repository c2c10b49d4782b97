"""One light plotly template shared by every figure.

plotly validates a named template again for each figure that uses it, and "plotly_white" styles dozens of
trace types we never draw: for a small figure that validation is most of its build and serialisation time
(``python -m benchmarks choices`` measures it). This keeps plotly_white's look for the layout and the trace
types we do draw, built once.
"""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

LAYOUT_KEYS = ("annotationdefaults", "colorway", "coloraxis", "font", "hoverlabel", "hovermode", "paper_bgcolor",
               "plot_bgcolor", "shapedefaults", "title", "xaxis", "yaxis")
TRACE_TYPES = ("bar", "heatmap", "scatter")


def light_template(base: str = "plotly_white") -> go.layout.Template:
    """``base`` cut down to the layout keys and trace types the explorer uses."""
    full = pio.templates[base]
    layout = {k: v for k, v in full.layout.to_plotly_json().items() if k in LAYOUT_KEYS}
    data = {k: v for k, v in full.data.to_plotly_json().items() if k in TRACE_TYPES}
    return go.layout.Template(layout=layout, data=data)


TEMPLATE = light_template()
