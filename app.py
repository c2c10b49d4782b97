"""ResNet Explorer: ``python app.py`` serves the web UI (127.0.0.1:7860 by default; ``--help`` for the flags).

Only what must come before the heavy imports is here: glibc's malloc arenas limited (before any thread
starts) and the flags parsed (``--help`` and a bad flag answer before gradio and torch load). The UI is the
``ui`` package; its docstring maps its rooms.
"""
from __future__ import annotations

from typing import Any

from ui.settings import limit_malloc_arenas, parse_args


def main(argv: list[str] | None = None) -> None:
    limit_malloc_arenas()
    args = parse_args(argv)
    from ui.server import serve  # gradio, and the page: after the flags

    serve(args)


def __getattr__(name: str) -> Any:
    """``app.demo`` for tools that look for it (``gradio app.py``), built on first access only."""
    if name == "demo":
        from ui.page import build_demo

        return build_demo()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
