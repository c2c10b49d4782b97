"""Lesion studies (Veit, Wilber and Belongie 2016): a residual block removed at test time, its branch set to zero
so that it computes act(shortcut(x)), and what the network's output loses over a dataset.

- ``replay``: a forward taped once and replayed from an op onward with chosen additions lesioned,
- ``plan``: each block's addition and the values each cut needs; the k-removal draws; path lengths,
- ``measure``: a batch's numbers as partials that merge exactly (``lesion_batch``).
"""
from .measure import LESION_FIELDS, LesionError, LesionPartial, lesion_batch
from .plan import POOLS, draws, lesion_plan_for, path_lengths

__all__ = ["LESION_FIELDS", "LesionError", "LesionPartial", "POOLS", "draws", "lesion_batch", "lesion_plan_for",
           "path_lengths"]
