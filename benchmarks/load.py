"""Load: concurrent gradio_client users against a real server process, a bounded number of rounds each.

Each user, every round: a config toggle (/summarize on a random preset), a graph (/graph; every fourth user the
ops level, which torchview draws with torch patched for the process), a feature-map run on an example image,
the class maps of it (/cam), then a block switch. Reports latency p50/p95 per endpoint and overall, failures,
and the server's RSS after each round (a plateau means the caches are bounded) and its peak.
"""
from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2"]
EXAMPLES = ["cat", "coffee", "rocket", "shapes"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def start_server(port: int, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 log: Path | None = None, command: tuple[str, ...] = (sys.executable, "app.py"),
                 cwd: Path = ROOT, port_flag: bool = True) -> subprocess.Popen:
    """``python app.py`` (or ``command``) on ``port``, ready to answer; its stderr to ``log`` when given.
    ``port_flag=False``: the command names the port itself (``make run ARGS=--port N``), and runs in a session
    of its own, so that ``os.killpg`` stops it and what it started."""
    err = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the server's for its life
    proc = subprocess.Popen([*command, *(("--port", str(port)) if port_flag else ()), *args], cwd=cwd,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=not port_flag)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the app exited during start-up")
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start within 180 s")


def run(users: int = 32, rounds: int = 2, repeats: int = 0, seed: int = 0) -> list[dict]:
    from gradio_client import Client

    port = _free_port()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}/"
    latencies: dict[str, list[float]] = {}
    failures: list[str] = []
    rss_by_round: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def timed(kind: str, fn, *args, **kw):
        start = time.perf_counter()
        try:
            return fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            with lock:
                failures.append(f"{kind}: {str(exc).splitlines()[0][:120]}")
            return None
        finally:
            with lock:
                latencies.setdefault(kind, []).append(time.perf_counter() - start)

    def user(i: int) -> None:
        rng = random.Random(seed + i)
        client = Client(url, analytics_enabled=False, verbose=False)
        try:
            for r in range(rounds):
                spec = rng.choice(PRESETS)
                timed("summarize", client.predict, spec, 224, api_name="/summarize")
                level = "ops" if i % 4 == 0 else rng.choice(["stages", "blocks", "layers"])
                timed(f"graph ({'ops' if level == 'ops' else 'other levels'})", client.predict, spec, 224, level,
                      "TB", False, api_name="/graph")
                timed("features", client.predict, rng.choice(PRESETS[:3]), None, rng.choice(EXAMPLES),
                      "random", None, "cpu", "", 16, api_name="/features")
                timed("cam", client.predict, "", "", "gradcam", 0.5, None, api_name="/cam")
                timed("block_view", client.predict, "layer3.0", 9, -1, api_name="/block_view")
                barrier.wait(timeout=600)
                if i == 0:
                    rss_by_round.append(_rss(proc.pid))
        finally:
            client.close()

    try:
        start = time.perf_counter()
        threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        peak = _rss(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    everything = [x for v in latencies.values() for x in v]

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3) if len(values) > 1 else \
            round(values[0], 3)

    row = {
        "benchmark": "load", "users": users, "rounds": rounds, "requests": len(everything),
        "failed": len(failures), "wall (s)": round(wall, 1),
        "p50 (s)": pct(everything, 50), "p95 (s)": pct(everything, 95),
        **{f"{k} p50/p95 (s)": f"{pct(v, 50)}/{pct(v, 95)}" for k, v in sorted(latencies.items())},
        "RSS by round (MiB)": [round(x / 2**20) for x in rss_by_round], "peak RSS (MiB)": round(peak / 2**20),
    }
    if failures:
        row["failures"] = failures[:5]
    return [row]
