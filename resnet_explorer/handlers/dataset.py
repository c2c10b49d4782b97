"""Dataset runs in the app: images uploaded in the browser (files or a .zip) or a server folder offered at
start-up (``--datasets DIR``) through the applied model, with progress; or a finished run opened (``--runs DIR``,
or its files zipped); then a block's channels, and a channel's top images as dataset examples."""
from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from explorer.dataset import DatasetJob, run_dataset
from explorer.dataset.folder import preprocessing
from explorer.dataset.opened import MAX_TEXT
from explorer.dataset.views import CHANNEL_COLUMNS, RunFiles, channels_figure, examples
from explorer.files import display_name, fresh_folder, holding
from explorer.lesion.study import Study
from explorer.lesion.views import k_figure, lesion_figure
from explorer.models import own_preprocess
from resnet import Preprocess
from resnet.preprocess import NORMALISATIONS

from .. import lib
from ..context import APP
from ..refusals import Refusal, titled
from ..runs import ARCHIVE_BYTES, OpenRun, Stopped, client_alive, vouched
from .uploads import from_upload, unpack_run
from ..settings import OUTPUT_ROOT
from .checks import capped, model_config, skipped, whole

DATASET_BATCH = 16
log = logging.getLogger("resnet-explorer")


class DatasetView(NamedTuple):
    run_id: str
    summary: str
    block: Any  # the block picker
    channels: Any  # the block's channels (a table the page sorts)
    plot: Any
    examples: Any  # the selected channel's top images
    caption: str
    lesion: Any  # each block removed alone, beside the magnitude proxy (hidden without a lesion study)
    lesion_k: Any  # k blocks removed; path lengths


def server_folders() -> list[str]:
    """The folders ``--datasets DIR`` offers: DIR itself and each folder in it, by name (never a path)."""
    root = APP.settings.datasets
    if root is None or not Path(root).is_dir():
        return []
    return ["(all of it)", *sorted(p.name for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))]


def _session(request: gr.Request | None) -> str:
    """The browser session a request comes from (each sees its own runs); one name for calls made in-process."""
    return getattr(request, "session_hash", None) or "local"


def saved_runs(session: str = "local") -> list[str]:
    """The runs a session may open: its own (made or opened here), and the finished ones ``--runs DIR`` offers."""
    found = APP.runs.names(session)
    root = APP.settings.runs
    if root is not None and Path(root).is_dir():
        found += sorted(p.name for p in Path(root).iterdir() if (p / "summary.json").is_file() and p.name not in found)
    return found


def _run(name: str, session: str) -> tuple[OpenRun, RunFiles]:
    """A run the session may see, its files read (once) and checked."""
    if not name:
        raise Refusal("run a dataset, or open a finished run, first", "No run yet")
    capped("a run name", name)
    run = APP.runs.get(name, session)
    if run is None:
        root = APP.settings.runs
        if root is None or name not in saved_runs(session) or name in APP.runs:
            raise Refusal(f"no dataset run named {name[:80]!r} here; run one, or pick one of the list", "Unknown run")
        folder = Path(root) / name  # (a name the listing gave: a folder in --runs, not a path the request made)
        files = RunFiles.load(folder, APP.settings.limits)
        run = OpenRun(folder, "", _vouched(files.summary["root"], session))
        APP.runs.add(name, run)
    return run, APP.runs.files(name, run, APP.settings.limits)


def _vouched(root: str | Path | None, session: str) -> Path | None:
    return vouched(root, APP.settings.datasets, APP.runs.upload_folders(session))


