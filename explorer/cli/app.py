"""``app`` and ``open`` as the CLI's help lists them; they are run by ``explorer.launcher`` before this package
is imported (its commands import torch, which the app's page is served without)."""
from __future__ import annotations

import argparse

from ..limits import Limits
from .common import Command


def _listed(p: argparse.ArgumentParser) -> None:
    """Listed in ``--help`` only: ``explorer.launcher`` takes these commands before the CLI's parser sees them."""


def _never(args: argparse.Namespace, limits: Limits) -> str:
    raise AssertionError("app and open are run by explorer.launcher")


COMMANDS = (
    Command("app", "serve the web app (the same flags as python app.py; app --help lists them)", _listed, _never),
    Command("open", "open FILE (a checkpoint, .onnx, .pt2, Hugging Face folder) in the web app and a browser tab, "
                    "as netron FILE does", _listed, _never),
)
