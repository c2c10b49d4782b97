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
            {"benchmark": "explorer.show(resnet50) to a served page, torch already imported",
             "hello world (s)": round(med["hello world in process"], 2), "show (s)": round(med["show(model)"], 2),
             "show / hello world": round(med["show(model)"] / med["hello world in process"], 2)}]
