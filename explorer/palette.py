"""Colours that mean the same thing in every view (graph, paper figure, tables, plots, the page)."""

PROJECTION = "#e8590c"  # projection shortcuts, and nothing else
SELECTED = "#d6336c"  # the selected block: graph outline, table row, plot band
