"""Models in files other than a state dict: an ONNX graph (converted to modules by onnx2torch, its weights
kept), a ``torch.export`` program (``.pt2``), and a Hugging Face transformers folder as ``save_pretrained``
writes it (``config.json`` + ``model.safetensors``; zipped, for uploads). Each is checked before anything in
it runs: sizes, no ONNX data outside the file, no pickled object in a program, no remote code or pickled
weights in a folder. onnx/onnx2torch and transformers are optional, like timm: a file that needs one says so.

An opened file is a ``FileModel``: hashable (its content digest), so caches key on it, and named by a spec
(``onnx:resnet50.onnx@1a2b3c4d5e6f``) that holds no server path: the app and the API pass the spec; the file
stays where it was opened.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .files import display_name as display
from .limits import DEFAULT_LIMITS, Limits, format_bytes, how_to_raise
from .trust import UnsafeFile, vet_onnx, vet_pt2, weights_only_loads

if TYPE_CHECKING:
    from torch import nn

    from .tracing.static import Declared

KINDS = ("onnx", "export", "hf")
SUFFIXES = {".onnx": "onnx", ".pt2": "export", ".zip": "hf"}
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KiB
HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
ONNX_MISSING = "onnx and onnx2torch are not installed (pip install onnx onnx2torch): they are needed for ONNX files"
HF_MISSING = "transformers is not installed (pip install transformers): it is needed for Hugging Face folders"


class SourceError(ValueError):
    """A model file that cannot be opened; the message says why, in one line."""


@dataclass(frozen=True)
class FileModel:
    """A model read from a file (or a folder), named by its kind, its file name and its content's digest."""

    kind: str  # "onnx", "export" or "hf"
    name: str  # the file's (or folder's) name, for people
    digest: str  # sha256 of the content, 12 hex digits
    path: str  # where it was opened (never shown: the spec carries the digest)
    limits: Limits = field(default=DEFAULT_LIMITS, compare=False, repr=False)  # what it was measured against

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.name}@{self.digest}"

    @property
    def slug(self) -> str:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(self.name).stem)
        return f"{self.kind}_{stem}_{self.digest[:8]}"

    @property
    def title(self) -> str:
        return {"onnx": "ONNX", "export": "torch.export", "hf": "Hugging Face"}[self.kind] + f" {self.name}"

    def build(self, device: str = "cpu") -> nn.Module:
        """The model with the file's weights, in eval mode (loaded once, kept while it is used)."""
        model = _load(self)
        return model if device in ("cpu", "meta") else model.to(device)


_OPENED: OrderedDict[str, FileModel] = OrderedDict()  # digest -> file, most recent last
_LOCK = threading.Lock()
MAX_OPENED = 64


def opened(spec_text: str) -> FileModel:
    """The opened file a spec names (``onnx:name@digest``); ValueError when none is (any more)."""
    kind, _, rest = spec_text.partition(":")
    digest = rest.rpartition("@")[2]
    with _LOCK:
        found = _OPENED.get(digest)
    if found is None or found.kind != kind:
        raise SourceError(f"no {kind} file with digest {digest[:12]!r} is open here; open the file again")
    return found


def is_source_path(text: str) -> bool:
    """A model argument that names a file or folder this module opens (rather than a spec or a checkpoint)."""
    p = Path(text)
    try:
        return p.suffix.lower() in SUFFIXES and p.is_file() or p.is_dir() and (p / "config.json").is_file()
    except OSError:
        return False


