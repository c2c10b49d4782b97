"""Command line: ``python -m explorer summary|analyze|export|compare|features|cam|weights|dataset|visualize MODEL ...``
(or ``resnet-explorer``). Each command is a ``Command`` whose arguments are defined beside its function:
``structure`` (summary, analyze, export, compare), ``images`` (features, cam), ``weights``, ``dataset``, ``visualize``, and
``app`` (app, open: the web app, imported only when one of them runs); what they share is in ``common``.

MODEL is a model spec (``resnet50``, ``bottleneck:3-4-6-3:32x4d:v1``: see ``resnet.spec``), the same string the
app shows, or a checkpoint file; flags such as ``--layers`` change it. Bad arguments exit with status 2 and one
line on stderr.
"""
from __future__ import annotations

import sys
from typing import Sequence

from resnet import CheckpointError

from ..graph.render import GraphvizMissing
from ..limits import Limits
from ..tracing.layout import NotAResNet
from ..trust import guard_process
from . import app, dataset, images, structure, visualize, weights
from .common import SPEC_HELP, Command, Parser, UsageError

COMMANDS: tuple[Command, ...] = (*structure.COMMANDS, *images.COMMANDS, *weights.COMMANDS, *dataset.COMMANDS,
                                 *visualize.COMMANDS, *app.COMMANDS)


def build_parser() -> Parser:
    parser = Parser(prog="python -m explorer", description="Explore ResNet architectures. MODEL is " + SPEC_HELP)
    parser.commands = tuple(c.name for c in COMMANDS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="command")
    for command in COMMANDS:
        command.arguments(sub.add_parser(command.name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    guard_process()  # no torch.load of a user's file unpickles more than tensors (explorer.trust)
    try:
        args = build_parser().parse_args(argv)
        limits = Limits.from_env()
        print(next(c for c in COMMANDS if c.name == args.command).run(args, limits))
    except (UsageError, ValueError, CheckpointError, NotAResNet) as exc:  # ImageError, LimitError: ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GraphvizMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except RuntimeError as exc:  # e.g. a device failure; still one line, still non-zero
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:  # unreadable input files and the like
        print(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2
    return 0


__all__ = ["COMMANDS", "Command", "UsageError", "build_parser", "main"]
