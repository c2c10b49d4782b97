"""Shared fixtures: the torchvision reference data, a launched app, and Debian's Chromium."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


# Tests that start real browsers, server processes, Jupyter kernels, wheels or Ray clusters: the whole suite runs
# them (make test, CI); make test-fast leaves them out for a quick loop while editing.
SLOW_MODULES = {"test_browser", "test_layout", "test_wheel", "test_show", "test_notebook", "test_docs", "test_attacks",
                "test_load", "test_startup", "test_download", "test_dataset_app"}


CLI_PROCESS = '"-m", "explorer"'  # how a test starts the command line as a process


def _starts_the_cli(item: pytest.Item, helpers: dict) -> bool:
    """Whether a test runs ``python -m explorer`` itself or through one of its module's helpers."""
    import inspect

    module = item.module
    if module not in helpers:
        helpers[module] = {name for name, fn in vars(module).items() if inspect.isfunction(fn)
                           and fn.__module__ == module.__name__ and CLI_PROCESS in inspect.getsource(fn)}
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError):
        return False
    return CLI_PROCESS in source or any(f"{name}(" in source for name in helpers[module])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    helpers: dict = {}
    for item in items:
        if item.module is not None and _starts_the_cli(item, helpers):
            item.add_marker(pytest.mark.cli)
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module in SLOW_MODULES or "ray" in item.name.split("[")[0].split("_") or "cluster" in item.name \
                or "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def reference() -> dict:
    return json.loads((ROOT / "tests" / "data" / "torchvision_reference.json").read_text())


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    """The real app, launched in-process on a free port, closed at the end."""
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    from resnet_explorer.page import build_demo, launch_options

    demo = build_demo()
    demo.queue(default_concurrency_limit=2)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture()
def client(app_url: str):
    from gradio_client import Client

    c = Client(app_url, analytics_enabled=False, verbose=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/setup.sh --test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(app_url: str, browser):
    """The app in a fresh tab, its first view (ResNet-50) drawn; closed afterwards."""
    from playwright.sync_api import expect

    tab = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        tab.goto(app_url)
        tab.wait_for_selector(".gradio-container")
        expect(tab.locator("#totals")).to_contain_text("16 blocks", timeout=30_000)
        yield tab
    finally:
        tab.close()
