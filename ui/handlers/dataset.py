"""Dataset runs in the app: images uploaded in the browser (files or a .zip) or a server folder offered at
start-up (``--datasets DIR``) through the applied model, with progress; or a finished run opened (``--runs DIR``,
or its files zipped); then a block's channels, and a channel's top images as dataset examples."""
from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from explorer.dataset import DatasetJob, run_dataset
from explorer.dataset.folder import IMAGE_SUFFIXES, DatasetError, preprocessing
from explorer.dataset.views import CHANNEL_COLUMNS, RunFiles, channels_figure, examples
from explorer.files import display_name, fresh_folder
from explorer.lesion.study import Study
from explorer.lesion.views import k_figure, lesion_figure
from explorer.models import parse_model
from resnet import Preprocess

from .. import lib
from ..context import APP
from ..refusals import Refusal, titled
from ..settings import OUTPUT_ROOT
from .checks import capped, model_config, skipped, whole

MAX_FILES = 5000  # images one upload may hold
DATASET_BATCH = 16


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


def saved_runs() -> list[str]:
    """The finished runs ``--runs DIR`` offers, and the ones made here since start-up, by name."""
    found = [name for name in APP.runs]
    root = APP.settings.runs
    if root is not None and Path(root).is_dir():
        found += sorted(p.name for p in Path(root).iterdir() if (p / "summary.json").is_file() and p.name not in found)
    return found


def _run_folder(name: str) -> Path:
    if name in APP.runs:
        return APP.runs[name]
    root = APP.settings.runs
    if root is None or name not in saved_runs():
        raise Refusal(f"no dataset run named {name[:80]!r} here; run one, or pick one of the list", "Unknown run")
    return Path(root) / name


def _from_upload(paths: list[str]) -> Path:
    """Uploaded images (or one .zip of them) in a fresh folder under names the server picks; a .zip keeps its
    subfolders (one per class), within the upload limit as it inflates."""
    folder = fresh_folder(OUTPUT_ROOT) / "uploads"  # (the summary: "over 12 images of uploads")
    folder.mkdir()
    limit, total = APP.settings.limits.upload_bytes, 0
    if len(paths) == 1 and paths[0].lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(paths[0]) as z:
                members = [i for i in z.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in IMAGE_SUFFIXES]
                if len(members) > MAX_FILES or sum(i.file_size for i in members) > 8 * limit:
                    raise Refusal(f"this archive holds {len(members):,} images ({sum(i.file_size for i in members) / 2**20:,.0f} "
                                  f"MiB); at most {MAX_FILES:,} images of {8 * limit / 2**20:,.0f} MiB are taken", "Too large")
                for n, i in enumerate(members):
                    parts = [display_name(p) for p in Path(i.filename).parts if p not in ("", ".", "..", "/")][-2:]
                    target = folder.joinpath(*parts)
                    if folder.resolve() not in target.resolve().parents or target.exists():
                        target = folder / f"{n:05d}_{parts[-1]}"  # never outside, never over another
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(i) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except zipfile.BadZipFile:
            raise Refusal("this .zip is not a readable archive", "Cannot read the archive") from None
        return folder
    if len(paths) > MAX_FILES:
        raise Refusal(f"{len(paths):,} files; at most {MAX_FILES:,} are taken", "Too many files")
    for n, p in enumerate(paths):
        total += Path(p).stat().st_size
        shutil.copyfile(p, folder / f"{n:05d}_{display_name(Path(p).name)}")
    return folder


