"""`python app.py` serves its page before torch is imported (#15: start-up), and the first request after it
waits for torch and answers. Checked by holding torch's import back until the page has been served."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GATE = '''
import os, sys, time


class TorchGate:
    """Holds ``import torch`` until the file named by TORCH_GATE exists."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            while not os.path.exists(os.environ["TORCH_GATE"]):
                time.sleep(0.05)
            sys.meta_path.remove(self)
        return None


sys.meta_path.insert(0, TorchGate())
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_page_is_served_before_torch_is_imported(tmp_path: Path) -> None:
    from gradio_client import Client

    (tmp_path / "sitecustomize.py").write_text(GATE)
    gate, port = tmp_path / "open", _free_port()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "TORCH_GATE": str(gate), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, served = time.time() + 90, False
        while time.time() < deadline and not served:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                served = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert served, "the page was not served while torch's import was held back"
        gate.touch()  # torch may load now; the first request waits for it and answers
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        totals, stages, _, _ = client.predict("resnet101", 224, 1, api_name="/summarize")
        assert totals.startswith("**resnet101**") and stages["data"][2][2] == 23
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


NO_TORCH = '''
import sys


class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked here")


sys.meta_path.insert(0, NoTorch())
import explorer.figures, explorer.graph.levels, explorer.models, explorer.structure.tables, explorer.tracing.records
import resnet
from explorer.features.methods import METHODS
from explorer.graph.formats import EXPORT_FORMATS

print(resnet.parse_spec("bottleneck:3-4-6-3:32x4d").spec, resnet.PRESETS["resnet18"].title, len(METHODS),
      len(EXPORT_FORMATS), explorer.models.parse_model("resnet50:c10").spec)
'''


def test_specs_presets_records_and_views_import_without_torch() -> None:
    run = subprocess.run([sys.executable, "-c", NO_TORCH], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["resnext50_32x4d", "ResNet-18", "4", "10", "resnet50:c10"]