@titled("Cannot run this dataset")
def dataset_run(spec: str, uploads: list[str] | None, folder: str | None, weights: str, checkpoint: str | None,
                top_k: float, lesion: bool = False, remove_k: float = 0, resize: float = 0, crop: float = 0,
                normalisation: str = "own", progress: gr.Progress = gr.Progress(),
                request: gr.Request = None) -> DatasetView:
    """The applied model over the images (uploaded, or the server folder picked), every block's channels; with
    ``lesion``, each block removed in turn (and ``remove_k`` random blocks at once, 5 draws each). ``resize``
    and ``crop`` (px; 0: the weights' own, a CIFAR model's 32 as it is) and ``normalisation`` (the model's own,
    or ``imagenet``, ``cifar10``, ``cifar100``) are the preprocessing, as the CLI's ``--resize``, ``--crop`` and
    ``--normalize``. Runs in its own queue (one at a time), stops when its client goes, and belongs to the
    client's session."""
    session = _session(request)
    config = model_config(spec)
    if normalisation not in ("own", *NORMALISATIONS):
        raise Refusal(f"normalisation must be the model's own or one of {', '.join(NORMALISATIONS)}",
                      "Invalid normalisation")
    mean, std = NORMALISATIONS.get(normalisation, (None, None))
    pre = preprocessing(whole("resize", resize or 0), whole("crop", crop or 0), mean, std,
                        limits=APP.settings.limits, base=own_preprocess(config))
    alive = client_alive()
    made: list[Path] = []
    if uploads:
        root = from_upload(list(uploads), session)
        made.append(root.parent)
    elif folder:
        capped("a folder", folder)
        if folder not in server_folders():
            raise Refusal("pick one of the folders offered (python app.py --datasets DIR)", "Unknown folder")
        base = Path(APP.settings.datasets)
        root = base if folder == "(all of it)" else base / folder
    else:
        raise Refusal("upload images (or a .zip of them), or pick a folder the server offers", "No images")
    out = fresh_folder(OUTPUT_ROOT) / "run"
    made.append(out.parent)
    job = DatasetJob(config, root, out, weights, checkpoint or APP.settings.weights, pre, top_k=whole("top-k", top_k),
                     batch_size=DATASET_BATCH, workers=0, device=APP.settings.device, limits=APP.settings.limits,
                     lesion=Study(whole("k", remove_k or 0)) if lesion else None)

    def report(done: int, total: int) -> None:
        if not alive():
            raise Stopped()
        progress(done / max(total, 1), desc=f"{done:,} of {total:,} images")

    try:
        with holding(made[0]), holding(made[-1]):  # (never pruned while it runs, however long)
            run_dataset(job, report)
    except BaseException as exc:
        for f in made:  # a run that failed or stopped leaves nothing behind, and is not listed
            shutil.rmtree(f, ignore_errors=True)
        if isinstance(exc, Stopped):
            log.warning("a dataset run stopped: its client went away")
            raise Refusal("the run was stopped", "Stopped") from None
        raise
    name = f"{display_name(root.name if folder else 'upload')}-{uuid.uuid4().hex[:6]}"
    APP.runs.add(name, OpenRun(out, session, root.resolve(), (config, weights, checkpoint or APP.settings.weights),
                               held=made))
    return _view(name, "", session)


@titled("Cannot open this run")
def dataset_open(name: str | None, archive: str | None, request: gr.Request = None) -> DatasetView:
    """A finished run: one ``--runs DIR`` offers, or its files uploaded as a .zip (read as data: its images
    only from a folder the server vouches for, never its weights file)."""
    session = _session(request)
    if archive:
        name = f"uploaded-{uuid.uuid4().hex[:6]}"
        folder = fresh_folder(OUTPUT_ROOT)
        try:
            unpack_run(archive, folder)
            files = RunFiles.load(folder, APP.settings.limits, max_bytes=ARCHIVE_BYTES)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        APP.runs.add(name, OpenRun(folder, session, _vouched(files.summary["root"], session), held=[folder],
                                   uploaded=True))
    elif name:
        _run(name, session)
    else:
        raise Refusal("pick a run, or upload one's files as a .zip", "No run")
    return _view(name, "", session)


