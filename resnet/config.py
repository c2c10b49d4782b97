"""ResNet configurations as data: presets under torchvision's names, and validated custom configs."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .blocks import BLOCK_TYPES, StrideIn

MAX_BLOCKS_PER_STAGE = 64
MAX_GROUPS = 64
MAX_WIDTH_PER_GROUP = 256
MAX_NUM_CLASSES = 100_000
STRIDE_PLACEMENTS: tuple[str, ...] = ("v1.5", "v1")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")


@dataclass(frozen=True)
class ResNetConfig:
    """Everything that decides a ResNet's structure; hashable so it can key caches."""

    block: str = "bottleneck"
    layers: tuple[int, int, int, int] = (3, 4, 6, 3)
    groups: int = 1
    width_per_group: int = 64
    stride_in: StrideIn = "v1.5"
    replace_stride_with_dilation: tuple[bool, bool, bool] = (False, False, False)
    num_classes: int = 1000
    zero_init_residual: bool = False
    name: str | None = None  # preset name; a changed copy keeps it but is no longer that preset

    def __post_init__(self) -> None:
        # Accept lists from JSON, CLIs and UIs; store tuples so the config stays hashable.
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if isinstance(self.replace_stride_with_dilation, list):
            object.__setattr__(self, "replace_stride_with_dilation", tuple(self.replace_stride_with_dilation))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the field and its allowed range."""
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"block must be one of {sorted(BLOCK_TYPES)}, got {self.block!r}")
        if not isinstance(self.layers, tuple) or len(self.layers) != 4:
            raise ValueError(f"layers must be 4 per-stage block counts, got {self.layers!r}")
        for stage, count in enumerate(self.layers, start=1):
            _check_int(f"layers[{stage - 1}] (blocks in layer{stage})", count, 1, MAX_BLOCKS_PER_STAGE)
        _check_int("groups", self.groups, 1, MAX_GROUPS)
        _check_int("width_per_group", self.width_per_group, 1, MAX_WIDTH_PER_GROUP)
        _check_int("num_classes", self.num_classes, 1, MAX_NUM_CLASSES)
        if self.stride_in not in STRIDE_PLACEMENTS:
            raise ValueError(f"stride_in must be one of {list(STRIDE_PLACEMENTS)}, got {self.stride_in!r}")
        dil = self.replace_stride_with_dilation
        if not isinstance(dil, tuple) or len(dil) != 3 or not all(isinstance(d, bool) for d in dil):
            raise ValueError(f"replace_stride_with_dilation must be 3 booleans (layer2..layer4), got {dil!r}")
        if self.block == "basic":
            if self.groups != 1 or self.width_per_group != 64:
                raise ValueError(
                    "groups must be 1 and width_per_group 64 for the basic block "
                    f"(got groups={self.groups}, width_per_group={self.width_per_group}); "
                    "grouped and wide variants need the bottleneck block"
                )
            if any(dil):
                raise ValueError("replace_stride_with_dilation needs the bottleneck block; the basic block has no dilation")

    @property
    def expansion(self) -> int:
        return BLOCK_TYPES[self.block].expansion

    @property
    def depth(self) -> int:
        """Weighted layers: convs in the residual branches plus the stem conv and fc."""
        convs_per_block = 3 if self.block == "bottleneck" else 2
        return convs_per_block * sum(self.layers) + 2

    @property
    def is_preset(self) -> bool:
        """True when this is exactly the named preset (a changed copy keeps the name but is custom)."""
        return self.name is not None and PRESETS.get(self.name) == self

    @property
    def slug(self) -> str:
        """File-name-safe identifier, e.g. ``resnet50`` or ``custom_bottleneck_3-4-6-3``."""
        if self.is_preset:
            return self.name  # type: ignore[return-value]
        parts = ["custom", self.block, "-".join(str(n) for n in self.layers)]
        if self.groups != 1 or self.width_per_group != 64:
            parts.append(f"{self.groups}x{self.width_per_group}d")
        if self.stride_in != "v1.5":
            parts.append(self.stride_in.replace(".", ""))
        if any(self.replace_stride_with_dilation):
            parts.append("dil" + "".join("1" if d else "0" for d in self.replace_stride_with_dilation))
        return "_".join(parts)

    @property
    def title(self) -> str:
        """Human-readable name for tables and figures."""
        if self.is_preset:
            return PRESET_TITLES[self.name]  # type: ignore[index]
        return (f"Custom {self.block} {'-'.join(map(str, self.layers))}"
                + (f", {self.groups}x{self.width_per_group}d" if self.groups != 1 or self.width_per_group != 64 else ""))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        d["replace_stride_with_dilation"] = list(self.replace_stride_with_dilation)
        return d


def _preset(name: str, block: str, layers: tuple[int, int, int, int], groups: int = 1, width: int = 64) -> ResNetConfig:
    return ResNetConfig(block=block, layers=layers, groups=groups, width_per_group=width, name=name)


PRESETS: dict[str, ResNetConfig] = {
    c.name: c  # type: ignore[misc]
    for c in (
        _preset("resnet18", "basic", (2, 2, 2, 2)),
        _preset("resnet34", "basic", (3, 4, 6, 3)),
        _preset("resnet50", "bottleneck", (3, 4, 6, 3)),
        _preset("resnet101", "bottleneck", (3, 4, 23, 3)),
        _preset("resnet152", "bottleneck", (3, 8, 36, 3)),
        _preset("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32, width=4),
        _preset("resnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32, width=8),
        _preset("resnext101_64x4d", "bottleneck", (3, 4, 23, 3), groups=64, width=4),
        _preset("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), width=128),
        _preset("wide_resnet101_2", "bottleneck", (3, 4, 23, 3), width=128),
    )
}

PRESET_TITLES: dict[str, str] = {
    "resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50",
    "resnet101": "ResNet-101", "resnet152": "ResNet-152",
    "resnext50_32x4d": "ResNeXt-50 32x4d", "resnext101_32x8d": "ResNeXt-101 32x8d",
    "resnext101_64x4d": "ResNeXt-101 64x4d",
    "wide_resnet50_2": "Wide ResNet-50-2", "wide_resnet101_2": "Wide ResNet-101-2",
}


def get_preset(name: str) -> ResNetConfig:
    """The preset called ``name``; ValueError listing the known names otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def parse_config(spec: str) -> ResNetConfig:
    """A preset name, or a compact custom spec: ``block:L1-L2-L3-L4[:GxW][:v1][:dil011]``.

    Examples: ``resnet101``, ``bottleneck:3-4-6-3``, ``bottleneck:3-4-23-3:32x8d``, ``basic:2-2-2-2``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("a config is a preset name or block:L1-L2-L3-L4[:GxWd][:v1], e.g. bottleneck:3-4-6-3")
    spec = spec.strip()
    if spec in PRESETS:
        return PRESETS[spec]
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] not in ("basic", "bottleneck"):
        raise ValueError(f"unknown preset or config {spec!r}; use a preset ({', '.join(PRESETS)}) "
                         "or block:L1-L2-L3-L4[:GxWd][:v1], e.g. bottleneck:3-4-6-3")
    try:
        layers = tuple(int(n) for n in parts[1].split("-"))
    except ValueError:
        raise ValueError(f"block counts in {spec!r} must be four whole numbers like 3-4-6-3") from None
    fields: dict = {"block": parts[0], "layers": layers}
    for extra in parts[2:]:
        if extra in STRIDE_PLACEMENTS:
            fields["stride_in"] = extra
        elif extra.startswith("dil") and len(extra) == 6 and set(extra[3:]) <= {"0", "1"}:
            fields["replace_stride_with_dilation"] = tuple(c == "1" for c in extra[3:])
        elif "x" in extra and extra.rstrip("d").replace("x", "", 1).isdigit():
            g, w = extra.rstrip("d").split("x")
            fields["groups"], fields["width_per_group"] = int(g), int(w)
        else:
            raise ValueError(f"cannot read {extra!r} in {spec!r}: expected GxWd (e.g. 32x4d), v1, v1.5 or dil011")
    return ResNetConfig(**fields)
