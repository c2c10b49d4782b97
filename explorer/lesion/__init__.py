"""Lesion studies (Veit, Wilber and Belongie 2016): a residual block removed at test time, its branch set to zero
so that it computes act(shortcut(x)), and what the network's output loses over a dataset.

- ``reference``: what a lesion is, plainly (``lesioned_forward``: the forward with chosen additions returning
  their shortcut + 0); what every faster computation here equals,
- ``replay``: a forward taped once and replayed from an op onward with chosen additions lesioned,
- ``plan``: each block's addition and the values each cut needs,
- ``measure``: a batch's numbers (``lesion_batch``), as ``partial.LesionPartial``s that merge exactly,
- ``study``: the settings, labels, k-removal draws, path lengths and the files' rows; ``views``: the charts.

``partial``, ``study`` and ``views`` are torch-free (the app's page is served before torch is imported); the
torch side loads when first named here.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .partial import LESION_FIELDS, LesionPartial
from .study import POOLS, Study, draws, path_lengths

_LAZY = {"LesionError": "measure", "lesion_batch": "measure", "lesion_plan_for": "plan",
         "lesioned_forward": "reference"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LESION_FIELDS", "LesionError", "LesionPartial", "POOLS", "Study", "draws", "lesion_batch",
           "lesion_plan_for", "lesioned_forward", "path_lengths"]
