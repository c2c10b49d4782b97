"""``explorer.show(model)`` (#34): the whole app on a live module, run in a real Jupyter kernel (nbclient) and
queried with gradio_client from here, against references computed here on an identical module (same code, same
seed). The module in the kernel must come out as it went in: tensors, train flags, hooks, requires_grad."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"

# A user's ResNet as research code writes it: its own names (trunk/stack/unit/proj), a functional forward,
# blocks in a ModuleList, the shortcut chosen in forward.
MODEL_CODE = '''
import torch, torch.nn as nn, torch.nn.functional as F

class Unit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.n1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.n2 = nn.BatchNorm2d(cout)
        self.proj = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = self.n2(self.c2(F.relu(self.n1(self.c1(x)))))
        return F.relu(y + (x if self.proj is None else self.proj(x)))

class TinyNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stack = nn.ModuleList([Unit(16, 16, 1), Unit(16, 32, 2), Unit(32, 32, 1), Unit(32, 64, 2)])
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.trunk(x)
        for unit in self.stack:
            x = unit(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

def make_net():
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():  # BN statistics that are not the identity, so eval mode matters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
    return net
'''
CLASSES = [f"kind {i}" for i in range(10)]

CELLS = [
    MODEL_CODE,
    # a non-ResNet, refused before anything of the app is imported
    "import sys, explorer\n"
    "try:\n"
    "    explorer.show(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),"
    " nn.Linear(8, 2)))\n"
    "except Exception as exc:\n"
    "    print(json.dumps({'refused': type(exc).__name__, 'message': str(exc), 'gradio': 'gradio' in sys.modules}))",
    # the user's module, in training mode, with a hook of their own and a frozen layer
    "net = make_net().train()\n"
    "seen = []\n"
    "hook = net.stack[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))\n"
    "net.trunk[0].weight.requires_grad_(False)\n"
    "before = {k: v.clone() for k, v in net.state_dict().items()}\n"
    "flags = {n: m.training for n, m in net.named_modules()}\n"
    "grads = {n: p.requires_grad for n, p in net.named_parameters()}\n"
    "hooks = {n: (dict(m._forward_hooks), dict(m._forward_pre_hooks)) for n, m in net.named_modules()}\n"
    f"shown = explorer.show(net, classes={CLASSES!r}, inline=True, datasets=DATASETS)\n"
    "print(json.dumps({'url': shown.url, 'spec': shown.spec}))",
    # a second model in the same kernel: a resnet18 of ours, 5 classes, with its own preprocessing
    "import resnet\n"
    "other = explorer.show(resnet.resnet18(num_classes=5), inline=False,"
    " preprocess=resnet.Preprocess(resize_size=72, crop_size=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))\n"
    "print(json.dumps({'url': other.url, 'spec': other.spec}))",
    # after the test's requests: the module as it was
    "same = (net.state_dict().keys() == before.keys() and all(torch.equal(net.state_dict()[k], v) for k, v in"
    " before.items()))\n"
    "print(json.dumps({'same_tensors': same, 'flags': flags == {n: m.training for n, m in net.named_modules()},"
    " 'grads': grads == {n: p.requires_grad for n, p in net.named_parameters()},"
    " 'hooks': hooks == {n: (dict(m._forward_hooks), dict(m._forward_pre_hooks)) for n, m in net.named_modules()},"
    " 'seen': len(seen), 'device': str(next(net.parameters()).device),"
    " 'grad_none': all(p.grad is None for p in net.parameters())}))\n"
    "shown.close(); other.close()",
]


def _reference() -> tuple[torch.nn.Module, dict]:
    """The same module here, and what it computes on the cat with ImageNet's preprocessing."""
    from resnet import Preprocess

    scope: dict = {}
    exec(MODEL_CODE, scope)  # noqa: S102 - the test's own code, the same text the kernel runs
    net = scope["make_net"]().eval()
    pre = Preprocess()
    with torch.no_grad():
        probs = torch.softmax(net(pre.to_tensor(pre.crop(Image.open(CAT)))), dim=1)[0]
    return net, {"probs": probs}