def open_model_file(path: str | Path, max_bytes: int, display_name: str | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> FileModel:
    """Check and load a model file (or folder), and remember it under its spec. A zipped folder that is refused
    leaves nothing unpacked behind."""
    path = Path(path)
    kind = "hf" if path.is_dir() else SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SourceError(f"{path.name}: not a model file this explorer opens (.onnx, .pt2, a Hugging Face folder "
                          "or its .zip)")
    size = _size(path)
    if size > max_bytes:
        raise SourceError(f"{path.name} is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit "
                          "(raise it with RESNET_EXPLORER_MAX_CHECKPOINT_MB, or --max-checkpoint-mb for app.py)")
    unpacked = path.suffix.lower() == ".zip"
    if unpacked:
        path = unpack_hf_zip(path, max_bytes)
    model = FileModel(kind, display(display_name or path.name), _digest(path), str(path), limits)
    try:
        _load(model)  # checked and loaded now: a file that cannot be used is refused when it is opened
    except BaseException:
        if unpacked:
            shutil.rmtree(path, ignore_errors=True)
        raise
    with _LOCK:
        _OPENED[model.digest] = model
        _OPENED.move_to_end(model.digest)
        while len(_OPENED) > MAX_OPENED:
            _OPENED.popitem(last=False)
    return model


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) if path.is_dir() else path.stat().st_size


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(f for f in path.iterdir() if f.name in HF_FILES) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def unpack_hf_zip(path: Path, max_bytes: int) -> Path:
    """A zipped Hugging Face folder, unpacked into a fresh folder: only its config and safetensors weights, by
    their base names, within the size limit as the archive declares it and as it inflates."""
    try:
        with zipfile.ZipFile(path) as z:
            members = {Path(i.filename).name: i for i in z.infolist() if not i.is_dir()
                       and Path(i.filename).name in HF_FILES}
            if "config.json" not in members or "model.safetensors" not in members:
                raise SourceError(f"{path.name}: a Hugging Face folder needs config.json and model.safetensors "
                                  "(pytorch_model.bin is pickled and refused)")
            if sum(i.file_size for i in members.values()) > max_bytes:
                raise SourceError(f"{path.name} would unpack to over the {max_bytes / 2**20:.0f} MiB limit")
            folder = Path(tempfile.mkdtemp(prefix="resnet-explorer-hf-"))
            for name, info in members.items():
                with z.open(info) as src, open(folder / name, "wb") as dst:
                    left = info.file_size + 1
                    while chunk := src.read(min(1 << 20, left)):
                        left -= len(chunk)
                        if left <= 0:
                            raise SourceError(f"{path.name}: {name} inflates past its declared size")
                        dst.write(chunk)
            return folder
    except zipfile.BadZipFile:
        raise SourceError(f"{path.name} is not a zip archive") from None


_LOADED: OrderedDict[FileModel, nn.Module] = OrderedDict()
_LOADED_MAX = 2


def _vetted(check, *args) -> None:  # noqa: ANN001 - a trust.vet_* function and its arguments
    """``check(*args)``, its refusal as this module's."""
    try:
        check(*args)
    except UnsafeFile as exc:
        raise SourceError(str(exc)) from None


def _load(model: FileModel) -> nn.Module:
    with _LOCK:
        if model in _LOADED:
            _LOADED.move_to_end(model)
            return _LOADED[model]
    module = {"onnx": load_onnx, "export": load_export, "hf": load_hf}[model.kind](Path(model.path), model.limits)
    module.eval()
    with _LOCK:
        _LOADED[model] = module
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    return module


# ---- ONNX ------------------------------------------------------------------------------------------------------

def load_onnx(path: Path, limits: Limits = DEFAULT_LIMITS) -> nn.Module:
    """An ONNX graph as torch modules (onnx2torch), named after its nodes. The graph is read without external
    data, and refused if any tensor in it names some (onnx2torch would read it from the working folder) or if
    it has more nodes than a ResNet could (``trust.vet_onnx``); initialisers an exporter shared through Identity nodes are copied to
    where onnx2torch looks for them."""
    try:
        import onnx
        import onnx2torch
    except ImportError:
        raise SourceError(ONNX_MISSING) from None
    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf says little that helps
        raise SourceError(f"{path.name} is not a readable ONNX model ({type(exc).__name__})") from None
    _vetted(vet_onnx, graph, path.name, limits.max_graph_nodes)
    _inline_identities(graph)
    from .tracing.static import declare

    try:
        return declare(onnx2torch.convert(graph), _onnx_input(graph), strict=False)
    except NotImplementedError as exc:
        raise SourceError(f"{path.name}: onnx2torch cannot convert it ({str(exc)[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - a converter's failure, one line
        raise SourceError(f"{path.name}: cannot convert this ONNX graph ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None


def _onnx_input(graph: object) -> Declared | None:
    """The first graph input's shape (None for a named, dynamic dimension)."""
    g = graph.graph  # type: ignore[attr-defined]
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if not inputs:
        return None
    dims = inputs[0].type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims) or None


def _inline_identities(graph: object) -> None:
    import onnx

    g = graph.graph  # type: ignore[attr-defined]
    inits = {i.name: i for i in g.initializer}
    keep = []
    for node in g.node:
        if node.op_type == "Identity" and node.input and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            g.initializer.append(copy)
            inits[copy.name] = copy
        else:
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)


# ---- torch.export ------------------------------------------------------------------------------------------------

def load_export(path: Path, limits: Limits = DEFAULT_LIMITS) -> nn.Module:
    """A ``torch.export`` program, vetted, with its module hierarchy restored (``torch.export.unflatten``) so its
    blocks keep their names; the flat graph where that fails."""
    import torch

    _vetted(vet_pt2, path)
    try:
        with weights_only_loads():  # torch.export.load's own fallbacks read weights only too
            program = torch.export.load(str(path))
    except Exception:  # noqa: BLE001 - torch says little a user can act on
        raise SourceError(f"{path.name}: torch.export cannot read this program (written by another torch version, "
                          "or damaged)") from None
    from .tracing.static import declare

    shape = _program_input(program)
    try:
        return declare(torch.export.unflatten(program), shape)
    except Exception:  # noqa: BLE001 - the flat graph still runs and is recognised by its dataflow
        return declare(program.module(), shape)


