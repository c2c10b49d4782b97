"""The package as a user installs it (#34): a wheel built from the checkout, installed into a fresh virtual
environment that borrows only the test environment's third-party packages (a ``.pth`` line naming its
site-packages, whose own ``.pth`` files, the checkout's editable install among them, are not read), run from a
folder outside the checkout: ``resnet-explorer app`` serves the page, ``resnet-explorer open`` a model file."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import torch

from benchmarks.load import _free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = json.loads((ROOT / "tests" / "data" / "ui_contract.json").read_text())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh environment, a working folder outside the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(base / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next((base / "dist").glob("resnet_explorer-*.whl"))
    env = base / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    py = env / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    work = base / "elsewhere"
    work.mkdir()
    return env, work


def test_the_wheel_holds_our_namespaces_and_the_app(installed: tuple[Path, Path]) -> None:
    env, work = installed
    wheel = next(Path(env.parent, "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"resnet", "explorer", "resnet_explorer"}  # no top-level ui or app to collide with
    assert {"resnet_explorer/assets/selection.js", "resnet_explorer/assets/examples/cat.jpg",
            "explorer/data/imagenet_classes.txt"} <= set(names)
    probe = ("import json, sys, explorer, resnet, resnet_explorer, explorer.cli\n"
             "print(json.dumps({'files': [m.__file__ for m in (explorer, resnet, resnet_explorer)],"
             " 'gradio': 'gradio' in sys.modules, 'classes': len(__import__('explorer.features.views', "
             "fromlist=['x']).class_names())}))")
    r = subprocess.run([str(env / "bin" / "python"), "-c", probe], cwd=work, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)
    assert all(f.startswith(str(env)) for f in got["files"]), got  # the wheel's files, not the checkout's
    assert not got["gradio"] and got["classes"] == 1000


def test_resnet_explorer_app_serves_the_page(installed: tuple[Path, Path]) -> None:
    from gradio_client import Client

    from explorer.tracing import structure_trace
    from resnet import get_preset

    env, work = installed
    port = _free_port()
    proc = start_server(port, command=(str(env / "bin" / "resnet-explorer"), "app"), cwd=work,
                        env={"PYTHONPATH": ""})
    try:
        with contextlib.closing(Client(f"http://127.0.0.1:{port}/", verbose=False)) as c:
            info = c.view_api(print_info=False, return_format="dict")["named_endpoints"]
            assert {n: [p["parameter_name"] for p in info[n]["parameters"]] for n in CONTRACT["endpoints"]} \
                == {n: params + CONTRACT["appended"].get(n, []) for n, params in CONTRACT["endpoints"].items()}
            totals, *_ = c.predict("resnet18", 224, 1, api_name="/summarize")
            t = structure_trace(get_preset("resnet18"))  # the checkout's library, in this process
            assert f"{t.total_params:,}" in totals and f"**{len(t.blocks)} blocks**" in totals
            notice, crop, *_ = c.predict("resnet18", None, "cat", "random", None, "cpu", "", 8, None,
                                         api_name="/features")  # the example photos came with the wheel
            assert "Ran on **cpu**" in notice and Path(crop).stat().st_size > 1000
    finally:
        proc.terminate()
        proc.wait(30)


def test_resnet_explorer_open_serves_a_model_file(installed: tuple[Path, Path]) -> None:
    from gradio_client import Client

    from resnet import resnet18

    env, work = installed
    model = resnet18(num_classes=7).eval()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), str(work / "net.onnx"), dynamo=False,
                          opset_version=17)
    opened = work / "opened.txt"
    browser = work / "browser.sh"  # what `open` asks the browser to show ($BROWSER is webbrowser's command)
    browser.write_text(f"#!/bin/sh\necho \"$1\" >> {opened}\n")
    browser.chmod(0o755)
    port = _free_port()
    cmd = (str(env / "bin" / "resnet-explorer"), "open", "net.onnx")
    proc = start_server(port, command=cmd, cwd=work, env={"PYTHONPATH": "", "BROWSER": str(browser)})
    try:
        with contextlib.closing(Client(f"http://127.0.0.1:{port}/", verbose=False)) as c:
            landing = next(p["props"]["value"] for p in c.config["components"]
                           if p.get("props", {}).get("elem_id") == "model")
            assert landing.startswith("onnx:net.onnx@")
            totals, _, blocks, _ = c.predict(landing, 224, 1, api_name="/summarize")
            assert "**8 blocks**" in totals and "output 7" in totals and len(blocks["data"]) == 8
        assert opened.read_text().strip() == f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(30)
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
               work / "ft.pth")  # a training checkpoint, DataParallel-wrapped
    port = _free_port()
    proc = start_server(port, command=(cmd[0], "open", "ft.pth"), cwd=work,
                        env={"PYTHONPATH": "", "BROWSER": str(browser)})
    try:
        with contextlib.closing(Client(f"http://127.0.0.1:{port}/", verbose=False)) as c:
            values = {p["props"].get("elem_id"): p["props"].get("value") for p in c.config["components"]
                      if "props" in p}
            assert values["model"] == "resnet18:c7" and "ft.pth" in values["model-source"]
            notice, *_rest, predictions = c.predict("resnet18:c7", None, "cat", "file", None, "cpu", "", 8, None,
                                                    api_name="/features")  # the checkpoint's weights run
            assert "ft.pth" in notice and "Random" not in notice and len(predictions["confidences"]) == 5
    finally:
        proc.terminate()
        proc.wait(30)
    (work / "notes.txt").write_text("not a model")
    r = subprocess.run([str(env / "bin" / "resnet-explorer"), "open", "notes.txt"], cwd=work, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
