"""What a model spec names, from any source: our ResNets (``resnet50``, ``bottleneck:3-4-6-3:32x4d``) and timm's
ResNet family (``timm:resnet50d``, ``timm:seresnet50:c10``), when timm is installed; and which of them a
checkpoint is. Every door (app, CLI, library) takes the same ``Model`` value: hashable, so caches key on it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Union

from resnet import ResNetConfig, parse_spec
from resnet.config import CIFAR_SIZE

from .files import display_name
from .live import PREFIX as LIVE_PREFIX
from .live import LiveModel, registered
from .sources import KINDS, FileModel, hf_labels, opened

if TYPE_CHECKING:  # torch and what needs it are imported where models are built or checkpoints read, so that
    import torch  # naming a model (parsing specs, the app's controls) needs no torch
    from torch import nn

    from resnet import Preprocess
    from resnet.infer import Architecture

TIMM_PREFIX = "timm:"
_TIMM_SPEC = re.compile(r"^timm:([a-z0-9_.]+)(?::c(\d+))?$")
TIMM_MISSING = "timm is not installed (pip install timm): it is needed for timm's architectures"


@dataclass(frozen=True)
class TimmModel:
    """A timm ResNet-family architecture, random-initialised (weights come from a checkpoint or timm's hub)."""

    name: str
    num_classes: int = 1000

    @property
    def spec(self) -> str:
        return TIMM_PREFIX + self.name + (f":c{self.num_classes}" if self.num_classes != 1000 else "")

    @property
    def slug(self) -> str:
        return self.spec.replace(":", "_")

    @property
    def title(self) -> str:
        return f"timm {self.name}" + (f", {self.num_classes} classes" if self.num_classes != 1000 else "")

    def build(self, device: str | torch.device = "cpu") -> nn.Module:
        import timm

        import torch

        with torch.device(device):
            return timm.create_model(self.name, pretrained=False, num_classes=self.num_classes).eval()


Model = Union[ResNetConfig, TimmModel, FileModel, LiveModel]
FILE_PREFIXES = tuple(f"{k}:" for k in KINDS)  # onnx:, export:, hf: name a file opened in this process
OWN_WEIGHTS = (FileModel, LiveModel)  # models that carry their weights: what runs, whatever weights are chosen
BUILT = (TimmModel, *OWN_WEIGHTS)  # models that build themselves (ours are built from their config)


def timm_installed() -> bool:
    """Whether timm can be imported, without importing it (that takes seconds)."""
    import importlib.util

    try:
        return importlib.util.find_spec("timm") is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=1)
def timm_architectures() -> tuple[str, ...]:
    """timm's ResNet-family architectures (its ``resnet`` module); empty without timm."""
    try:
        import timm
    except ImportError:
        return ()
    return tuple(timm.list_models(module="resnet"))


def parse_model(spec: str) -> Model:
    """The model a spec names; ValueError with one line saying what is wrong."""
    if isinstance(spec, str) and spec.strip().lower().startswith(FILE_PREFIXES):
        return opened(spec.strip()[:200])
    if isinstance(spec, str) and spec.strip().startswith(LIVE_PREFIX):
        return registered(spec.strip()[:200])
    if isinstance(spec, str) and spec.strip().lower().startswith(TIMM_PREFIX):
        m = _TIMM_SPEC.match(spec.strip().lower())
        if not m:
            raise ValueError(f"a timm spec is timm:NAME or timm:NAME:cN (e.g. timm:resnet50d), got {spec!r}")
        name, classes = m.group(1), int(m.group(2) or 1000)
        known = timm_architectures()
        if not known:
            raise ValueError(TIMM_MISSING)
        if name not in known:
            near = [k for k in known if k.startswith(name[:6])][:4]
            raise ValueError(f"timm has no ResNet-family architecture {name!r}"
                             + (f"; did you mean {', '.join(near)}?" if near else ""))
        if not 1 <= classes <= 100_000:
            raise ValueError(f"classes must be from 1 to 100000, got {classes}")
        return TimmModel(name, classes)
    return parse_spec(spec)


def meta_model(model: Model) -> nn.Module:
    """``model`` on the meta device: structure without memory, whatever its size."""
    from resnet import build

    if isinstance(model, BUILT):
        return model.build("meta")  # a file's model keeps its weights: it is traced with meta stand-ins
    return build(model, device="meta", init_weights=False)


def real_model(model: Model, init: bool = True) -> nn.Module:
    """``model`` on the CPU; ``init=False`` skips the random initialisation (weights are about to be loaded)."""
    from resnet import build

    if isinstance(model, BUILT):
        return model.build()
    return build(model, init_weights=init)


DATA = Path(__file__).resolve().parent / "data"  # package data
CIFAR_CLASSES = {10: "cifar10_classes.txt", 100: "cifar100_classes.txt"}


@lru_cache(maxsize=4)
def _names(file: str) -> tuple[str, ...]:
    return tuple((DATA / file).read_text().splitlines())


def declared_size(model: Model) -> int | None:
    """The side a model file fixes (a ``torch.export`` program's static shape), else None."""
    if not isinstance(model, FileModel):
        return None
    from .tracing.static import fixed_size

    return fixed_size(model.build("meta"))