def _printed(cell: dict) -> dict:
    text = "".join(o.get("text", "") for o in cell["outputs"] if o.get("output_type") == "stream")
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])  # (gradio prints too)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    """A real ipykernel running the cells one at a time (the test queries the servers in between), and a
    folder of image folders the show offers to the Dataset tab."""
    import nbformat
    from nbclient import NotebookClient

    datasets = tmp_path_factory.mktemp("datasets")
    rng = np.random.default_rng(0)
    for i in range(4):
        (datasets / "shapes" / f"{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(datasets / "shapes" / f"{i % 2}" /
                                                                                f"{i}.png")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.cells[0].source = f"import json\nDATASETS = {str(datasets)!r}\n" + nb.cells[0].source
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with client.setup_kernel():
        yield client, nb


def test_show_serves_a_live_module_in_a_kernel(kernel) -> None:
    from gradio_client import Client

    client, nb = kernel
    run = lambda i: client.execute_cell(nb.cells[i], i)  # noqa: E731
    run(0)
    refused = _printed(run(1))
    assert refused["refused"] == "NotAResNet" and "\n" not in refused["message"] and refused["message"]
    assert not refused["gradio"], "the refusal came after the app was imported"
    shown = _printed(run(2))
    assert re.fullmatch(r"module:TinyNet@[0-9a-f]+", shown["spec"]) and shown["url"].startswith("http://127.0.0.1:")
    inline = [o for o in nb.cells[2]["outputs"] if o.get("output_type") == "display_data"]
    assert any(shown["url"].rstrip("/") in json.dumps(o["data"]) and "iframe" in json.dumps(o["data"]).lower()
               for o in inline), "the app was not shown inline"
    other = _printed(run(3))
    assert other["url"] != shown["url"] and other["spec"].startswith("module:ResNet@")

    net, ref = _reference()
    with contextlib.closing(Client(shown["url"], verbose=False)) as c:
        page = c.config["components"]
        assert any(p.get("props", {}).get("value") == shown["spec"] for p in page), "the page does not land on it"
        totals, stages, blocks, _ = c.predict(shown["spec"], 224, 1, api_name="/summarize")
        assert f"{sum(p.numel() for p in net.parameters()):,}" in totals and "**4 blocks**" in totals
        assert [r[0] for r in blocks["data"]] == [f"stack.{i}" for i in range(4)]
        notice, _crop, *_rest, predictions = c.predict(shown["spec"], None, "cat", "random", None, "cpu", "", 8,
                                                       None, api_name="/features")
        assert "its own weights" in notice
        top = ref["probs"].argmax().item()
        assert predictions["label"] == CLASSES[top]
        got = {d["label"]: d["confidence"] for d in predictions["confidences"]}
        assert abs(got[CLASSES[top]] - ref["probs"][top].item()) < 1e-5
        _over, _raw, _strip, caption = c.predict("stack.3", "", "gradcam", 0.5, api_name="/cam")
        assert f"for **{CLASSES[top]}** (class {top})" in caption and "Random weights" not in caption
        selected = c.predict(shown["spec"], 224, "stack.1", api_name="/select_block")
        code = json.dumps(selected)
        assert "class Unit" in code and "self.proj is None" in code, "the inspector does not show the module's code"
        graph = c.predict(shown["spec"], 224, "blocks", "TB", False, "graph", "light", "column", api_name="/graph")
        assert all(f"stack.{i}" in graph for i in range(4))
        tex = Path(c.predict(shown["spec"], 224, "stages", "TB", False, 96, "paper", "light", "column",
                             api_name="/export_tex")).read_text()
        assert "\\begin{tikzpicture}" in tex
        summary, *_ = c.predict(shown["spec"], 224, "resnet18", api_name="/compare")
        assert f"{sum(p.numel() for p in net.parameters()):,} → 11,689,512" in summary
        summary, block, channels, *_rest = c.predict(shown["spec"], None, "shapes", "random", None, 4, True, 1, 0, 0,
                                                     api_name="/dataset_run")  # with every block lesioned
        assert f"**`{shown['spec']}`** over **4** images of shapes" in summary and "its own weights" in summary
        assert block["value"] == "stack.0" and len(channels["data"]) == 16
    with contextlib.closing(Client(other["url"], verbose=False)) as c:
        totals, *_ = c.predict(other["spec"], 224, 1, api_name="/summarize")
        assert "**8 blocks**" in totals and "output 5" in totals
        _, crop, *_rest = c.predict(other["spec"], None, "cat", "random", None, "cpu", "", 8, None,
                                    api_name="/features")
        from resnet import Preprocess

        mine = Preprocess(resize_size=72, crop_size=64).crop(Image.open(CAT))  # its preprocessing, not ImageNet's
        assert np.array_equal(np.asarray(Image.open(crop).convert("RGB")), np.asarray(mine))

    after = _printed(run(4))
    assert after == {"same_tensors": True, "flags": True, "grads": True, "hooks": True, "seen": 0,
                     "device": "cpu", "grad_none": True}


def test_a_live_module_is_shadowed_not_touched() -> None:
    """The library side: the shadow shares every tensor, owns its flags and hooks; the meta shadow allocates
    nothing; a closed module's spec is refused in one line."""
    from explorer.live import meta_shadow, register, registered, shadow, unregister
    from explorer.models import parse_model
    from resnet import resnet18

    net = resnet18().train()
    twin = shadow(net).eval()
    assert net.training and all(m.training for m in net.modules()) and not any(m.training for m in twin.modules())
    assert all(a is b for a, b in zip(net.parameters(), twin.parameters()))
    handle = twin.layer1.register_forward_hook(lambda *a: None)
    assert not net.layer1._forward_hooks and twin.layer1._forward_hooks
    handle.remove()
    meta = meta_shadow(net)
    assert all(p.is_meta for p in meta.parameters()) and all(b.is_meta for b in meta.buffers())
    assert not any(p.is_meta for p in net.parameters())
    live = register(net)
    assert parse_model(live.spec) == live == registered(live.spec)
    unregister(live)
    with pytest.raises(ValueError, match="no live module"):
        parse_model(live.spec)
    assert np.isfinite(sum(p.sum().item() for p in net.parameters()))
