"""What decides a ResNet's structure, as one validated, hashable record."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

StrideIn = Literal["v1.5", "v1"]
BLOCK_NAMES: tuple[str, ...] = ("basic", "bottleneck")
STRIDE_PLACEMENTS: tuple[str, ...] = ("v1.5", "v1")
FAMILIES: tuple[str, ...] = ("imagenet", "cifar")
# He et al. 2016's shortcut options where a block changes shape: A zero-pads (no parameters), B projects (1×1
# conv + BN) there only, C projects in every block. ImageNet's family is torchvision's: B.
SHORTCUTS: tuple[str, ...] = ("A", "B", "C")
DEFAULT_CLASSES = {"imagenet": 1000, "cifar": 10}
DEFAULT_BASE_WIDTH = {"imagenet": 64, "cifar": 16}
MAX_BASE_WIDTH = 1024
CIFAR_SIZE = 32  # the CIFAR family's input side
MAX_GROUPS = 64
MAX_WIDTH_PER_GROUP = 256
MAX_NUM_CLASSES = 100_000


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    allowed = f"from {low} to {high}" if high is not None else f"at least {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number {allowed}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value}")


@dataclass(frozen=True)
class ResNetConfig:
    """Everything that decides a ResNet's structure; hashable so it can key caches.

    ``spec`` names it in one string (``resnet50``, ``bottleneck:3-4-6-3:32x4d:v1``, ``resnet56:optb``) and
    ``parse`` reads that string back: see ``resnet.spec`` for the grammar.

    Two families (He et al. 2016): ``imagenet`` (§3-4.1: a 7×7 stem, four stages from 64 channels,
    torchvision's layout) and ``cifar`` (§4.2: a 3×3 stem, three stages of BasicBlocks from ``base_width`` = 16
    channels on 32×32 inputs, shortcut option A, B or C, a ``linear`` head).
    """

    block: str = "bottleneck"
    layers: tuple[int, ...] = (3, 4, 6, 3)
    groups: int = 1
    width_per_group: int = 64
    stride_in: StrideIn = "v1.5"
    replace_stride_with_dilation: tuple[bool, bool, bool] = (False, False, False)
    num_classes: int | None = None  # None: the family's (1000 for ImageNet, 10 for CIFAR)
    zero_init_residual: bool = False
    family: str = "imagenet"
    shortcut: str | None = None  # None: the family's (B for ImageNet, A for CIFAR)
    base_width: int | None = None  # channels of the stem and the first stage; None: the family's (64, 16)

    def __post_init__(self) -> None:
        # Accept lists from JSON, CLIs and UIs; store tuples so the config stays hashable.
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if isinstance(self.replace_stride_with_dilation, list):
            object.__setattr__(self, "replace_stride_with_dilation", tuple(self.replace_stride_with_dilation))
        family = self.family if self.family in FAMILIES else "imagenet"
        for name, default in (("num_classes", DEFAULT_CLASSES[family]), ("base_width", DEFAULT_BASE_WIDTH[family]),
                              ("shortcut", "A" if family == "cifar" else "B")):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        if isinstance(self.shortcut, str):
            object.__setattr__(self, "shortcut", self.shortcut.upper())
        self.validate()

    @property
    def cifar(self) -> bool:
        return self.family == "cifar"

    def validate(self) -> None:
        """Raise ValueError naming the field and its allowed range."""
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {list(FAMILIES)}, got {self.family!r}")
        if self.block not in BLOCK_NAMES:
            raise ValueError(f"block must be one of {list(BLOCK_NAMES)}, got {self.block!r}")
        stages = 3 if self.cifar else 4
        if not isinstance(self.layers, tuple) or len(self.layers) != stages:
            raise ValueError(f"layers must be {stages} per-stage block counts for the {self.family} family, "
                             f"got {self.layers!r}")
        for stage, count in enumerate(self.layers, start=1):
            _check_int(f"blocks in layer{stage}", count, 1)
        _check_int("groups", self.groups, 1, MAX_GROUPS)
        _check_int("width_per_group", self.width_per_group, 1, MAX_WIDTH_PER_GROUP)
        _check_int("num_classes", self.num_classes, 1, MAX_NUM_CLASSES)
        if self.stride_in not in STRIDE_PLACEMENTS:
            raise ValueError(f"stride_in must be one of {list(STRIDE_PLACEMENTS)}, got {self.stride_in!r}")
        dil = self.replace_stride_with_dilation
        if not isinstance(dil, tuple) or len(dil) != 3 or not all(isinstance(d, bool) for d in dil):
            raise ValueError(f"replace_stride_with_dilation must be 3 booleans (layer2..layer4), got {dil!r}")
        if not isinstance(self.zero_init_residual, bool):
            raise ValueError(f"zero_init_residual must be a boolean, got {self.zero_init_residual!r}")
        if self.block == "basic":
            if self.groups != 1 or self.width_per_group != 64:
                raise ValueError(
                    "groups must be 1 and width_per_group 64 for the basic block "
                    f"(got groups={self.groups}, width_per_group={self.width_per_group}); "
                    "grouped and wide variants need the bottleneck block"
                )
            if any(dil):
                raise ValueError("replace_stride_with_dilation needs the bottleneck block; the basic block has no dilation")
        self._validate_family()

    def _validate_family(self) -> None:
        _check_int("base_width", self.base_width, 1, MAX_BASE_WIDTH)
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be option A, B or C, got {self.shortcut!r}")
        if not self.cifar:
            if self.base_width != 64 or self.shortcut != "B":
                raise ValueError("the ImageNet family is torchvision's: base width 64 and projection shortcuts "
                                 f"(option B); got base width {self.base_width}, option {self.shortcut}")
            return
        if self.block != "basic" or self.stride_in != "v1.5" or any(self.replace_stride_with_dilation):
            raise ValueError("the CIFAR family (He et al. 2016, §4.2) is built from BasicBlocks, without dilation")

    @property
    def expansion(self) -> int:
        """Output channels per bottleneck-width unit: 4 for Bottleneck, 1 for BasicBlock."""
        return 4 if self.block == "bottleneck" else 1

    @property
    def stage_widths(self) -> tuple[int, ...]:
        """Each stage's planes (its blocks' output channels are ``planes * expansion``): 64-128-256-512 for
        ImageNet's family, 16-32-64 for the CIFAR one."""
        return tuple(self.base_width * 2 ** i for i in range(len(self.layers)))

    @property
    def depth(self) -> int:
        """Weighted layers, the number in the name: 2 + 2 per BasicBlock (+ 3 per Bottleneck), e.g. 56 = 6n+2."""
        return 2 + sum(self.layers) * (3 if self.block == "bottleneck" else 2)

    @property
    def spec(self) -> str:
        """The canonical model spec, e.g. ``resnet50``, ``resnet50:v1``, ``bottleneck:2-2-2-2:32x4d``."""
        from .spec import spec_of

        return spec_of(self)

    @classmethod
    def parse(cls, spec: str) -> ResNetConfig:
        """The config a model spec names (the exact inverse of ``spec``)."""
        from .spec import parse_spec

        return parse_spec(spec)

    @property
    def preset(self) -> str | None:
        """The preset name when this config is exactly a preset, else None."""
        from .presets import preset_of

        found = preset_of(self)
        return found.name if found is not None and found.config == self else None

    @property
    def slug(self) -> str:
        """File-name-safe form of the spec, e.g. ``resnet152`` or ``bottleneck_3-4-6-3_32x4d``."""
        return self.spec.replace(":", "_")

    @property
    def title(self) -> str:
        """Human-readable name for tables and figures: the preset's title (``ResNet-50``), else the spec."""
        from .presets import PRESETS

        return PRESETS[name].title if (name := self.preset) else self.spec

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        d["replace_stride_with_dilation"] = list(self.replace_stride_with_dilation)
        return d

