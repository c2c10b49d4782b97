"""The app's settings: flags, environment variables and the files it serves. Standard library only, so
``python app.py --help`` and a bad flag answer before gradio or torch is imported."""
from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from explorer.limits import LimitError, Limits, env_name, flag_name

ASSETS = Path(__file__).resolve().parent / "assets"  # package data: the wheel carries it
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "resnet-explorer-outputs"  # a fresh folder per response under it
EXAMPLES = {p.stem: p for p in sorted((ASSETS / "examples").glob("*")) if p.suffix in (".jpg", ".png")}
DEFAULT_SPEC = "resnet50"


def gradio_cache() -> Path:
    """Where Gradio keeps uploads and its copies of the files answers name."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


@dataclass
class AppSettings:
    """What the flags set for the handlers: the default device and checkpoint, and every limit."""

    device: str = "auto"
    weights: str | None = None  # --weights PATH: the default checkpoint for "file"
    limits: Limits = field(default_factory=Limits)
    datasets: Path | None = None  # --datasets DIR: image folders the Dataset tab offers (by name)
    runs: Path | None = None  # --runs DIR: finished dataset runs the Dataset tab offers (by name)
    landing: str = DEFAULT_SPEC  # the model the page shows first (--open FILE: that file's)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None, prog: str = "app.py") -> argparse.Namespace:
    """The app's flags; a bad flag or environment variable exits with one line naming it."""
    p = _Parser(prog=prog, description="ResNet Explorer web app")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=None, help="port to serve on (default 7860; env GRADIO_SERVER_PORT)")
    p.add_argument("--device", default="auto", help="where activations run: auto, cpu, cuda, mps")
    p.add_argument("--weights", default=None, help="checkpoint for the feature maps (torchvision .pth or .safetensors)")
    p.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    p.add_argument("--open", type=_model_path, default=None, metavar="FILE", dest="open_file",
                   help="show this model first: a checkpoint (.pth, .safetensors), .onnx, .pt2, or a Hugging Face "
                        "folder or its .zip (its weights run in the feature maps)")
    p.add_argument("--datasets", type=_folder, default=None, metavar="DIR",
                   help="image folders the Dataset tab offers (it and each folder in it, by name)")
    p.add_argument("--runs", type=_folder, default=None, metavar="DIR",
                   help="finished dataset runs (python -m explorer dataset --out) the Dataset tab offers")
    for f in fields(Limits):
        p.add_argument(flag_name(f.name), type=float, default=None, metavar="N",
                       help=f"limit (default {f.default}; env {env_name(f.name)})")
    args = p.parse_args(argv)
    if args.port is None:
        raw = os.environ.get("GRADIO_SERVER_PORT", "7860")
        try:
            args.port = _port(raw)
        except argparse.ArgumentTypeError as exc:
            p.error(f"GRADIO_SERVER_PORT {exc}")
    given = {f.name: getattr(args, f.name) for f in fields(Limits) if getattr(args, f.name) is not None}
    try:
        args.limits = Limits.from_env(**given)
    except LimitError as exc:
        p.error(str(exc) if str(exc).startswith("RESNET_EXPLORER_") else f"{flag_name(exc.field)} {exc}")
    return args


def _folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return path.resolve()


def _model_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return path.resolve()


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {port}")
    return port


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives every worker thread its own heap, which keeps freed model and activation memory; two
    arenas keep the server's memory on a plateau under concurrent use (see benchmarks/load.py). Set in
    process (glibc's mallopt, before any thread starts), so start-up needs no second interpreter."""
    if "MALLOC_ARENA_MAX" in os.environ:  # the user's own setting, which glibc has already read
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").mallopt(-8, arenas))  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to limit
        return False