def _program_input(program: object) -> Declared | None:
    """The first user input's shape as the program was exported (torch.export is static unless told otherwise:
    a dynamic dimension is a symbol, None here)."""
    names = list(program.graph_signature.user_inputs)  # type: ignore[attr-defined]
    node = next((n for n in program.graph.nodes if n.op == "placeholder" and names and n.name == names[0]), None)  # type: ignore[attr-defined]
    val = node.meta.get("val") if node is not None else None
    shape = getattr(val, "shape", None)
    if shape is None:
        return None
    return tuple(int(d) if type(d) is int else None for d in shape)


# ---- Hugging Face transformers -------------------------------------------------------------------------------------

def load_hf(folder: Path, limits: Limits = DEFAULT_LIMITS) -> nn.Module:
    """A transformers image classifier from ``config.json`` (no remote code) and ``model.safetensors``."""
    try:
        import transformers
    except ImportError:
        raise SourceError(HF_MISSING) from None
    from safetensors.torch import load_file

    if not (folder / "model.safetensors").is_file():
        raise SourceError(f"{folder.name}: a Hugging Face folder needs model.safetensors (pytorch_model.bin is "
                          "pickled and refused)")
    try:
        if (folder / "config.json").stat().st_size > MAX_CONFIG_BYTES:
            raise SourceError(f"{folder.name}: config.json is over {MAX_CONFIG_BYTES // 1024} KiB; a model's is a few")
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, RecursionError):
        raise SourceError(f"{folder.name}: config.json is not readable JSON") from None
    if not isinstance(raw, dict) or "auto_map" in raw or "model_type" not in raw:
        raise SourceError(f"{folder.name}: config.json names no built-in model type (remote code is not run)")
    try:
        config = transformers.AutoConfig.for_model(**raw)
        _measure_hf(transformers, config, folder, limits)
        model = transformers.AutoModelForImageClassification.from_config(config)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"{folder.name}: transformers cannot build a {str(raw.get('model_type'))[:40]!r} image "
                          f"classifier from this config.json ({(str(exc).splitlines() or [''])[0][:120]})") from None
    try:
        state = load_file(str(folder / "model.safetensors"), device="cpu")
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"{folder.name}: model.safetensors is not readable ({type(exc).__name__})") from None
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SourceError(f"{folder.name}: the weights do not fit config.json ({len(missing)} missing, "
                          f"{len(unexpected)} unexpected, e.g. {(list(missing) + list(unexpected))[0]})")
    return model


def _measure_hf(transformers, config, folder: Path, limits: Limits) -> None:  # noqa: ANN001 - a module, a config
    """Refuse, before anything is allocated, a model whose config describes more weights than the checkpoint
    limit, or other weights than the safetensors file declares: the model is built on the meta device first
    (``from_config`` allocates and initialises everything the config describes)."""
    import torch

    with torch.device("meta"):
        meta = transformers.AutoModelForImageClassification.from_config(config)
    need = sum(t.numel() * t.element_size() for t in (*meta.parameters(), *meta.buffers()))
    del meta
    if need > limits.checkpoint_bytes:
        raise SourceError(f"{folder.name}: config.json describes {format_bytes(need)} of weights, over the "
                          f"{format_bytes(limits.checkpoint_bytes)} limit ({how_to_raise('max_checkpoint_mb')})")
    have = (folder / "model.safetensors").stat().st_size
    if need > 2 * have + (1 << 20):  # (weights may be stored in half precision: not fewer bytes than that)
        raise SourceError(f"{folder.name}: config.json describes {format_bytes(need)} of weights, but "
                          f"model.safetensors holds {format_bytes(have)}: they do not belong together")


def hf_labels(model: FileModel) -> tuple[str, ...] | None:
    """A Hugging Face folder's class names (``id2label``), when it has them."""
    if model.kind != "hf":
        return None
    try:
        labels = json.loads((Path(model.path) / "config.json").read_text()).get("id2label") or {}
        return tuple(labels[k] for k in sorted(labels, key=int)) if labels else None
    except (OSError, ValueError, KeyError):
        return None


__all__ = ["FileModel", "KINDS", "SUFFIXES", "SourceError", "hf_labels", "is_source_path", "load_export", "load_hf",
           "load_onnx", "open_model_file", "opened", "unpack_hf_zip", "vet_pt2"]
