"""The README and docs/ as a reader pastes them (#34: every command and code block is run): each page's Python
snippets run in order as one script, each ``# -> `` comment checked against what its line prints; every
``python -m explorer`` (or ``resnet-explorer``) line runs, and the file its ``# -> name`` comment names is
written; every line that starts the app (``python app.py``, ``make run``, ``resnet-explorer app|open``) serves
its page; and every other shell line is one that another test or CI runs, named in ``ELSEWHERE``."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from benchmarks.load import _free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = {p: p.read_text() for p in PAGES}
BLOCKS = {p: re.findall(r"^```(python|sh|bash)\n(.*?)^```", TEXT[p], flags=re.S | re.M) for p in PAGES}
CHECKED = re.compile(r"^(\s*)print\((.*)\)\s*# -> (.*?)(\s{2,}.*)?$")
COMMAND = re.compile(r"^(?:python -m explorer|resnet-explorer) (?!app\b|open\b)(.*?)(\s+#.*)?$")
SERVER = re.compile(r"^(python app\.py|make run|resnet-explorer app|resnet-explorer open)\b(.*?)(\s+#.*)?$")
# Shell lines run elsewhere, and where: the tests cannot run themselves, join a cluster they did not start, or
# install into the environment they run in.
ELSEWHERE = {
    "make test": ".ci/run, on a clean clone (CI)",
    "pip install .": "tests/test_wheel.py: a wheel of the checkout installed into a fresh environment",
    "ray start": "tests/test_dataset.py starts a real two-node cluster and joins it by its address",
    "python -m explorer dataset resnet50 /data/imagenet/val": "the same command on a cluster: tests/test_dataset.py",
}


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _shell_lines(page: Path) -> list[str]:
    return [line.strip() for lang, body in BLOCKS[page] if lang in ("sh", "bash") for line in body.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _python_script(page: Path, url: str) -> str:
    """A page's Python snippets in order, with each ``print(x)  # -> text`` turned into a check that x starts so."""
    lines = ["def _check(*values, expected, where):",
             "    printed = ' '.join(map(str, values))",
             "    assert printed.startswith(expected), f'line {where!r} printed {printed!r}'"]
    for lang, body in BLOCKS[page]:
        if lang != "python":
            continue
        for line in body.replace("http://127.0.0.1:7860/", url).splitlines():
            m = CHECKED.match(line)
            lines.append(f"{m.group(1)}_check({m.group(2)}, expected={m.group(3)!r}, where={line.strip()!r})"
                         if m else line)
    return "\n".join(lines)


def _elsewhere(line: str) -> bool:
    return any(line.startswith(k) for k in ELSEWHERE)


def _commands() -> list[tuple[str, str, str | None]]:
    """(page, arguments, the file the ``# -> name`` comment says it writes) for every CLI line."""
    out = []
    for page in PAGES:
        for line in _shell_lines(page):
            m = COMMAND.match(line)
            if m and not _elsewhere(line):
                writes = re.search(r"# -> (\S+)", m.group(2) or "")
                out.append((_name(page), m.group(1), writes.group(1) if writes else None))
    return out


def _servers() -> list[tuple[str, str, str]]:
    """(page, how the app is started, its arguments) for every line that starts it."""
    return [(_name(page), m.group(1), m.group(2).strip()) for page in PAGES for line in _shell_lines(page)
            if (m := SERVER.match(line))]


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
    from resnet import build, parse_spec  # a CIFAR ResNet-20 saved as the public CIFAR code saves it, and a
    # CIFAR-10 test folder of 32 px images named by class
    torch.save({"epoch": 1, "best_prec1": 10.0, "state_dict": torch.nn.DataParallel(
        build(parse_spec("resnet20"))).state_dict()}, folder / "resnet20.th")
    for cls in ("airplane", "cat", "truck"):
        (folder / "cifar10" / "test" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(folder / "cifar10" / "test" /
                                                                                    cls / f"{i}.png")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(resnet18(num_classes=10).eval(), (torch.randn(1, 3, 224, 224),), str(folder / "resnet18.onnx"),
                          dynamo=False, opset_version=17)
    return folder


def test_the_readme_is_a_front_door() -> None:
    readme = TEXT[ROOT / "README.md"]
    assert len(readme.splitlines()) <= 150
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))
    assert {f"docs/{p.name}" for p in PAGES if p.parent.name == "docs"} - linked <= {"docs/api.md", "docs/README.md"} \
        or "docs/README.md" in linked


