"""Trained weights on request (#12): downloads against a server on 127.0.0.1 that the tests run: success with
progress, a hash mismatch, a refused connection, a stalled server and a cut-short body; then the CLI and the
app's button. Nothing here reaches the internet."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

import resnet.presets as presets
from resnet import build, get_preset
from resnet.download import DownloadError, download
from resnet.presets import WeightsInfo

ROOT = Path(__file__).resolve().parent.parent


def _checkpoint_bytes() -> bytes:
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(build(get_preset("resnet18")).state_dict(), buf)
    return buf.getvalue()


CONTENT = _checkpoint_bytes()
SHA8 = hashlib.sha256(CONTENT).hexdigest()[:8]
GOOD = f"resnet18-{SHA8}.pth"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # (http.server's name)
        name = self.path.rsplit("/", 1)[-1]
        if name.startswith("stall"):
            time.sleep(30)
            return
        if name.startswith("redirect"):  # to another host: this machine under another name
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/models/{GOOD}")
            self.end_headers()
            return
        if name.startswith("endless"):  # no length said, and far more than any resnet18 checkpoint
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(400):
                    self.wfile.write(b"\0" * (1 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.server.endless_stopped = True
            return
        body = CONTENT if name == GOOD else CONTENT[:-1] + b"!"  # any other name: bytes that do not match it
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (1000 if name.startswith("short") else 0)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/models/"
    finally:
        httpd.shutdown()


def test_a_mirror_that_sends_too_much_or_redirects_elsewhere_is_refused(server: str, tmp_path: Path) -> None:
    """At most the file's expected size is read (resnet18's state dict plus 1 MiB), and no redirect is followed
    off the weights host; nothing is kept."""
    from resnet.download import SLACK, state_size

    name = f"endless-{SHA8}.pth"
    with pytest.raises(DownloadError, match=f"sent more than {name} can be \\({state_size('resnet18') + SLACK:,} bytes"):
        download(_info(name), folder=tmp_path, url=server + name, timeout=5)
    with pytest.raises(DownloadError, match="redirected to another host \\(localhost:\\d+\\); not followed"):
        download(_info(GOOD), folder=tmp_path, url=server + "redirect-" + GOOD, timeout=5)
    with pytest.raises(DownloadError, match="the timeout must be a positive number of seconds, got 0"):
        download(_info(GOOD), folder=tmp_path, url=server + GOOD, timeout=0)
    assert list(tmp_path.iterdir()) == []


def _info(filename: str) -> WeightsInfo:
    return WeightsInfo("resnet18", "IMAGENET1K_V1", filename, 256, 69.758)


def test_download_with_progress_lands_atomically(server: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    path = download(_info(GOOD), progress=lambda done, total: seen.append((done, total)), folder=tmp_path,
                    url=server + GOOD, timeout=5)
    assert path == tmp_path / GOOD and path.read_bytes() == CONTENT
    assert seen[-1] == (len(CONTENT), len(CONTENT)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert list(tmp_path.iterdir()) == [path]  # no .part file left
    assert download(_info(GOOD), folder=tmp_path, url="http://127.0.0.1:9/never") == path  # cached: no request


@pytest.mark.parametrize("name, message", [
    ("resnet18-00000000.pth", "is corrupt: its SHA-256 starts"),
    ("short-12345678.pth", "stopped after"),
])
def test_bad_downloads_leave_nothing(server: str, tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(DownloadError, match=message):
        download(_info(name), folder=tmp_path, url=server + name, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_refused_and_stalled_fail_within_the_bound(server: str, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1:\d+ \(Connection refused\); nothing was kept"):
        download(_info(GOOD), folder=tmp_path, url=f"http://127.0.0.1:{closed}/{GOOD}", timeout=2)
    with pytest.raises(DownloadError, match=r"no answer from 127\.0\.0\.1:\d+ within 1 s"):
        download(_info("stall-12345678.pth"), folder=tmp_path, url=server + "stall-12345678.pth", timeout=1)
    assert time.perf_counter() - start < 10
    assert list(tmp_path.iterdir()) == []


def test_cli_weights(server: str, tmp_path: Path) -> None:
    env = {**os.environ, "RESNET_EXPLORER_WEIGHTS_URL": server, "TORCH_HOME": str(tmp_path)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "explorer", "weights", *a], cwd=ROOT, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    r = run("list")
    assert r.returncode == 0 and "resnet50          IMAGENET1K_V2  80.9%   98 MiB" in r.stdout and server in r.stdout
    r = run("download", "resnet18", "--timeout", "5")  # the server's bytes do not match torchvision's hash
    assert r.returncode == 2 and "error: download of resnet18-f37072fd.pth is corrupt" in r.stderr
    assert not list(tmp_path.rglob("*.pth"))
    r = run("download", "resnet99")
    assert r.returncode == 2 and "no published weights for 'resnet99'" in r.stderr


@pytest.fixture()
def served_preset(server: str, tmp_path: Path, monkeypatch):
    """resnet18's published weights pointed at the test server's file (whose hash is in its name)."""
    original = presets.PRESETS["resnet18"]
    monkeypatch.setitem(presets.PRESETS, "resnet18", dataclasses.replace(original, weights=(_info(GOOD),)))
    monkeypatch.setenv("RESNET_EXPLORER_WEIGHTS_URL", server)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # read at each call (torch.hub.set_dir would stick)
    return tmp_path / "hub" / "checkpoints" / GOOD


def test_app_download_button_then_trained_predictions(client, served_preset: Path) -> None:
    offer, weights = client.predict("resnet18", api_name="/download_weights")
    assert served_preset.read_bytes() == CONTENT
    assert offer.startswith("Trained weights: **resnet18 IMAGENET1K_V1** · 45 MiB · ImageNet top-1 69.8%")
    assert offer.endswith("in the torch hub cache") and weights == "hub"
    result = client.predict("resnet18", None, "cat", "hub", None, "cpu", "", 16, api_name="/features")
    assert GOOD in result[0] and len(result[-1]["confidences"]) == 5


def test_app_download_failure_is_one_line_and_the_app_keeps_working(client, monkeypatch, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("RESNET_EXPLORER_WEIGHTS_URL", f"http://127.0.0.1:{closed}/")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(Exception, match="cannot reach 127.0.0.1"):
        client.predict("resnet18", api_name="/download_weights")
    with pytest.raises(Exception, match="no published ImageNet weights"):
        client.predict("basic:1-1-1-1", api_name="/download_weights")
    totals, *_ = client.predict("resnet18", 224, api_name="/summarize")
    assert "**8 blocks**" in totals


def test_download_button_in_the_page(app_url: str, browser, served_preset: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        page.goto(app_url)
        page.wait_for_selector(".gradio-container")
        spec = page.locator("#spec textarea, #spec input").first
        spec.fill("resnet18")
        spec.press("Enter")
        expect(page.locator("#totals")).to_contain_text("8 blocks", timeout=30_000)
        page.get_by_role("tab", name="Feature maps").click()
        offer = page.locator("#fm-offer")
        expect(offer).to_contain_text("resnet18 IMAGENET1K_V1 · 45 MiB · ImageNet top-1 69.8% · not downloaded",
                                      timeout=30_000)
        page.locator("#fm-download").click()
        expect(offer).to_contain_text("in the torch hub cache", timeout=60_000)
        expect(page.locator("#fm-notice")).to_contain_text(GOOD, timeout=60_000)  # the run used them
        expect(page.locator("#fm-predictions")).to_be_visible()
        assert served_preset.read_bytes() == CONTENT
    finally:
        page.close()
