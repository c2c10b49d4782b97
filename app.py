"""ResNet Explorer: ``python app.py`` serves the web UI (127.0.0.1:7860 by default; ``--help`` for the flags).

The UI is the ``resnet_explorer`` package, whose docstring maps its rooms; an installed wheel starts the same
``main`` as ``resnet-explorer app``.
"""
from __future__ import annotations

from typing import Any

from resnet_explorer.main import main


def __getattr__(name: str) -> Any:
    """``app.demo`` for tools that look for it (``gradio app.py``), built on first access only."""
    if name == "demo":
        from resnet_explorer.page import build_demo

        return build_demo()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