@titled("Cannot run this dataset")
def dataset_run(spec: str, uploads: list[str] | None, folder: str | None, weights: str, checkpoint: str | None,
                top_k: float, lesion: bool = False, remove_k: float = 0, resize: float = 0, crop: float = 0,
                progress: gr.Progress = gr.Progress()) -> DatasetView:
    """The applied model over the images (uploaded, or the server folder picked), every block's channels; with
    ``lesion``, each block removed in turn (and ``remove_k`` random blocks at once, 5 draws each). ``resize``
    and ``crop`` (px; 0: the weights' own) are the preprocessing, as the CLI's ``--resize`` and ``--crop``."""
    config = model_config(spec)
    pre = preprocessing(whole("resize", resize or 0), whole("crop", crop or 0), limits=APP.settings.limits)
    if uploads:
        root = _from_upload(list(uploads))
    elif folder:
        capped("a folder", folder)
        if folder not in server_folders():
            raise Refusal("pick one of the folders offered (python app.py --datasets DIR)", "Unknown folder")
        base = Path(APP.settings.datasets)
        root = base if folder == "(all of it)" else base / folder
    else:
        raise Refusal("upload images (or a .zip of them), or pick a folder the server offers", "No images")
    out = fresh_folder(OUTPUT_ROOT) / "run"
    job = DatasetJob(config, root, out, weights, checkpoint or APP.settings.weights, pre, top_k=whole("top-k", top_k),
                     batch_size=DATASET_BATCH, workers=0, device=APP.settings.device, limits=APP.settings.limits,
                     lesion=Study(whole("k", remove_k or 0)) if lesion else None)

    def report(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"{done:,} of {total:,} images")

    run_dataset(job, report)
    name = f"{display_name(root.name if folder else 'upload')}-{uuid.uuid4().hex[:6]}"
    APP.runs[name] = out
    APP.run_models[name] = (config, weights, checkpoint or APP.settings.weights)
    return _view(name, "")


@titled("Cannot open this run")
def dataset_open(name: str | None, archive: str | None) -> DatasetView:
    """A finished run: one ``--runs DIR`` offers, or its files uploaded as a .zip."""
    if archive:
        folder = fresh_folder(OUTPUT_ROOT)
        try:
            with zipfile.ZipFile(archive) as z:
                for want in ("summary.json", "channels.csv", "top.csv", "lesion.csv", "lesion_k.csv"):
                    info = next((i for i in z.infolist() if Path(i.filename).name == want), None)
                    if info is None and want.startswith("lesion"):
                        continue
                    if info is None or info.file_size > 256 * 2**20:
                        raise Refusal(f"the archive needs {want} (as `python -m explorer dataset` writes it)", "Not a run")
                    (folder / want).write_bytes(z.read(info))
        except zipfile.BadZipFile:
            raise Refusal("this .zip is not a readable archive", "Cannot read the archive") from None
        name = f"uploaded-{uuid.uuid4().hex[:6]}"
        APP.runs[name] = folder
    elif name:
        capped("a run name", name)
        _run_folder(name)
    else:
        raise Refusal("pick a run, or upload one's files as a .zip", "No run")
    return _view(name, "")


def _run(name: str) -> RunFiles:
    if not name:
        raise Refusal("run a dataset, or open a finished run, first", "No run yet")
    return RunFiles.load(_run_folder(name))


def _view(name: str, block: str) -> DatasetView:
    run = _run(name)
    s = run.summary
    chosen = block if block in run.channels else run.blocks[0]
    dead = sum(1 for rows in run.channels.values() for r in rows if r["dead"] == "True")
    text = (f"**{s['model']}** over **{s['images_used']:,}** images of {s['folder']} · weights {s['weights']} · "
            f"crop {s['preprocessing']['crop_size']} px · {dead:,} dead channels in all"
            + (f" · skipped {len(s['skipped'])} ({', '.join(x['file'] for x in s['skipped'][:3])})" if s["skipped"] else ""))
    rows = run.rows(chosen)
    return DatasetView(name, text + _lesion_text(s), gr.update(choices=run.blocks, value=chosen),
                       {"headers": list(CHANNEL_COLUMNS), "data": rows}, channels_figure(run, chosen),
                       gr.update(value=None), f"Pick a channel of **{chosen}** (a row, a point, or its number) to see "
                                              "its top images.",
                       gr.update(value=lesion_figure(run.lesion, s.get("accuracy"), chosen), visible=True)
                       if run.lesion else gr.update(value=None, visible=False),
                       gr.update(value=k_figure(run.lesion_k, len(run.lesion)), visible=True)
                       if run.lesion else gr.update(value=None, visible=False))


