"""The model spec: one string that names a model everywhere (UI, API, CLI, file names), and its parser.

Grammar (lower case; fields separated by ``:``)::

    spec    := preset (":" option)*  |  block ":" depths (":" option)*  |  "cifar:" N-N-N (":" option)*
    preset  := resnet18 | resnet34 | resnet50 | ... | wide_resnet101_2        (ImageNet family, torchvision's)
             | resnet20 | resnet32 | resnet44 | resnet56 | resnet110 | resnet1202   (CIFAR family, 6n+2 layers)
    block   := basic | bottleneck
    depths  := N-N-N-N                blocks in layer1..layer4, e.g. 3-4-6-3 (CIFAR: N-N-N, layer1..layer3)
    option  := GxWd                   groups x width per group of the 3x3 conv, e.g. 32x4d (ResNeXt), 1x128d (Wide)
             | wN                     CIFAR: channels of the stem and layer1 (default 16; stages double it)
             | v1 | v1.5              where a Bottleneck puts its stride (v1.5, the default: on the 3x3)
             | dilXYZ                 dilation instead of stride in layer2..layer4, e.g. dil011
             | opta | optb | optc     CIFAR: the shortcut option (A, the default: zero-padding; B: projections
                                      where the shape changes; C: projections everywhere)
             | cN                     N classes (default 1000; CIFAR: 10), e.g. c10, c100
             | zi                     zero-initialised last BN in every block

The first field says where the model comes from: a preset name or a block type name our own ResNets.
Models from elsewhere take the same shape, ``source:name[:option...]`` (e.g. a timm architecture or an
uploaded checkpoint), so a new source adds a first word here, not a new argument to every function.

``spec_of`` writes the canonical form: the preset whose structure matches, else ``block:depths``, then only
the options that differ from the defaults, in the order above. ``parse_spec(spec_of(c)) == c`` for every
config ``c``.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .config import BLOCK_NAMES, DEFAULT_BASE_WIDTH, DEFAULT_CLASSES, ResNetConfig
from .presets import PRESETS, preset_of

GRAMMAR = ("a preset (e.g. resnet50, resnet56), block:N-N-N-N[:GxWd][:v1][:dilXYZ][:cN][:zi] (e.g. "
           "bottleneck:3-4-6-3:32x4d) or cifar:N-N-N[:wN][:opta|optb|optc][:cN] (e.g. cifar:9-9-9:optb)")
MAX_SPEC_LENGTH = 200
_GROUPS = re.compile(r"(\d+)x(\d+)d?")
_DEPTHS = re.compile(r"\d+(-\d+){3}")
_CIFAR_DEPTHS = re.compile(r"\d+(-\d+){2}")
_WIDTH = re.compile(r"w(\d+)")
_SHORTCUT = re.compile(r"opt([abc])")
_DILATION = re.compile(r"dil([01]{3})")
_CLASSES = re.compile(r"c(\d+)")


def spec_of(config: ResNetConfig) -> str:
    """The canonical spec of ``config``."""
    preset = preset_of(config)
    depths = "-".join(map(str, config.layers))
    parts = [preset.name] if preset is not None else ["cifar" if config.cifar else config.block, depths]
    if preset is None and (config.groups, config.width_per_group) != (1, 64):
        parts.append(f"{config.groups}x{config.width_per_group}d")
    if config.base_width != DEFAULT_BASE_WIDTH[config.family]:
        parts.append(f"w{config.base_width}")
    if config.stride_in != "v1.5":
        parts.append(config.stride_in)
    if any(config.replace_stride_with_dilation):
        parts.append("dil" + "".join("1" if d else "0" for d in config.replace_stride_with_dilation))
    if config.cifar and config.shortcut != "A":
        parts.append(f"opt{config.shortcut.lower()}")
    if config.num_classes != DEFAULT_CLASSES[config.family]:
        parts.append(f"c{config.num_classes}")
    if config.zero_init_residual:
        parts.append("zi")
    return ":".join(parts)


def parse_spec(spec: str) -> ResNetConfig:
    """The config ``spec`` names; ValueError saying what was expected otherwise."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a model spec is {GRAMMAR}, got {spec!r}")
    if len(spec) > MAX_SPEC_LENGTH:
        raise ValueError(f"a model spec is at most {MAX_SPEC_LENGTH} characters, got {len(spec):,}")
    return _parse(spec.strip().lower())


@lru_cache(maxsize=256)
def _parse(spec: str) -> ResNetConfig:
    head, *options = spec.split(":")
    fields: dict = {}
    if head in PRESETS:
        base = PRESETS[head].config
        fields.update(block=base.block, layers=base.layers, groups=base.groups, width_per_group=base.width_per_group,
                      family=base.family)
    elif head == "cifar":
        if not options or not _CIFAR_DEPTHS.fullmatch(options[0]):
            raise ValueError(f"{spec!r}: after 'cifar' come the blocks per stage, three numbers like 9-9-9")
        fields.update(family="cifar", block="basic", layers=tuple(int(n) for n in options.pop(0).split("-")))
    elif head in BLOCK_NAMES:
        if not options or not _DEPTHS.fullmatch(options[0]):
            raise ValueError(f"{spec!r}: after {head!r} come the blocks per stage, four numbers like 3-4-6-3")
        fields.update(block=head, layers=tuple(int(n) for n in options.pop(0).split("-")))
    else:
        raise ValueError(f"unknown model {spec!r}; use {GRAMMAR}. Presets: {', '.join(PRESETS)}")
    for option in options:
        if m := _GROUPS.fullmatch(option):
            fields.update(groups=int(m.group(1)), width_per_group=int(m.group(2)))
        elif option in ("v1", "v1.5"):
            fields["stride_in"] = option
        elif m := _DILATION.fullmatch(option):
            fields["replace_stride_with_dilation"] = tuple(c == "1" for c in m.group(1))
        elif m := _CLASSES.fullmatch(option):
            fields["num_classes"] = int(m.group(1))
        elif m := _WIDTH.fullmatch(option):
            fields["base_width"] = int(m.group(1))
        elif m := _SHORTCUT.fullmatch(option):
            fields["shortcut"] = m.group(1).upper()
        elif option == "zi":
            fields["zero_init_residual"] = True
        else:
            raise ValueError(f"cannot read {option!r} in {spec!r}: expected GxWd (e.g. 32x4d), v1, v1.5, dilXYZ "
                             "(e.g. dil011), cN (e.g. c10), zi, or for CIFAR wN (e.g. w32) and opta/optb/optc")
    try:
        return ResNetConfig(**fields)
    except ValueError as exc:
        raise ValueError(f"{spec!r}: {exc}") from None
