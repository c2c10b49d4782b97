"""The ``resnet-explorer`` command and ``python -m explorer``: ``app`` and ``open`` start the web app (the
``resnet_explorer`` package, which needs gradio) before anything heavy is imported, so the installed command
serves its page as fast as ``python app.py``; every other command is the CLI's (``explorer.cli``)."""
from __future__ import annotations

import sys
from typing import Sequence

NAMES = ("app", "open")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in NAMES:
        run(argv)
        return 0
    from .cli import main as cli

    return cli(argv)


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


def _serve(flags: list[str], prog: str) -> None:
    try:
        from resnet_explorer.main import main
    except ImportError as exc:  # the library installed without the app's dependencies
        raise SystemExit(f"error: the app needs {exc.name or 'gradio'} (pip install resnet-explorer installs it)")
    try:
        main(flags, prog=prog)
    except KeyboardInterrupt:
        pass