def _lesion_text(s: dict) -> str:
    if "lesion" not in s:
        return ""
    acc = s.get("accuracy")
    head = f"full model top-1 **{acc:.1%}** on {s['labelled']:,} labelled images" if acc is not None else s["labels"]
    k = s["lesion"]["remove_k"]
    draws = (f" · k-removal up to {k}, {s['lesion']['repeats']} draws each from seed {s['lesion']['seed']}, "
             f"drawn from {'identity blocks only' if s['lesion']['pool'] == 'identity' else 'all blocks'}") if k else ""
    return f"\n\nLesions: {head}{draws}."


def dataset_block(name: str, block: str) -> DatasetView:
    """Another block of the run."""
    capped("a block name", block)
    return _view(name, block)


def dataset_follow(name: str, block: str, active: str = "dataset") -> DatasetView:
    """The selected block, when a run is open (and the tab is)."""
    if active != "dataset" or not name:
        return skipped(DatasetView)
    run = _run(name)
    return _view(name, block) if block in run.channels else skipped(DatasetView)


class Examples(NamedTuple):
    plot: Any
    examples: Any
    caption: str


@titled("Cannot show these examples")
def dataset_channel(name: str, block: str, channel: float) -> Examples:
    """A channel's top images, each cropped around its maximum to the channel's receptive field, with its map."""
    run = _run(name)
    c = whole("channel", channel)
    rows = run.examples(block, c)
    s = run.summary
    pre = Preprocess(s["preprocessing"]["resize_size"], s["preprocessing"]["crop_size"],
                     tuple(s["preprocessing"]["mean"]), tuple(s["preprocessing"]["std"]))
    config, weights, ckpt, notice = _model_of(name, s)
    trace = lib.structure_trace(config, pre.crop_size)
    field = next(r for r in lib.receptive_fields(trace) if r.name == block)

    def channel_map(path: Path):  # noqa: ANN202
        _, cap, _ = APP.store.run_image(config, path, weights, ckpt, APP.settings.device, preprocess=pre)
        return cap.crop, cap.maps[block].channel(c)

    tiles = examples(run, block, c, field.output_stride, field.size, channel_map)
    caption = (f"**{block} · channel {c}**: its top {len(rows)} images by their maximum, each cropped to its "
               f"receptive field ({field.size} px) around the maximum, the channel's map over it{notice}")
    if len(tiles) < len(rows):
        caption += f" ({len(rows) - len(tiles)} images are no longer where the run read them)"
    return Examples(channels_figure(run, block, c), tiles, caption)


def run_choices() -> Any:
    """The runs to open, read when the picker is opened (a run made since is among them)."""
    return gr.update(choices=saved_runs())


def open_from_features(spec: str, name: str, block: str, channel: float) -> tuple:
    """A channel zoomed in the Feature maps tab: the Dataset tab opens on its examples, when a run of the same
    model is open there (else nothing changes)."""
    if not name or channel is None or float(channel) < 0:
        return (gr.skip(),) * 5
    run = _run(name)
    if run.summary.get("model") != spec or block not in run.channels:
        return (gr.skip(),) * 5
    c = whole("channel", channel)
    return (gr.update(selected="dataset"), c, *dataset_channel(name, block, c))


def channel_row(name: str, block: str, evt: gr.SelectData) -> tuple:
    """A row of the channels table: its channel's examples."""
    row = evt.row_value or []
    if not row:
        return (gr.skip(),) * 4
    return (int(row[0]), *dataset_channel(name, block, int(row[0])))


def _model_of(name: str, summary: dict) -> tuple[Any, str, str | None, str]:
    """The model and weights a run used, to draw its maps again; with a notice where they differ."""
    if name in APP.run_models:
        config, weights, ckpt = APP.run_models[name]
        return config, weights, ckpt, "."
    config = parse_model(summary["model"])
    path = summary.get("weights_file")
    if path and Path(path).is_file():
        return config, "file", path, "."
    if summary["weights"].startswith("random"):
        return config, "random", None, "."
    return config, "random", None, (f" — the run's weights ({summary['weights']}) are not here: the maps are of "
                                    "random weights, the crops are where the run found the maxima.")


__all__ = ["DatasetView", "Examples", "channel_row", "open_from_features", "run_choices", "dataset_block", "dataset_channel", "dataset_follow", "dataset_open",
           "dataset_run", "saved_runs", "server_folders"]
