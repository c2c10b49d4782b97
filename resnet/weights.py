"""Pretrained weights as data, and safe checkpoint loading (``weights_only=True`` or safetensors).

Nothing here downloads unless ``download_weights`` is called explicitly.
"""
from __future__ import annotations

import json
import os
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from .presets import WeightsInfo, weights_for

# 1 GiB: the largest preset (wide_resnet101_2) is ~510 MB. Callers pass their own limit (explorer.limits).
DEFAULT_MAX_CHECKPOINT_BYTES = 1024 * 2**20
# A ResNet has under 2,000 tensors: far more keys are not a ResNet's, and cost seconds to read.
DEFAULT_MAX_KEYS = 20_000
MAX_PICKLE_BYTES = 64 * 2**20  # a state dict's pickle is a few hundred KiB
STORAGE_BYTES = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
                 "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "Untyped": 1}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


def hub_checkpoint_dir() -> Path:
    """torch hub's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_cached(arch: str, tag: str | None = None) -> tuple[Path, WeightsInfo] | None:
    """The best checkpoint of ``arch`` (or the one tagged ``tag``) already in the hub cache, without touching
    the network."""
    folder = hub_checkpoint_dir()
    for info in weights_for(arch):
        if tag is not None and info.tag != tag:
            continue
        path = folder / info.filename
        if path.is_file():
            return path, info
    return None


def download_weights(arch: str, tag: str | None = None, progress: bool = True) -> Path:
    """Fetch a torchvision checkpoint of preset ``arch`` into the hub cache (verified, atomically: see
    ``resnet.download``). Only call when the user asked for it."""
    from .download import download  # the network code, imported only when asked

    candidates = [w for w in weights_for(arch) if tag is None or w.tag == tag]
    if not candidates:
        raise CheckpointError(f"no published weights for {arch!r}" + (f" with tag {tag!r}" if tag else ""))
    def report(done: int, total: int | None) -> None:
        print(f"\r{done / 2**20:.1f}" + (f" of {total / 2**20:.1f}" if total else "") + " MiB", end="", flush=True)

    return download(candidates[0], progress=report if progress else None)


def read_state_dict(path: str | os.PathLike[str], max_bytes: int | None = None,
                    max_keys: int = DEFAULT_MAX_KEYS) -> dict[str, torch.Tensor]:
    """Read a state dict without executing code from the file, and without inflating more than it may.

    What a file would become is measured first, from its index alone (``measure_checkpoint``). ``.safetensors``
    files are then memory-mapped by safetensors; torch files are read by ``torch.load(weights_only=True)``,
    memory-mapped where they are zips. Training checkpoints that wrap the weights (``{"state_dict": ...}`` or
    ``{"model": ...}``) and DataParallel's ``module.`` prefix are unwrapped.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path.name} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint file: {path.name}")
    max_bytes = DEFAULT_MAX_CHECKPOINT_BYTES if max_bytes is None else max_bytes
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"checkpoint is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    if size == 0:
        raise CheckpointError("checkpoint file is empty")
    safetensors = path.suffix == ".safetensors" or _is_safetensors(path)
    zipped = not safetensors and zipfile.is_zipfile(path)
    measure_checkpoint(path, max_bytes, max_keys, safetensors, zipped)
    try:
        if safetensors:
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        else:
            with warnings.catch_warnings():  # torch's notes on pickle protocols: not the user's concern
                warnings.simplefilter("ignore")
                obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one clear message
        raise CheckpointError(f"cannot use this checkpoint: {_reason(path, str(exc))}") from None
    return _unwrap(obj)


def _too_many(count: int, max_keys: int) -> CheckpointError:
    return CheckpointError(f"this file holds {count:,} tensors; a ResNet has under 2,000 (the limit is {max_keys:,}: "
                           "raise it with RESNET_EXPLORER_MAX_CHECKPOINT_KEYS, or --max-checkpoint-keys for app.py)")


def _too_big(what: str, n: int, max_bytes: int) -> CheckpointError:
    return CheckpointError(f"{what} {n / 2**20:,.0f} MiB, over the {max_bytes / 2**20:,.0f} MiB limit (raise it with "
                           "RESNET_EXPLORER_MAX_CHECKPOINT_MB, or --max-checkpoint-mb for app.py)")