def family_config(model: Model) -> ResNetConfig | None:
    """The config that says a model's family: its own, or (a file's) the one its trace recognises."""
    if isinstance(model, ResNetConfig):
        return model
    if isinstance(model, OWN_WEIGHTS):  # a file or a live module: what its trace recognises
        from .tracing.cache import structure_trace

        try:
            return structure_trace(model, declared_size(model) or 224).config
        except ValueError:  # (a model that is no ResNet is refused where it is shown, with its reason)
            return None
    return None


def _cifar(model: Model) -> ResNetConfig | None:
    config = family_config(model)
    return config if config is not None and config.cifar else None


def input_size_of(model: Model) -> int:
    """The input side a model is run at unless told otherwise: its file's, 32 for the CIFAR family, else 224."""
    return declared_size(model) or (CIFAR_SIZE if _cifar(model) else 224)


def own_classes(model: Model) -> tuple[str, ...] | None:
    """The class names a model brings (a Hugging Face folder's ``id2label``, those given to ``show``), and
    CIFAR-10's or CIFAR-100's for a CIFAR-family model with 10 or 100 outputs."""
    if isinstance(model, LiveModel) and model.classes:
        return model.classes
    own = hf_labels(model) if isinstance(model, FileModel) else None
    cifar = None if own else _cifar(model)
    return _names(CIFAR_CLASSES[cifar.num_classes]) if cifar and cifar.num_classes in CIFAR_CLASSES else own


def own_preprocess(model: Model) -> Preprocess | None:
    """The preprocessing a model brings: that given to ``show``; the CIFAR family's (32 px as it is, its
    dataset's statistics); a file's static size; None: its weights' or ImageNet's."""
    from resnet.preprocess import Preprocess, cifar_preprocess

    if isinstance(model, LiveModel) and model.preprocess:
        return model.preprocess
    if cifar := _cifar(model):
        return cifar_preprocess(cifar.num_classes)
    size = declared_size(model)
    return Preprocess(max(size, 256 * size // 224), size) if size else None


def _same_tensors(module: nn.Module, state: Mapping[str, torch.Tensor]) -> bool:
    mine = module.state_dict()
    return mine.keys() == state.keys() and all(tuple(mine[k].shape) == tuple(state[k].shape) for k in mine)


def model_of_checkpoint(state: Mapping[str, torch.Tensor]) -> tuple[Model, Architecture]:
    """The model a state dict fits exactly: our ResNet when it has torchvision's layout (a fine-tuned
    torchvision or plain timm ResNet), else the timm architecture with the same tensors (ResNet-D, SE, ...)."""
    from resnet import CheckpointError
    from resnet.infer import infer_architecture

    arch = infer_architecture(state)
    if arch.plain:
        return arch.config, arch
    known = timm_architectures()
    if not known:
        raise CheckpointError(f"this checkpoint is a {arch.description} (timm's ResNet family): {TIMM_MISSING}")
    depth = str(2 + sum(arch.config.layers) * (3 if arch.config.block == "bottleneck" else 2))
    prefix = {"SE": ("se", "resnetrs"), "ECA": ("eca",), None: ("resnet", "resnext", "wide")}[arch.attention]
    same_depth = [n for n in known if depth in n]
    candidates = sorted(same_depth, key=lambda n: not n.startswith(prefix))  # the likely family first
    for name in candidates:
        candidate = TimmModel(name, arch.config.num_classes)
        try:
            if _same_tensors(candidate.build("meta"), state):
                return candidate, arch
        except Exception:  # noqa: BLE001 - an architecture that cannot be built this way is not the one
            continue
    raise CheckpointError(f"this checkpoint is a {arch.description}, but no timm architecture has exactly its "
                          f"tensors (tried {', '.join(candidates[:6]) or 'none'})")




CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".th", ".tar")  # .th, .pth.tar: CIFAR training code


@dataclass(frozen=True)
class OpenedCheckpoint:
    """A checkpoint file and the model its tensors fit exactly."""

    model: Model
    architecture: Architecture
    path: Path

    @property
    def notice(self) -> str:
        """``from checkpoint ft.pth: Bottleneck 3-4-6-3, 10 classes (resnet50:c10)``."""
        return f"from checkpoint {display_name(self.path.name)}: {self.architecture.description} ({self.model.spec})"


def is_checkpoint_path(text: str) -> bool:
    """A CLI model argument that names a checkpoint file rather than a spec."""
    return isinstance(text, str) and (text.lower().endswith(CHECKPOINT_SUFFIXES) or "/" in text) and Path(text).exists()


def open_checkpoint(path: str | Path, max_bytes: int | None = None, max_keys: int = 20_000) -> OpenedCheckpoint:
    """Read a state dict (weights only), infer its architecture, and find the model it loads into."""
    from resnet import read_state_dict

    model, arch = model_of_checkpoint(read_state_dict(path, max_bytes=max_bytes, max_keys=max_keys))
    return OpenedCheckpoint(model, arch, Path(path))


__all__ = ["BUILT", "CHECKPOINT_SUFFIXES", "declared_size", "family_config", "input_size_of", "FileModel", "LiveModel", "Model", "OWN_WEIGHTS", "OpenedCheckpoint",
           "TimmModel", "is_checkpoint_path", "meta_model", "model_of_checkpoint", "open_checkpoint", "own_classes",
           "own_preprocess", "parse_model", "real_model", "timm_architectures", "timm_installed"]
