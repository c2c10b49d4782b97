"""What a graph or figure exports to (the app's buttons, the CLI's --format): named without importing the exporters."""

EXPORT_FORMATS: tuple[str, ...] = ("svg", "pdf", "png", "dot", "json", "csv", "tex", "drawio", "mermaid", "graphml")
