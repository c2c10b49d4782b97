"""Start-up (#15): ``python app.py`` to a served page, side by side with a hello-world Gradio app started the
same way (a new interpreter, polled until the page answers). Target: app / hello world <= 1.5.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time

import httpx

from .load import ROOT, _free_port

HELLO = textwrap.dedent("""
    import sys
    import gradio as gr
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
""")


def _served(args: list[str], port: int) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def run(repeats: int = 3) -> list[dict]:
    samples: dict[str, list[float]] = {"hello world": [], "app.py": []}
    for _ in range(max(1, repeats)):
        port = _free_port()
        samples["hello world"].append(_served(["-c", HELLO, str(port)], port))
        port = _free_port()
        samples["app.py"].append(_served(["app.py", "--port", str(port)], port))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return [{"benchmark": "start-up to a served page", **{f"{k} (s)": round(v, 2) for k, v in med.items()},
             "app / hello world": round(med["app.py"] / med["hello world"], 2), "target": "<= 1.5"}]
