"""Files a browser gives the Dataset tab, taken as data: images (or a .zip of them) measured before anything is
copied and kept under names the server picks, and a finished run's files unpacked by their base names within
the size an uploaded run may have."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from explorer.dataset.folder import IMAGE_SUFFIXES
from explorer.files import display_name, fresh_folder
from explorer.limits import how_to_raise

from ..context import APP
from ..refusals import Refusal
from ..runs import ARCHIVE_BYTES
from ..settings import OUTPUT_ROOT

MAX_FILES = 5000  # images one upload may hold
UPLOAD_FILES = 8  # one upload may hold this many times the image limit in all (200 MiB by default)
RUN_FILES = ("summary.json", "channels.csv", "top.csv", "lesion.csv", "lesion_k.csv")


def _limit_text(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def from_upload(paths: list[str], session: str) -> Path:
    """Uploaded images (or one .zip of them) in a fresh folder under names the server picks; a .zip keeps its
    subfolders (one per class). Every file is measured before anything is copied: each within the image limit,
    all of them within ``UPLOAD_FILES`` times it."""
    limit = APP.settings.limits.upload_bytes
    if len(paths) == 1 and paths[0].lower().endswith(".zip"):
        return _from_zip(paths[0], limit, session)
    if len(paths) > MAX_FILES:
        raise Refusal(f"{len(paths):,} files; at most {MAX_FILES:,} are taken", "Too many files")
    sizes = [Path(p).stat().st_size for p in paths]
    for p, size in zip(paths, sizes):
        if size > limit:
            raise Refusal(f"{display_name(Path(p).name)} is {_limit_text(size)}, over the {_limit_text(limit)} limit "
                          f"for an image ({how_to_raise('max_upload_mb')})", "Too large")
    if sum(sizes) > UPLOAD_FILES * limit:
        raise Refusal(f"these images take {_limit_text(sum(sizes))}; at most {_limit_text(UPLOAD_FILES * limit)} "
                      "are taken at once (offer a larger folder with python app.py --datasets DIR)", "Too large")
    folder = _upload_folder(session)
    for n, p in enumerate(paths):
        target = folder / f"{n:05d}_{display_name(Path(p).name)}"
        try:
            os.link(p, target)  # (Gradio's copy of the upload: no second copy on disk where one can be linked)
        except OSError:
            shutil.copyfile(p, target)
    return folder


def _upload_folder(session: str) -> Path:
    folder = fresh_folder(OUTPUT_ROOT) / "uploads"  # (the summary: "over 12 images of uploads")
    folder.mkdir()
    APP.runs.uploaded(folder, session)
    return folder


def _from_zip(path: str, limit: int, session: str) -> Path:
    try:
        with zipfile.ZipFile(path) as z:
            members = [i for i in z.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in IMAGE_SUFFIXES]
            total = sum(i.file_size for i in members)
            big = next((i for i in members if i.file_size > limit), None)
            if big is not None:
                raise Refusal(f"{display_name(Path(big.filename).name)} in this archive is {_limit_text(big.file_size)}, "
                              f"over the {_limit_text(limit)} limit for an image", "Too large")
            if len(members) > MAX_FILES or total > UPLOAD_FILES * limit:
                raise Refusal(f"this archive holds {len(members):,} images ({_limit_text(total)}); at most "
                              f"{MAX_FILES:,} images of {_limit_text(UPLOAD_FILES * limit)} are taken", "Too large")
            folder = _upload_folder(session)
            for n, i in enumerate(members):
                parts = [display_name(p) for p in Path(i.filename).parts if p not in ("", ".", "..", "/")][-2:]
                target = folder.joinpath(*parts)
                if folder.resolve() not in target.resolve().parents or target.exists() or target.parent.is_file():
                    target = folder / f"{n:05d}_{parts[-1]}"  # never outside, never over another
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError:  # a member named like another's folder ("a.jpg" and "a.jpg/b.jpg")
                    target = folder / f"{n:05d}_{parts[-1]}"
                with z.open(i) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)  # (zipfile stops at the declared size)
            return folder
    except zipfile.BadZipFile:
        raise Refusal("this .zip is not a readable archive", "Cannot read the archive") from None


def unpack_run(archive: str, folder: Path) -> None:
    """A run's files from a .zip, by their base names, each within ``ARCHIVE_BYTES`` as declared and as read."""
    try:
        with zipfile.ZipFile(archive) as z:
            for want in RUN_FILES:
                info = next((i for i in z.infolist() if Path(i.filename).name == want and not i.is_dir()), None)
                if info is None and want.startswith("lesion"):
                    continue
                if info is None:
                    raise Refusal(f"the archive needs {want} (as `python -m explorer dataset` writes it)", "Not a run")
                if info.file_size > ARCHIVE_BYTES:
                    raise Refusal(f"the archive's {want} is {_limit_text(info.file_size)}, over the "
                                  f"{_limit_text(ARCHIVE_BYTES)} an uploaded run may hold; offer such a run with "
                                  "python app.py --runs DIR", "Too large")
                with z.open(info) as src, open(folder / want, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile:
        raise Refusal("this .zip is not a readable archive", "Cannot read the archive") from None


__all__ = ["MAX_FILES", "RUN_FILES", "UPLOAD_FILES", "from_upload", "unpack_run"]
