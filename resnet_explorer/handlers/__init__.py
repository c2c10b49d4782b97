"""The handlers: the app's public API, grouped by area. They validate, call ``explorer`` and return named
results (NamedTuples whose fields build each event's outputs list); they never import the layout (``ui.tabs``).

Endpoints (``client.predict(..., api_name="/summarize")``) and the functions behind them:

    /summarize            structure.summarize        totals, stage and block tables, memory per stage
    /structure            structure.structure        channel, transition, cost and memory plots; analytics
    /compare              structure.compare_models   A against B: summary, per-stage table, two plots
    /select_block         selection.select_block     the inspector and every view's highlight
    /graph                graph.show_graph           the graph or the paper figure as zoomable SVG
    /export_<format>      graph.make_export(format)  svg pdf png dot json csv tex drawio mermaid graphml
    /features             features.features          an image through every block: crop, views, top-5
    /block_view           features.block_view        another block, k or channel of the last run
    /download_weights     features.download_trained  the preset's best published weights, then a run
    /open_checkpoint      model.open_checkpoint_file the model inside a checkpoint, applied
    /cam                  cams.compute_cams          class maps at every block
    /cam_view             cams.cam_view              another block, method or opacity (no pass)
    /cam_target           cams.cam_target            another class (one backward pass)

Everything else is private UI glue (``events.PRIVATE``). Failures are turned into toasts in one place,
``ui.refusals``.
"""
