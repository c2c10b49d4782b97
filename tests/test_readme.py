"""The README's code as a reader pastes it: every Python snippet and every ``python -m explorer`` line runs, and
each ``# -> `` comment is checked against what that line prints (or, for a command, the file it writes)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(python|sh)\n(.*?)```", README, flags=re.S)
CHECKED = re.compile(r"^(\s*)print\((.*)\)\s*# -> (.*?)(\s{2,}.*)?$")
COMMAND = re.compile(r"^python -m explorer (.*?)(\s+#.*)?$")


def _python_script(url: str) -> str:
    """All Python snippets in order, with each ``print(x)  # -> text`` turned into a check that x starts so."""
    lines = ["def _check(*values, expected, where):",
             "    printed = ' '.join(map(str, values))",
             "    assert printed.startswith(expected), f'README line {where!r} printed {printed!r}'"]
    for lang, body in BLOCKS:
        if lang != "python":
            continue
        for line in body.replace("http://127.0.0.1:7860/", url).splitlines():
            m = CHECKED.match(line)
            lines.append(f"{m.group(1)}_check({m.group(2)}, expected={m.group(3)!r}, where={line.strip()!r})"
                         if m else line)
    return "\n".join(lines)


def _commands() -> list[tuple[str, str | None]]:
    """(arguments, the file the ``# -> name`` comment says it writes) for every CLI line."""
    out = []
    for lang, body in BLOCKS:
        for line in body.splitlines() if lang == "sh" else ():
            m = COMMAND.match(line.strip())
            if m:
                writes = re.search(r"# -> (\S+)", m.group(2) or "")
                out.append((m.group(1), writes.group(1) if writes else None))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the README names: a checkpoint under torchvision's file name, a fine-tuned
    10-class one with its class names, an ONNX export of a 10-class ResNet-18, and cat.jpg."""
    from resnet import resnet18, resnet50

    folder = tmp_path_factory.mktemp("readme")
    torch.manual_seed(0)
    torch.save(resnet50().state_dict(), folder / "resnet50-11ad3fa6.pth")
    torch.save({"epoch": 1, "state_dict": resnet18(num_classes=10).state_dict()}, folder / "finetuned.pth")
    (folder / "classes.txt").write_text("\n".join(f"class {i}" for i in range(10)))
    shutil.copy(ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg", folder / "cat.jpg")
    from PIL import Image

    rng = np.random.default_rng(0)  # image folders: pets/ by class name, digits/ by class index
    for cls in ("pets/cats", "pets/dogs", "digits/0", "digits/3", "digits/7"):
        (folder / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((rng.random((70, 90, 3)) * 255).astype(np.uint8)).save(folder / cls / f"{i}.jpg")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(resnet18(num_classes=10).eval(), (torch.randn(1, 3, 224, 224),), str(folder / "resnet18.onnx"),
                          dynamo=False, opset_version=17)
    return folder


def test_readme_has_checked_snippets() -> None:
    script = _python_script("http://x/")
    assert script.count("_check(") >= 10 and len(_commands()) >= 15


def test_python_snippets_run_as_pasted(app_url: str, workdir: Path) -> None:
    r = subprocess.run([sys.executable, "-c", _python_script(app_url)], cwd=workdir, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("args, writes", _commands(), ids=[a for a, _ in _commands()])
def test_cli_lines_run_as_pasted(workdir: Path, args: str, writes: str | None) -> None:
    r = subprocess.run([sys.executable, "-m", "explorer", *shlex.split(args)], cwd=workdir, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    if writes:
        assert (workdir / writes).stat().st_size > 0


def test_readme_pictures_exist() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README)
    assert pictures and all((ROOT / p).is_file() and (ROOT / p).stat().st_size > 10_000 for p in pictures), pictures