def _view(name: str, block: str, session: str) -> DatasetView:
    _, run = _run(name, session)
    s = run.summary
    chosen = block if block in run.channels else run.blocks[0]
    dead = sum(1 for rows in run.channels.values() for r in rows if r["dead"] == "True")
    text = (f"**{_code(s['model'])}** over **{s['images_used']:,}** images of {s['folder'] or 'a folder'} · weights "
            f"{_code(s['weights'])} · crop {s['preprocessing']['crop_size']} px · {dead:,} dead channels in all"
            + _skipped_text(s) + _lowered_text(s) + _images_text(run))
    rows = run.rows(chosen)
    return DatasetView(name, text + _lesion_text(s), gr.update(choices=run.blocks, value=chosen),
                       {"headers": list(CHANNEL_COLUMNS), "data": rows}, channels_figure(run, chosen),
                       gr.update(value=None), f"Pick a channel of **{_code(chosen)}** (a row, a point, or its number) "
                                              "to see its top images.",
                       gr.update(value=lesion_figure(run.lesion, s.get("accuracy"), chosen), visible=True)
                       if run.lesion else gr.update(value=None, visible=False),
                       gr.update(value=k_figure(run.lesion_k, len(run.lesion)), visible=True)
                       if run.lesion and run.lesion_k else gr.update(value=None, visible=False))


def _code(text: str) -> str:
    """Text a run's files carry, shown as itself: a plain name stays plain; anything else as code (no link, no
    image, no markup is made of it)."""
    if all(c.isalnum() or c in " ._-:()+;,=/×" for c in text) and "//" not in text:
        return text
    return "`" + text.replace("`", "'")[:MAX_TEXT] + "`"


def _skipped_text(s: dict) -> str:
    skipped = s["skipped"]
    if not skipped:
        return ""
    shown = "; ".join(f"{_code(x['file'])}: {_code(x['reason'] or 'not readable')}" for x in skipped[:3])
    return f"\n\nSkipped {len(skipped):,} image{'s' if len(skipped) > 1 else ''} ({shown}{'; …' if len(skipped) > 3 else ''})."


def _lowered_text(s: dict) -> str:
    b = s.get("batch_size")
    return (f"\n\nRun in batches of {b} (not {DATASET_BATCH}): a larger batch would need more memory than the "
            "server's limit.") if b and b < DATASET_BATCH and s.get("batch_lowered_from") else ""


def _images_text(run: RunFiles) -> str:
    return "" if run.images is not None else ("\n\nIts images are not in a folder this server offers: the top images "
                                              "are listed, not shown.")
def _lesion_text(s: dict) -> str:
    if "lesion" not in s:
        return ""
    acc = s.get("accuracy")
    head = (f"full model top-1 **{acc:.1%}** on {s['labelled']:,} labelled images" if acc is not None
            else _code(s["labels"]))
    k = s["lesion"]["remove_k"]
    draws = (f" · k-removal up to {k}, {s['lesion']['repeats']} draws each from seed {s['lesion']['seed']}, "
             f"drawn from {'identity blocks only' if s['lesion']['pool'] == 'identity' else 'all blocks'}") if k else ""
    return f"\n\nLesions: {head}{draws}."


def dataset_block(name: str, block: str, request: gr.Request = None) -> DatasetView:
    """Another block of the run."""
    capped("a block name", block)
    return _view(name, block, _session(request))


def dataset_follow(name: str, block: str, active: str = "dataset", request: gr.Request = None) -> DatasetView:
    """The selected block, when a run is open (and the tab is)."""
    if active != "dataset" or not name:
        return skipped(DatasetView)
    session = _session(request)
    _, run = _run(name, session)
    return _view(name, block, session) if block in run.channels else skipped(DatasetView)


class Examples(NamedTuple):
    plot: Any
    examples: Any
    caption: str


