"""ResNet Explorer's web UI (``python app.py``, ``resnet-explorer app``), one room per concern:

    main.py       the entry point every start goes through (app.py, python -m resnet_explorer, the wheel's command)
    settings.py   flags, environment, the app's files; standard library only (``--help`` answers at once)
    context.py    what handlers share while the app runs: the settings and the feature store (``APP``)
    runs.py       dataset runs per browser session, their folders held, their files read once
    lib.py        the torch side, one lazy namespace: the page is served before torch is imported
    refusals.py   exception -> the one-line toast the user sees; one wrapper around every event's function
    handlers/     the public API by area (model, structure, selection, graph, features, cams, dataset, channel, uploads;
                  checks: the shared validation): validate, call
                  ``explorer``, return named results; never the layout
    html.py       the HTML the page shows (user text escaped)
    events.py     named event presets (queued views, the off-queue redraw and its bound, real runs, glue)
    tabs/         the layout: the model bar and the inspector's side panel, one module per tab (``build(page)``,
                  ``wire(page, view)``); ``Page`` is the context every builder gets
    wiring.py     what crosses tabs: the redraw of a new model, tab opening, the selection, the checkpoint
    landing.py    the first view at first paint: computed, or the render an earlier start saved
    page.py       ``build_demo()``: build every part, wire every part, wrap every handler
    server.py     start-up: serve, then load the torch side and warm the presets
    notebook.py   the same page served on a live module from the caller's process (``explorer.show``)
    assets/       package data: the page's scripts and styles, the example photos
"""
