"""Public builders under torchvision's names; each is one line over ``_resnet``."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .model import ResNet
from .presets import PRESETS, WeightsInfo
from .weights import CheckpointError, find_cached, hub_checkpoint_dir, load_weights


def _resnet(name: str, weights: str | WeightsInfo | None = None, progress: bool = True, **overrides: Any) -> ResNet:
    """Build preset ``name``; keyword overrides (num_classes, stride_in, ...) are validated.

    ``weights`` works as in torchvision ("DEFAULT", a tag such as "IMAGENET1K_V1", or a WeightsInfo), but only
    from the torch hub cache: nothing is downloaded here (``resnet.download_weights`` does that when asked).
    ``progress`` is accepted for torchvision compatibility and unused.
    """
    del progress
    config = replace(PRESETS[name].config, **overrides) if overrides else PRESETS[name].config
    if weights is None:
        return ResNet(config)
    info = _pick_weights(name, weights)
    if config.num_classes != 1000:
        raise CheckpointError(f"{info.tag} weights have 1000 classes; build without weights for num_classes="
                              f"{config.num_classes}, then load a fine-tuned checkpoint with resnet.load_weights")
    found = find_cached(name, info.tag)
    if found is None:
        raise CheckpointError(f"{name} {info.tag} weights are not in the torch hub cache ({hub_checkpoint_dir()}); "
                              f"download them with resnet.download_weights({name!r}, {info.tag!r}) or place "
                              f"{info.filename} there")
    model = ResNet(config, init_weights=False)
    return load_weights(model, found[0])


def _pick_weights(name: str, weights: str | WeightsInfo) -> WeightsInfo:
    preset = PRESETS[name]
    if isinstance(weights, WeightsInfo):
        if weights not in preset.weights:
            raise CheckpointError(f"{weights.arch} {weights.tag} weights are not {name}'s")
        return weights
    if weights == "DEFAULT":
        best = preset.best_weights()
        if best is not None:
            return best
    for info in preset.weights:
        if weights in (info.tag, f"{name}_Weights.{info.tag}"):
            return info
    tags = ", ".join(["DEFAULT", *(w.tag for w in preset.weights)])
    raise CheckpointError(f"unknown weights {weights!r} for {name}; use one of: {tags}")


def resnet18(**kwargs: Any) -> ResNet:
    return _resnet("resnet18", **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    return _resnet("resnet34", **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    return _resnet("resnet50", **kwargs)


def resnet101(**kwargs: Any) -> ResNet:
    return _resnet("resnet101", **kwargs)


def resnet152(**kwargs: Any) -> ResNet:
    return _resnet("resnet152", **kwargs)


def resnext50_32x4d(**kwargs: Any) -> ResNet:
    return _resnet("resnext50_32x4d", **kwargs)


def resnext101_32x8d(**kwargs: Any) -> ResNet:
    return _resnet("resnext101_32x8d", **kwargs)


def resnext101_64x4d(**kwargs: Any) -> ResNet:
    return _resnet("resnext101_64x4d", **kwargs)


def wide_resnet50_2(**kwargs: Any) -> ResNet:
    return _resnet("wide_resnet50_2", **kwargs)


def wide_resnet101_2(**kwargs: Any) -> ResNet:
    return _resnet("wide_resnet101_2", **kwargs)
