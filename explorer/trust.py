"""What a model file may make the server do: nothing but hold tensors.

Three loaders we call read more than tensors when a file asks them to: ``torch.export.load`` unpickles legacy
members with a fallback to ``weights_only=False``, unpickles custom objects, and ``dlopen``s AOTInductor
libraries; onnx2torch reads any tensor marked as external data from a path relative to the working folder.
So a file is vetted before its loader sees it (``vet_pt2``, ``vet_onnx``), and every ``torch.load`` of a
user's file runs under ``weights_only_loads`` (torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``, which it reads on
each call and which overrides an explicit ``weights_only=False``): a layout we did not foresee still cannot
unpickle code. The app and the CLI set it for the whole process (``guard_process``).
"""
from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

FORCE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_LOCK = threading.Lock()
_HELD = 0  # weights_only_loads blocks running now
_BEFORE: str | None = None  # the variable as it was before the first of them
_GUARDED = False  # the whole process is guarded (guard_process): the variable stays

# What a .pt2 holds, relative to its archive folder, in the layouts torch.export.save has written (2.5 onwards,
# and the top-level layout of 2.7 and before). Anything else (AOTInductor libraries, ExecuTorch, MTIA, custom
# and opaque objects, which load with pickle or dlopen) is refused.
PT2_FILES = {"archive_format", "archive_version", "byteorder", "version", ".data/version", ".data/serialization_id",
             "serialized_exported_program.json", "serialized_state_dict.pt", "serialized_constants.pt",
             "serialized_example_inputs.pt", "serialized_state_dict.json", "serialized_constants.json"}
PT2_FOLDERS = ("models/", "data/weights/", "data/constants/", "data/sample_inputs/", "extra/", "extra_files/")
PT2_OBJECTS = ("custom_obj_", "opaque_obj_")


class UnsafeFile(ValueError):
    """A file that asks its loader to do more than read tensors; the message says what, in one line."""


def guard_process() -> None:
    """Every ``torch.load`` in this process reads weights only, for good (the app's and the CLI's start-up)."""
    global _GUARDED
    with _LOCK:
        _GUARDED = True
        os.environ[FORCE] = "1"


@contextmanager
def weights_only_loads() -> Iterator[None]:
    """Every ``torch.load`` while this block runs reads weights only, whatever its caller asked for (a library
    user's own loads are left as they were afterwards)."""
    global _HELD, _BEFORE
    with _LOCK:
        if _HELD == 0:
            _BEFORE = os.environ.get(FORCE)
        _HELD += 1
        os.environ[FORCE] = "1"
    try:
        yield
    finally:
        with _LOCK:
            _HELD -= 1
            if _HELD == 0 and not _GUARDED:
                if _BEFORE is None:
                    os.environ.pop(FORCE, None)
                else:
                    os.environ[FORCE] = _BEFORE


# ---- torch.export archives -------------------------------------------------------------------------------------

def _relative(names: list[str]) -> dict[str, str]:
    """Each member's name relative to the archive's folder (torch's reader strips the first folder when every
    member is in one; the legacy reader reads top-level names), both forms kept."""
    out = {n: n for n in names}
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        out = {n: n.split("/", 1)[1] for n in names}
    return out


def vet_pt2(path: Path) -> None:
    """Refuse a ``.pt2`` unless every member is one the layouts hold and every member a loader may unpickle
    loads with ``weights_only=True``."""
    import torch

    name = path.name
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            relative = _relative(names)
            pickled = []
            for member, rel in relative.items():
                base = PurePosixPath(rel).name
                if base.startswith(PT2_OBJECTS):
                    raise UnsafeFile(f"{name} holds a custom object ({base}), which loads with pickle and could run "
                                     "code: refused")
                if rel not in PT2_FILES and not rel.startswith(PT2_FOLDERS):
                    raise UnsafeFile(f"{name} holds {rel.split('/', 1)[0][:60]!r}, which is not part of an exported "
                                     "program's weights and graph (compiled code, other runtimes): refused")
                if rel.endswith((".pt", ".pkl", ".pickle")):
                    pickled.append(member)
            for member, rel in relative.items():
                if rel.endswith(("_weights_config.json", "_constants_config.json")):
                    folder = member.rsplit("/", 1)[0] if "/" in member else ""
                    for meta in _config(z.read(member), name).values():
                        if isinstance(meta, dict) and meta.get("use_pickle"):
                            pickled.append(f"{folder}/{meta.get('path_name', '')}".lstrip("/"))
            for member in pickled:
                if member not in relative:
                    continue
                try:
                    with weights_only_loads():
                        torch.load(io.BytesIO(z.read(member)), map_location="cpu", weights_only=True)
                except Exception:  # noqa: BLE001 - anything weights_only refuses is refused
                    raise UnsafeFile(f"{name} holds pickled objects ({PurePosixPath(member).name}) that are not "
                                     "plain tensors: refused, since loading them could run code") from None
    except zipfile.BadZipFile:
        raise UnsafeFile(f"{name} is not a torch.export archive (.pt2 is a zip)") from None


def _config(data: bytes, name: str) -> dict[str, Any]:
    try:
        config = json.loads(data).get("config", {})
    except (ValueError, AttributeError):
        raise UnsafeFile(f"{name}: its weights list is not readable JSON") from None
    if not isinstance(config, dict):
        raise UnsafeFile(f"{name}: its weights list is not readable JSON")
    return config


# ---- ONNX ------------------------------------------------------------------------------------------------------

def _graphs(model: Any) -> Iterator[Any]:
    """The model's graph, every subgraph of every node's attributes (If, Loop, Scan), and the functions'."""
    todo = [model.graph]
    for f in model.functions:
        todo.append(f)  # a FunctionProto has nodes, no initialisers
    while todo:
        g = todo.pop()
        yield g
        for node in g.node:
            for a in node.attribute:
                if a.HasField("g"):
                    todo.append(a.g)
                todo.extend(a.graphs)


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor a graph holds: initialisers, sparse initialisers' values and indices, node attributes."""
    yield from getattr(graph, "initializer", ())
    for s in getattr(graph, "sparse_initializer", ()):
        yield s.values
        yield s.indices
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("sparse_tensor"):
                yield a.sparse_tensor.values
                yield a.sparse_tensor.indices
            for s in a.sparse_tensors:
                yield s.values
                yield s.indices


def vet_onnx(model: Any, name: str, max_nodes: int) -> int:
    """Refuse an ONNX model with any tensor kept outside the file (anywhere: initialisers, sparse initialisers,
    node attributes, subgraphs, functions) or with more than ``max_nodes`` nodes in all; returns the count."""
    import onnx

    nodes = 0
    for g in _graphs(model):
        nodes += len(g.node)
        if nodes > max_nodes:
            raise UnsafeFile(f"{name} has over {max_nodes:,} nodes; a ResNet has a few hundred (raise the limit with "
                             "RESNET_EXPLORER_MAX_GRAPH_NODES, or --max-graph-nodes for app.py)")
        for t in _tensors(g):
            if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data):
                raise UnsafeFile(f"{name} keeps tensors in separate files (ONNX external data), which are not read "
                                 "here; save it as one file (onnx.save_model(..., save_as_external_data=False))")
    return nodes


__all__ = ["UnsafeFile", "guard_process", "vet_onnx", "vet_pt2", "weights_only_loads"]
