"""Start-up (#15, #34): ``python app.py`` and the installed ``resnet-explorer app`` to a served page, side by
side with a hello-world Gradio app started the same way (a new interpreter, polled until the page answers).
Target: app / hello world <= 1.5. And ``explorer.show(model)`` in a process that already has torch and the
module (as a notebook has), from the call to a served page, against a hello-world Gradio app launched in the same
kind of process from its ``import gradio``.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from .load import ROOT, _free_port

HELLO = textwrap.dedent("""
    import sys
    import gradio as gr
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
""")


SHOW = textwrap.dedent("""
    import sys, time, httpx, torch, resnet
    model = resnet.resnet50()
    start = time.perf_counter()
    if sys.argv[1] == "show":
        import explorer
        shown = explorer.show(model, port=int(sys.argv[2]), inline=False)
    else:
        import gradio as gr
        with gr.Blocks() as demo:
            gr.Markdown("hello")
        demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[2]), prevent_thread_lock=True, quiet=True)
    while httpx.get(f"http://127.0.0.1:{sys.argv[2]}/", timeout=5).status_code != 200:
        time.sleep(0.02)
    print(time.perf_counter() - start)
""")


def _in_process(what: str) -> float:
    """Seconds from the call to a served page, measured inside a fresh interpreter."""
    r = subprocess.run([sys.executable, "-c", SHOW, what, str(_free_port())], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-500:])
    return float(r.stdout.strip().splitlines()[-1])


def _served(args: list[str], port: int, command: tuple[str, ...] = (sys.executable,)) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([*command, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        while time.perf_counter() - start < 120:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited during start-up")
            time.sleep(0.05)
        raise RuntimeError(f"{args[0]} did not serve within 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _painted(args: list[str], port: int, ready: str, browser, env: dict[str, str]) -> float:
    """Seconds from the process's start to ``ready`` visible in Chromium (the page polled until it answers, then
    opened): what a visitor waits for."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env})
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError(f"{args[0]} did not serve")
            time.sleep(0.05)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector(ready, state="visible", timeout=120_000)
            return time.perf_counter() - start
        finally:
            page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def landing(repeats: int = 3) -> dict:
    """Launch -> the landing view's content visible (the graph's first block), against a hello-world app's text
    visible, both in Chromium. The app paints what the previous start saved: one start primes the cache."""
    import tempfile

    from playwright.sync_api import sync_playwright

    hello = HELLO.replace('gr.Markdown("hello")', 'gr.Markdown("hello", elem_id="hello")')
    samples: dict[str, list[float]] = {"hello world": [], "app.py": []}
    with tempfile.TemporaryDirectory() as cache, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        env = {"XDG_CACHE_HOME": cache}
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        saved = Path(cache) / "resnet-explorer" / "landing-resnet50-224.json"
        deadline = time.time() + 300
        while not saved.is_file() and time.time() < deadline:  # the priming start, once warm
            time.sleep(0.5)
        proc.terminate()
        proc.wait(timeout=30)
        node = "#graph svg g.node"
        for _ in range(max(1, repeats)):
            port = _free_port()
            samples["hello world"].append(_painted(["-c", hello, str(port)], port, "#hello", browser, env))
            port = _free_port()
            samples["app.py"].append(_painted(["app.py", "--port", str(port)], port, node, browser, env))
        browser.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {"benchmark": "launch to the landing content visible in Chromium (app: the graph's blocks; hello world: "
                         "its text)", **{f"{k} (s)": round(v, 2) for k, v in med.items()},
            "app / hello world": round(med["app.py"] / med["hello world"], 2), "target": "<= 1.5"}


def run(repeats: int = 3) -> list[dict]:
    installed = (str(ROOT / ".venv" / "bin" / "resnet-explorer"), "app")
    samples: dict[str, list[float]] = {"hello world": [], "app.py": [], "resnet-explorer app": [],
                                       "hello world in process": [], "show(model)": []}
    for _ in range(max(1, repeats)):  # interleaved, so drift in the machine hits each alike
        port = _free_port()
        samples["hello world"].append(_served(["-c", HELLO, str(port)], port))
        port = _free_port()
        samples["app.py"].append(_served(["app.py", "--port", str(port)], port))
        port = _free_port()
        samples["resnet-explorer app"].append(_served(["--port", str(port)], port, installed))
        samples["hello world in process"].append(_in_process("hello"))
        samples["show(model)"].append(_in_process("show"))
    med = {k: statistics.median(v) for k, v in samples.items()}
    served = {k: med[k] for k in ("hello world", "app.py", "resnet-explorer app")}
    return [{"benchmark": "start-up to a served page", **{f"{k} (s)": round(v, 2) for k, v in served.items()},
             "app / hello world": round(med["app.py"] / med["hello world"], 2),
             "resnet-explorer app / hello world": round(med["resnet-explorer app"] / med["hello world"], 2),
             "target": "<= 1.5"},
            landing(repeats),
            {"benchmark": "explorer.show(resnet50) to a served page, torch already imported",
             "hello world (s)": round(med["hello world in process"], 2), "show (s)": round(med["show(model)"], 2),
             "show / hello world": round(med["show(model)"] / med["hello world in process"], 2)}]
