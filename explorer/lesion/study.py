"""A lesion study over a dataset run: its settings, the images' labels as the model's classes, which blocks each
k-removal draw takes (seeded), the path-length distribution, and the rows of ``lesion.csv`` and ``lesion_k.csv``
from the merged partials. Torch-free, as the page is built before torch is imported."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .partial import LesionPartial

POOLS = ("all", "identity")  # the k-removal draws take any block, or identity blocks only (Veit et al.'s Fig. 5a)


@dataclass(frozen=True)
class Study:
    """``remove_k``: k-removal draws for k = 1 … remove_k (0: none), ``repeats`` draws each, from ``seed``;
    ``pool``: the draws take any block ("all") or identity blocks only ("identity")."""

    remove_k: int = 0
    repeats: int = 5
    seed: int = 0
    pool: str = "all"

    def check(self) -> str | None:
        for name, value, low in (("--remove-k", self.remove_k, 0), ("--draws", self.repeats, 1), ("--seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                return f"{name} must be a whole number of at least {low}, got {value!r}"
        if self.remove_k * self.repeats > 2000:
            return f"--remove-k × --draws is {self.remove_k * self.repeats} replays per batch, over 2000"
        if self.pool not in POOLS:
            return f"--draw-from must be one of {', '.join(POOLS)}, got {self.pool!r}"
        return None


def targets_of(classes: tuple[str, ...], labels: tuple[int, ...], outputs: int | None,
               names: tuple[str, ...] | None = None) -> tuple[list[int], str]:
    """Each image's class as the model numbers its outputs, and how that was decided. With ``names`` (a labels
    file: the model's class names in output order) a folder is the class of its name; folders named by number
    are those classes; otherwise the sorted folders are the classes in order (ImageFolder's convention) only
    when there are as many as the model has outputs: anything else would score against the wrong classes."""
    if not classes:
        return [-1] * len(labels), "no labels (the images are not in one folder per class)"
    if names is not None:
        index = {n.strip().lower(): i for i, n in reversed(list(enumerate(names))) if n.strip()}
        found = [index.get(c.strip().lower(), -1) for c in classes]
        matched = sum(f >= 0 for f in found)
        if not matched:
            return [-1] * len(labels), f"no labels: none of the {len(classes)} class folders is named in the labels file"
        return ([found[i] if i >= 0 else -1 for i in labels],
                f"class folders matched by name to the class names ({matched} of {len(classes)})")
    if all(c.isdigit() for c in classes):
        return [int(classes[i]) if i >= 0 else -1 for i in labels], "class folders named by class index"
    if outputs is not None and len(classes) == outputs:
        return list(labels), f"{len(classes)} class folders in sorted order as the model's {outputs} classes"
    return [-1] * len(labels), (f"no labels: {len(classes)} class folders for {outputs} model outputs do not say "
                                "which class is which (name the folders by class index, or give a labels file)")


@dataclass(frozen=True)
class Design:
    """A study's blocks, its draws (k, draw, blocks), and each image's class as the model's (-1: none); what the
    engines need and what the files are written from."""

    names: list[str]
    projections: list[bool]
    chosen: list[tuple[int, int, tuple[int, ...]]]
    targets: list[int]
    rule: str

    @property
    def draw_blocks(self) -> list[tuple[int, ...]]:
        return [blocks for _, _, blocks in self.chosen]


def design(model, crop: int, classes: tuple[str, ...], labels: tuple[int, ...], study: Study,  # noqa: ANN001
           names: tuple[str, ...] | None = None) -> Design:
    """The study of ``model`` on images cropped to ``crop`` (its blocks recognised on the meta device)."""
    from ..tracing.layout import example_input
    from .measure import LesionError
    from .plan import lesion_plan_for

    lp = lesion_plan_for(model, example_input(model, crop))
    if lp.outputs is None:
        raise LesionError(f"{lp.plan.model_name} returns no class scores (N×K): a lesion study compares outputs "
                          "by class; give a classifier (a backbone's features have no top-1)")
    if names is not None and len(names) != lp.outputs:
        raise LesionError(f"the labels file has {len(names)} names but the model has {lp.outputs} outputs")
    projections = [b.projection for b in lp.blocks]
    targets, rule = targets_of(classes, labels, lp.outputs, names)
    return Design([b.name for b in lp.blocks], projections,
                  draws(projections, study.remove_k, study.repeats, study.seed, study.pool), targets, rule)


def lesion_rows(names: list[str], projections: list[bool], p: LesionPartial) -> list[dict]:
    n, lab = int(p.images), int(p.labelled)
    return [{"block": name, "projection": int(proj),
             "accuracy": float(p.block_correct[j]) / lab if lab else "",
             "agreement": float(p.block_agree[j]) / n, "kl": float(p.block_kl[j]) / n,
             "ratio": float(p.block_ratio[j]) / n}
            for j, (name, proj) in enumerate(zip(names, projections))]


def draw_rows(names: list[str], chosen: list[tuple[int, int, tuple[int, ...]]], p: LesionPartial) -> list[dict]:
    n, lab = int(p.images), int(p.labelled)
    return [{"k": k, "draw": r, "blocks": " ".join(names[j] for j in blocks),
             "accuracy": float(p.draw_correct[i]) / lab if lab else "",
             "agreement": float(p.draw_agree[i]) / n, "kl": float(p.draw_kl[i]) / n}
            for i, (k, r, blocks) in enumerate(chosen)]


def draws(projections: list[bool], k_max: int, repeats: int, seed: int, pool: str = "all") -> list[tuple[int, int, tuple[int, ...]]]:
    """(k, draw, blocks) for k = 1 … k_max and ``repeats`` draws each: k distinct blocks, sorted, from
    ``numpy.random.default_rng(seed)`` in that order (the same seed, the same draws). ``pool``: any block, or
    identity blocks only."""
    candidates = [j for j, p in enumerate(projections) if pool == "all" or not p]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(1, min(k_max, len(candidates)) + 1):
        for r in range(repeats):
            out.append((k, r, tuple(sorted(int(j) for j in rng.choice(candidates, size=k, replace=False)))))
    return out


def path_lengths(n: int) -> list[float]:
    """The share of the 2ⁿ paths through n residual blocks that pass through l of their branches, l = 0 … n:
    Binomial(n, ½) (Veit et al. 2016, Fig. 6a)."""
    return [math.comb(n, k) / 2 ** n for k in range(n + 1)]


LESION_COLUMNS = ["block", "projection", "accuracy", "agreement", "kl", "ratio"]
DRAW_COLUMNS = ["k", "draw", "blocks", "accuracy", "agreement", "kl"]

__all__ = ["DRAW_COLUMNS", "Design", "LESION_COLUMNS", "POOLS", "Study", "design", "draws", "path_lengths", "draw_rows", "lesion_rows", "targets_of"]