def measure_checkpoint(path: Path, max_bytes: int, max_keys: int, safetensors: bool, zipped: bool) -> None:
    """Refuse, before anything is loaded, a file whose tensors would take more than ``max_bytes`` or that holds
    more than ``max_keys`` of them: from a safetensors header, or from a torch zip's index (its entries, their
    declared sizes and compression) and the storages its pickle declares (read by pickletools, not run)."""
    if safetensors:
        with path.open("rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n > min(MAX_PICKLE_BYTES, path.stat().st_size):
                raise CheckpointError(f"its safetensors header says {n:,} bytes, more than the file can hold")
            try:
                header = json.loads(f.read(n))
            except ValueError:
                raise CheckpointError("its safetensors header is not readable JSON") from None
        keys = [k for k in header if k != "__metadata__"] if isinstance(header, dict) else []
        if len(keys) > max_keys:
            raise _too_many(len(keys), max_keys)
        return
    if not zipped:
        return  # the legacy format reads tensors from the file as they come: no larger than the file
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > max_keys + 16:
                raise _too_many(sum(1 for i in infos if "/data/" in i.filename), max_keys)
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
                raise CheckpointError("its tensors are compressed (torch.save never does that), so what they inflate to "
                                      "cannot be known before reading them: refused")
            held = sum(i.file_size for i in infos)
            if held > max_bytes:
                raise _too_big("its tensors take", held, max_bytes)
            pickles = [i for i in infos if i.filename.endswith("data.pkl")]
            if len(pickles) != 1 or pickles[0].file_size > MAX_PICKLE_BYTES:
                return  # not a torch.save archive: torch.load says what it is
            count, declared = _declared_storages(z.read(pickles[0]))
    except zipfile.BadZipFile:
        return  # torch.load says the archive is truncated
    if count > max_keys:
        raise _too_many(count, max_keys)
    if declared > max_bytes:
        raise _too_big("its tensors would take", declared, max_bytes)
    if declared > held + 4096 * (count + 1):
        raise CheckpointError(f"its pickle declares {declared / 2**20:,.0f} MiB of tensors but the file holds "
                              f"{held / 2**20:,.0f} MiB: refused")


def _declared_storages(pickle: bytes) -> tuple[int, int]:
    """(count, bytes) of the storages a torch.save pickle declares: each persistent id is
    ('storage', torch.<Type>Storage, key, location, numel)."""
    count = declared = 0
    kind, last_int = "Float", 0
    try:
        for op, arg, _ in pickletools.genops(pickle):
            if op.name in ("GLOBAL", "STACK_GLOBAL") and isinstance(arg, str) and "Storage" in arg:
                kind = arg.split()[-1].replace("Storage", "")
            elif op.name == "SHORT_BINUNICODE" and isinstance(arg, str) and arg.endswith("Storage"):
                kind = arg.replace("Storage", "")
            elif isinstance(arg, int) and not isinstance(arg, bool):
                last_int = arg
            elif op.name == "BINPERSID":
                count += 1
                declared += last_int * STORAGE_BYTES.get(kind, 8)
    except Exception:  # noqa: BLE001 - a malformed pickle: torch.load refuses it
        return count, declared
    return count, declared


_GLOBAL = re.compile(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)")


def _reason(path: Path, message: str) -> str:
    """What a reader's failure means, in plain words."""
    found = _GLOBAL.search(message)
    name = found.group(1) if found else _pickled_global(path)
    if name and name.split(".")[-1][:1].isupper():
        return (f"it is a whole pickled object ({name}), refused because loading it could run code; "
                "save the weights instead: torch.save(model.state_dict(), 'model.pth')")
    if name:
        return (f"it holds Python objects other than tensors ({name}), refused because loading them could run "
                "code; a state dict (torch.save(model.state_dict(), path)) or a .safetensors file can be opened")
    if "central directory" in message or "failed reading zip" in message or "unexpected EOF" in message.lower():
        return "the file is truncated or corrupt (its zip archive is incomplete)"
    return "not a PyTorch (.pth) or safetensors checkpoint (the file is corrupt or in another format)"


def _pickled_global(path: Path) -> str | None:
    """The first class or function a bare pickle file names (read with pickletools, nothing executed)."""
    with path.open("rb") as f:
        data = f.read(1 << 20)
    if not data.startswith(b"\x80"):
        return None
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL":
                return str(arg).replace(" ", ".")
            if op.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - a malformed pickle names nothing
        return None
    return None


def _is_safetensors(path: Path) -> bool:
    # safetensors: 8-byte little-endian header length, then a JSON header starting with '{'.
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size


# Where training scripts put the weights beside other entries (epoch, optimizer, ...), most specific first.
WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network", "state_dict_ema", "model_ema")


def _unwrap(obj: object) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for wrapper in WRAPPERS:
            inner = obj.get(wrapper)
            if isinstance(inner, Mapping):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError("checkpoint holds no state dict (expected a mapping of parameter names to tensors)")
    state = {str(k): v for k, v in obj.items()}
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        bad = next(k for k, v in state.items() if not isinstance(v, torch.Tensor))
        raise CheckpointError(f"checkpoint entry {bad!r} is not a tensor")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _preview(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Raise one CheckpointError naming missing, unexpected and mis-shaped keys, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [
        f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_preview(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_preview(unexpected)}")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} mis-shaped: {_preview(mis_shaped, 3)}")
    if problems:
        raise CheckpointError("checkpoint does not fit this model: " + "; ".join(problems))


def load_weights(model: nn.Module, path: str | os.PathLike[str], max_bytes: int | None = None,
                 max_keys: int = DEFAULT_MAX_KEYS) -> nn.Module:
    """Load a checkpoint into ``model`` with strict keys; the model is untouched if it does not fit."""
    state = read_state_dict(path, max_bytes=max_bytes, max_keys=max_keys)
    check_state_dict(model, state)
    model.load_state_dict(state, strict=True)
    return model