@titled("Cannot show these examples")
def dataset_channel(name: str, block: str, channel: float, request: gr.Request = None) -> Examples:
    """A channel's top images, each cropped around its maximum to the channel's receptive field, with its map."""
    opened, run = _run(name, _session(request))
    c = whole("channel", channel)
    capped("a block name", block)
    rows = run.examples(block, c)
    s = run.summary
    pre = Preprocess(s["preprocessing"]["resize_size"], s["preprocessing"]["crop_size"],
                     tuple(s["preprocessing"]["mean"]), tuple(s["preprocessing"]["std"]))
    config, weights, ckpt, notice = _model_of(opened, s)
    trace = lib.structure_trace(config, pre.crop_size)
    field = next((r for r in lib.receptive_fields(trace) if r.name == block), None)
    if field is None:
        raise Refusal(f"{block[:80]!r} is a block of this run but not of {config.spec}: the run's files do not "
                      "belong to its model", "Not this model")

    def channel_map(path: Path):  # noqa: ANN202
        _, cap, _ = APP.store.run_image(config, path, weights, ckpt, APP.settings.device, preprocess=pre)
        return cap.crop, cap.maps[block].channel(c)

    tiles = examples(run, block, c, field.output_stride, field.size, channel_map)
    caption = (f"**{_code(block)} · channel {c}**: its top {len(rows)} images by their maximum, each cropped to its "
               f"receptive field ({field.size} px) around the maximum, the channel's map over it{notice}")
    if len(tiles) < len(rows):
        missing = len(rows) - len(tiles)
        caption += (f" ({missing} of them are not in a folder this server offers, or no longer there: "
                    + ", ".join(_code(r["image"]) for r in rows[:3]) + ("…" if len(rows) > 3 else "") + ")"
                    if run.images is None else f" ({missing} images are no longer where the run read them)")
    return Examples(channels_figure(run, block, c), tiles, caption)


def run_files(name: str, spec: str, block: str, request: gr.Request = None) -> RunFiles | None:
    """The files of the open run ``name`` when it is of model ``spec`` and has ``block`` (else None: its numbers
    are another model's)."""
    try:
        _, run = _run(name, _session(request))
    except (Refusal, ValueError):  # (a DatasetError is one)
        return None
    return run if run.summary.get("model") == spec and block in run.channels else None


def run_choices(request: gr.Request = None) -> Any:
    """The runs this session may open, read when the picker is opened (a run made since is among them)."""
    return gr.update(choices=saved_runs(_session(request)))


class FromFeatures(NamedTuple):
    """The Dataset tab opened on a channel zoomed in the Feature maps tab."""

    tabs: Any
    channel: Any
    plot: Any
    examples: Any
    caption: str


class RowPicked(NamedTuple):
    """A row of the channels table picked: its channel and examples."""

    channel: Any
    plot: Any
    examples: Any
    caption: str


def open_from_features(spec: str, name: str, block: str, channel: float, request: gr.Request = None) -> FromFeatures:
    """A channel zoomed in the Feature maps tab: the Dataset tab opens on its examples, when a run of the same
    model is open there (else nothing changes)."""
    if not name or channel is None or float(channel) < 0:
        return skipped(FromFeatures)
    _, run = _run(name, _session(request))
    if run.summary.get("model") != spec or block not in run.channels:
        return skipped(FromFeatures)
    c = whole("channel", channel)
    return FromFeatures(gr.update(selected="dataset"), c, *dataset_channel(name, block, c, request))


def channel_row(name: str, block: str, evt: gr.SelectData, request: gr.Request = None) -> RowPicked:
    """A row of the channels table: its channel's examples."""
    row = evt.row_value or []
    if not row:
        return skipped(RowPicked)
    return RowPicked(int(row[0]), *dataset_channel(name, block, int(row[0]), request))


def _model_of(run: OpenRun, summary: dict) -> tuple[Any, str, str | None, str]:
    """The model and weights a run used, to draw its maps again; with a notice where they differ. The weights
    file a run names is used only for a run of the server's own --runs folder, never for an uploaded one."""
    if run.made is not None:
        config, weights, ckpt = run.made
        return config, weights, ckpt, "."
    config = model_config(summary["model"])
    path = summary.get("weights_file")
    if path and not run.uploaded and Path(path).is_file():
        return config, "file", path, "."
    if summary["weights"].startswith("random"):
        return config, "random", None, "."
    return config, "random", None, (" — the run's weights are not here: the maps are of random weights, the crops "
                                    "are where the run found the maxima.")


__all__ = ["DatasetView", "Examples", "FromFeatures", "RowPicked", "channel_row", "dataset_block", "dataset_channel",
           "dataset_follow", "dataset_open", "dataset_run", "open_from_features", "run_choices", "run_files", "saved_runs",
           "server_folders"]
