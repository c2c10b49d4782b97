"""The app's entry point, for every way it is started: ``python app.py``, ``python -m resnet_explorer``, and the
installed ``resnet-explorer app`` / ``resnet-explorer open FILE``. Only what must come before the heavy imports
is here: glibc's malloc arenas limited (before any thread starts) and the flags parsed (``--help`` and a bad
flag answer before gradio and torch load)."""
from __future__ import annotations

from .settings import limit_malloc_arenas, parse_args


def main(argv: list[str] | None = None, prog: str = "app.py") -> None:
    """Serve the app as ``argv`` says, until interrupted."""
    limit_malloc_arenas()
    args = parse_args(argv, prog)
    from .server import serve  # gradio, and the page: after the flags

    serve(args)
