"""``resnet-explorer app [flags]`` and ``resnet-explorer open FILE [flags]``: the web app, from the installed
package. The app lives in ``resnet_explorer`` (it needs gradio), imported only here, when one of these runs, so
``import explorer`` and every other command stay free of gradio. Their flags are the app's own
(``resnet-explorer app --help``)."""
from __future__ import annotations

import argparse
import sys

from ..limits import Limits
from .common import Command


def run(argv: list[str]) -> None:
    """``app [flags]`` or ``open FILE [flags]``: every flag goes to the app's own parser (``--help`` too), so
    they are read here rather than by the CLI's parser."""
    if argv[0] == "app":
        return _serve(argv[1:], "resnet-explorer app")
    rest = argv[1:]
    if "-h" in rest or "--help" in rest:
        return _serve(["--help"], "resnet-explorer open FILE")
    if not rest or rest[0].startswith("-"):
        print("resnet-explorer open: error: name the model file to open first (see --help)", file=sys.stderr)
        raise SystemExit(2)
    _serve(["--open", rest[0], *rest[1:], *([] if "--inbrowser" in rest else ["--inbrowser"])],
           "resnet-explorer open FILE")


def _listed(p: argparse.ArgumentParser) -> None:
    """Listed in ``--help`` only: ``run`` takes these commands before the CLI's parser sees them."""


def _serve(flags: list[str], prog: str) -> None:
    try:
        from resnet_explorer.main import main
    except ImportError as exc:  # the library installed without the app's dependencies
        raise SystemExit(f"error: the app needs {exc.name or 'gradio'} (pip install resnet-explorer installs it)")
    try:
        main(flags, prog=prog)
    except KeyboardInterrupt:
        pass


def _never(args: argparse.Namespace, limits: Limits) -> str:
    raise AssertionError("app and open are run by explorer.cli.app.run")


COMMANDS = (
    Command("app", "serve the web app (the same flags as python app.py; app --help lists them)", _listed, _never),
    Command("open", "open FILE (a checkpoint, .onnx, .pt2, Hugging Face folder) in the web app and a browser tab, "
                    "as netron FILE does", _listed, _never),
)
NAMES = tuple(c.name for c in COMMANDS)
