"""ResNet Explorer as a library: trace any ResNet-family model, analyse and draw its structure, measure what it
needs in memory, capture its activations and class activation maps, and draw the picture each channel wants.

Never imports gradio, so it works from scripts, notebooks and the CLI (``python -m explorer``).

Module map — two pipelines over frozen records:

    model spec ─► tracing/ ─► Trace ─► structure/  tables, analytics, memory, comparisons, plotly figures
    (models.py)                       └► graph/     stages/blocks/layers graphs, Graphviz render, exports
                                      └► figures/   the paper figure; SVG/PDF/PNG, TikZ, draw.io, Mermaid, GraphML
    image ─► features/ ─► Capture ─► features/views  channel grids, overlay, across-network plots
                     └► CamRun  ─► features/cam_views  class maps over the crop, per stage
    folder ─► dataset/ ─► partials, merged ─► summary.json, channels.csv, top.csv ─► dataset/views
                     └► lesion/  each block removed (replays of one taped forward) ─► lesion.csv, lesion_k.csv
    block, channels ─► visualize/ ─► pictures (MACO or Fourier) ─► each checked against a dataset run

    models.py   what a spec names (ours, timm:…) and which model a checkpoint is; sources.py models from files
                (ONNX via onnx2torch, torch.export programs, Hugging Face folders); trust.py what such a file may
                make the server do (.pt2 and ONNX vetting, the weights-only guard on torch.load); live.py a
                live nn.Module as a model (a shadow over its tensors); show.py ``show(model)``, the app on one
    tracing/    ops.py (torch functions by what they do: the one vocabulary), opargs.py (what an op's arguments
                say), dataflow.py (one forward recorded as dataflow; ``Recording.table()`` shows it), residual.py (its residual blocks, by what they
                compute), layout.py (the ResNet in any module: stages, stem, head), identify.py (its name and
                closest config), layers.py (modules as layer records), shortcuts.py (a parameter-free shortcut
                named by its ops: option A), static.py (the input a model file declares: its static batch and
                size), explain.py (every addition and why it is or is not a block: ``explain(model)``),
                receptive.py (receptive fields over every path), hooks.py (hooks as context managers), records.py (Trace and its records), tracer.py
                (one forward pass -> Trace), watch.py (real runs handing each block's tensors to callbacks),
                plans.py (the one cache policy of everything planned from a recording),
                modes.py (torch function modes that number ops), patching.py (the lock for code that patches
                torch process-wide), memory.py and meta.py (memory measured on the meta device; profile.py its
                records), device.py, cache.py (structure traces by model, on the meta device). Records,
                profiles and their views import without torch.
    structure/  analysis.py (channel ratios, transitions, receptive fields, cost shares), memory.py, compare.py,
                tables.py (rows and text tables), figures.py (plotly), views.py (per-config bundles, cached),
                inspector.py (one block: the code that builds it and its facts)
    graph/      levels.py (graph records per level), dot.py (Graphviz source), render.py (dot -> SVG/PDF/PNG),
                torchview_ops.py (the ops level), export.py (files and their names), formats.py (what they export to)
    figures/    scene.py (a drawing as boxes, curves and text), paper.py (the paper figure's layout),
                graph_scene.py (a graph laid out by Graphviz), svg.py, tikz.py, drawio.py (Scene writers),
                mermaid.py and graphml.py (a graph's structure), themes.py; ``figure(trace, fmt, style)``
    features/   images.py (safe decoding), capture.py (per-block maps and statistics), cam.py (class activation
                maps at every block; methods.py names them), store.py (models, captures and CAM runs kept for a
                server), views.py and cam_views.py (what they show)
    dataset/    folder.py (images and labels), stats.py (partials that merge exactly) and kernels.py (their
                compiled loops, in compiled.py); a one-way chain: job.py (what a run is asked) <- shards.py (a
                shard's work, the same on every engine) <- local.py and ray_engine.py (the engines) <- run.py (the
                run, its files), tally.py (the merged tally a run resumes from); views.py (the Dataset tab's
                views), opened.py (a finished run's files read back as data)
    lesion/     reference.py (what a lesion is: ``lesioned_forward``, the forward with chosen additions returning
                their shortcut + 0), replay.py (a forward taped, then replayed from an op with additions
                lesioned: what the reference equals, faster), plan.py (each
                block's addition, the values a cut needs), measure.py (a batch's numbers), partial.py, study.py
                (settings, labels, draws, path lengths; torch-free), views.py (the charts)
    visualize/  feature visualization: param.py (Fourier and MACO parameterisations, MACO's magnitude from images),
                spectrum.py (a folder's magnitude), robust.py (random crops, scale, rotation, noise, per picture),
                relu.py (the ReLU-gradient warm-up), optimise.py (``visualize``: many channels in one batch),
                check.py (each picture against a dataset run: its peak, and its path through the earlier blocks),
                kept.py (pictures kept by weights digest, block, channel and settings), atlas.py (every channel
                of a block or a model, in shards on the local or Ray engine, resumable)
    limits.py   every resource limit as one value; files.py output folders; theme.py plotly template;
                palette.py the colours that mean one thing in every view
    launcher.py the resnet-explorer command: app and open start the web app, the rest go to cli/
    cli/        the command line: structure.py (summary, analyze, export, compare), images.py (features,
                cam), weights.py, dataset.py (dataset runs and lesion studies), visualize.py (feature
                visualization), app.py (app, open: the web app);
                common.py (model and image arguments, the one file writer)
    data/       package data: ImageNet's and CIFAR's class names, the example photos' spectrum (MACO's magnitude)

The web UI (the ``resnet_explorer`` package: ``python app.py``, ``resnet-explorer app``, ``explorer.show``) is
built on this library and never the other way round: it is imported only when an app starts.

The names below are loaded on first use, so ``import explorer`` stays cheap.
"""
from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "tracing.tracer": ["trace"], "tracing.cache": ["structure_trace"], "tracing.device": ["resolve_device"],
    "tracing.explain": ["explain", "Explanation"],
    "tracing.hooks": ["eval_mode", "forward_hooks"],
    "tracing.records": ["Trace", "BlockRecord", "ConvRecord", "DownsampleRecord", "LayerRecord", "ModuleRecord",
                        "StageRecord", "format_shape"],
    "limits": ["MIN_INPUT_SIZE", "Limits"],
    "structure.tables": ["BLOCK_COLUMNS", "STAGE_COLUMNS", "block_rows", "format_table", "stage_rows", "totals",
                         "totals_markdown"],
    "figures": ["figure"],
    "show": ["show", "Shown"],
})
__all__ = [name for name in __all__ if name not in ("tracing", "limits", "structure", "figures")]
if "show" not in __all__:  # the function, not the module of the same name
    __all__.append("show")
