"""The block inspector: its code rebuilds the block, its facts agree with the trace."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from explorer import structure_trace
from explorer.structure.inspector import inspect_block, inspection_markdown
from resnet import IMAGENET_PRESETS, build, get_preset, parse_spec
from resnet.blocks import BasicBlock, Bottleneck, conv1x1


def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("spec", [*IMAGENET_PRESETS, "resnet50:v1", "resnet50:dil011", "bottleneck:2-1-1-1:16x8d"])
def test_the_shown_constructor_builds_the_block(spec: str) -> None:
    config = parse_spec(spec)
    t = structure_trace(config)
    model = build(config, device="meta")
    namespace = {"Bottleneck": Bottleneck, "BasicBlock": BasicBlock, "conv1x1": conv1x1, "nn": nn}
    for b in t.blocks:
        i = inspect_block(t, b.name)
        assert i.code_kind == "constructor"
        lines = i.code.splitlines()
        header = "\n".join(line for line in lines if line.startswith("#"))
        constructor = "\n".join(line for line in lines if not line.startswith("#"))
        assert f"self._make_layer({b.block_type}, planes=" in header
        with torch.device("meta"):  # the largest presets' blocks allocate nothing
            built = eval(constructor, namespace)  # noqa: S307 - our own generated code
        assert shapes(built) == shapes(model.get_submodule(b.name)), (spec, b.name, constructor)
        assert isinstance(built, type(model.get_submodule(b.name)))
        if b.downsample is not None:
            assert "downsample=nn.Sequential(conv1x1(" in constructor


def test_the_issue_example_reads_as_written() -> None:
    t = structure_trace(get_preset("resnet50"))
    code = inspect_block(t, "layer3.0").code.splitlines()
    assert code[0] == "# layer3 = self._make_layer(Bottleneck, planes=256, blocks=6, stride=2)"
    assert code[2:] == ["Bottleneck(", "    inplanes=512, planes=256, stride=2,",
                        "    downsample=nn.Sequential(conv1x1(512, 1024, stride=2), nn.BatchNorm2d(1024)),", ")"]
    assert inspect_block(t, "layer3.1").code.splitlines()[-1] == "Bottleneck(inplanes=1024, planes=256)"


def test_facts_follow_the_trace() -> None:
    t = structure_trace(get_preset("resnet50"))
    i = inspect_block(t, "layer2.0")
    assert [s.name for s in i.path] == ["conv1", "conv2", "conv3"]
    assert [s.out_shape for s in i.path] == ["128×56×56", "128×28×28", "512×28×28"]  # v1.5: stride on the 3×3
    assert i.width == 128 and i.out_channels == 512 and "out : width = 4" in i.ratio_text
    assert "stride 2 shrinks 56×56 → 28×28 and channels change 256 → 512" in i.shortcut
    assert i.params == t.block("layer2.0").params and i.params_share == pytest.approx(i.params / t.total_params)
    # by hand: stem 7×7 s2 (7) + maxpool 3×3 s2 (11, jump 4), 3 blocks of one 3×3 (+8 each: 35), layer2.0's 3×3: 43
    assert (i.receptive_field, i.output_stride) == (43, 8)
    identity = inspect_block(t, "layer2.1")
    assert identity.shortcut.startswith("identity") and "stride" not in identity.code.splitlines()[-1]
    text = inspection_markdown(i, t)
    assert "1×1 conv 256→128 (reduce)" in text and "of the model" in text
    channels_only = inspect_block(t, "layer1.0")
    assert "channels change 64 → 256" in channels_only.shortcut and "shrinks" not in channels_only.shortcut


def test_other_libraries_show_their_modules_repr() -> None:
    timm = pytest.importorskip("timm")
    import explorer

    model = timm.create_model("seresnet18", pretrained=False)
    t = explorer.trace(model, input_size=64)
    import inspect

    block = model.get_submodule("layer2.0")
    i = inspect_block(t, "layer2.0", block)
    assert i.code_kind == "source" and "timm.models.resnet.BasicBlock" in i.code and "(se): SEModule" in i.code
    assert inspect.getsource(type(block)).splitlines()[0] in i.code and "def forward" in i.code  # how it computes
    assert inspect_block(t, "layer2.0").code_kind == "summary"
    torchvision = pytest.importorskip("torchvision")
    t = explorer.trace(torchvision.models.resnet18(), input_size=64)
    assert inspect_block(t, "layer2.0").code_kind == "constructor"  # torchvision's constructors take the same call


def test_the_inspector_shows_what_the_last_image_did_in_the_block() -> None:
    from resnet_explorer.context import APP
    from resnet_explorer.handlers.features import features
    from resnet_explorer.handlers.selection import select_block

    cid = features("resnet18", None, "cat", "random", None, "cpu", "", 16)[0]
    facts = select_block("resnet18", 224, "layer2.0", cid)[2]
    top = APP.store.capture(cid)
    s = top.stats("layer2.0")
    assert "**On the image:** top channels " in facts and f"zeros {s.zero_fraction:.1%}" in facts
    assert f"‖F(x)‖ / ‖shortcut‖ {s.residual_ratio:.3g}" in facts
    # another model's selection does not borrow this image's numbers
    assert "On the image" not in select_block("resnet50", 224, "layer2.0", cid)[2]