def test_the_pages_have_checked_snippets() -> None:
    scripts = {p: _python_script(p, "http://x/") for p in PAGES}
    assert sum(s.count("_check(") for s in scripts.values()) >= 15 and len(_commands()) >= 20
    assert {name for name, _, _ in _servers()} >= {"README.md", "docs/install.md"}


def test_every_shell_line_is_run_somewhere() -> None:
    lost = [(p.name, line) for p in PAGES for line in _shell_lines(p)
            if not (COMMAND.match(line) or SERVER.match(line) or _elsewhere(line))]
    assert not lost, f"shell lines no test runs: {lost}"


@pytest.mark.parametrize("page", [p for p in PAGES if any(lang == "python" for lang, _ in BLOCKS[p])], ids=_name)
def test_python_snippets_run_as_pasted(app_url: str, workdir: Path, page: Path) -> None:
    r = subprocess.run([sys.executable, "-c", _python_script(page, app_url)], cwd=workdir, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("page, args, writes", _commands(), ids=[f"{p}: {a}" for p, a, _ in _commands()])
def test_cli_lines_run_as_pasted(workdir: Path, page: str, args: str, writes: str | None) -> None:
    r = subprocess.run([sys.executable, "-m", "explorer", *shlex.split(args)], cwd=workdir, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    if writes:
        assert (workdir / writes).stat().st_size > 0


@pytest.mark.parametrize("page, how, args", _servers(), ids=[f"{p}: {h} {a}" for p, h, a in _servers()])
def test_lines_that_start_the_app_serve_it(workdir: Path, page: str, how: str, args: str) -> None:
    """Each line as written, on a free port (its own --port replaced), from the folder the docs assume (the
    checkout for app.py and make, the reader's folder for the installed command); the page must answer."""
    port = _free_port()
    flags = [a for a in shlex.split(args) if not a.isdigit() and a != "--port"]
    browser = workdir / "browser.sh"  # `open` asks for a browser tab: this one only says where it was sent
    browser.write_text("#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/browser_asked.txt\"\n")
    browser.chmod(0o755)
    if how == "make run":  # make passes ARGS on to app.py
        proc = start_server(port, command=("make", "run", f"ARGS=--port {port}"), port_flag=False)
    elif how == "python app.py":
        proc = start_server(port, command=(sys.executable, "app.py", *flags), cwd=ROOT)
    else:
        installed = str(Path(sys.executable).parent / "resnet-explorer")
        proc = start_server(port, command=(installed, how.split()[1], *flags), cwd=workdir,
                            env={"BROWSER": str(browser)})
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        if how == "resnet-explorer open":
            config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=10).json()
            landing = [c["props"].get("value") for c in config["components"] if c.get("props", {}).get("elem_id")
                       == "model"]
            assert landing and landing[0].startswith(f"onnx:{flags[0]}@")
            assert (workdir / "browser_asked.txt").read_text().strip() == f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    import signal

    try:
        if proc.args[0] == "make":  # make and the app it started
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        proc.kill()


def test_pictures_exist() -> None:
    for page in PAGES:
        pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", TEXT[page])
        assert all((page.parent / p).is_file() and (page.parent / p).stat().st_size > 10_000 for p in pictures), \
            (page.name, pictures)
    assert re.search(r"!\[", TEXT[ROOT / "README.md"])
