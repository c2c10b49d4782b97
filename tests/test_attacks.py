"""The trust model (#33) against a real server process (``python app.py --datasets --runs``), as an attacker and
a careless user would try it: every numbered case of the issue, with its inputs built here. What must hold: no
marker file is ever made, nothing about a server file (its bytes, its existence) can be seen, every request is
answered or refused in one line, the server's memory stays under a stated bound per case, runs belong to their
session, the views answer while runs go, and a run whose client goes stops."""
from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks.load import _free_port, _rss, start_server
from test_trust import _onnx_cases, hf_bomb, legacy_pt2, LEGACY

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("attacks")
    datasets, runs = tmp / "datasets", tmp / "runs"
    rng = np.random.default_rng(0)
    for sub, n in (("pictures", 6), ("many", 160)):
        (datasets / sub).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random((72, 72, 3)) * 255).astype(np.uint8)).save(datasets / sub / f"{i:03d}.png")
    runs.mkdir()
    (tmp / "gradio").mkdir()
    secret = tmp / "secret.png"  # a server file no request may read
    Image.new("RGB", (64, 64), (200, 10, 10)).save(secret)
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio"), "TMPDIR": str(tmp)}
    port = _free_port()
    proc = start_server(port, env, ("--datasets", str(datasets), "--runs", str(runs)), log=tmp / "server.log")
    try:
        yield {"log": tmp / "server.log", "url": f"http://127.0.0.1:{port}/", "proc": proc, "tmp": tmp, "datasets": datasets, "runs": runs,
               "secret": secret}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _client(server) -> Client:
    return Client(server["url"], analytics_enabled=False, verbose=False)


@pytest.fixture()
def client(server):
    c = _client(server)
    try:
        yield c
    finally:
        c.close()


def _refused(client: Client, *args, api_name: str) -> str:
    """The one-line refusal a request gets; never an exception's class name or a server path."""
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name=api_name)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    for internal in ("Traceback", "/tmp/", str(ROOT)):
        assert internal not in message, message
    assert not re.search(r"\w+(Error|Exception)\b", message), message  # no exception's class name
    return message


class Peak:
    """The server's peak RSS growth while the block runs (the kernel's high-water mark, reset at the start)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> "Peak":
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.before = _rss(self.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.growth = _rss(self.pid, "VmHWM") - self.before


def _alive(client: Client) -> None:
    start = time.perf_counter()
    totals, *_ = client.predict("resnet18", 224, 1, api_name="/summarize")
    assert totals.startswith("**resnet18**") and time.perf_counter() - start < 10


# ---- 1, 2, 5, 7: model files ----------------------------------------------------------------------------------

def test_1_a_legacy_pt2_runs_no_code_on_the_server(server, client, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    for member in LEGACY:
        path = legacy_pt2(tmp_path / f"{member[11:16]}.pt2", member, marker)
        message = _refused(client, handle_file(str(path)), api_name="/open_checkpoint")
        assert "could run code" in message
    assert not marker.exists()
    _alive(client)


def test_2_no_onnx_tensor_reads_a_file_of_the_servers(server, client, tmp_path: Path) -> None:
    import onnx

    for label in _onnx_cases(tmp_path, "app.py"):
        seen = set()
        for location in ("app.py", ".git/HEAD", "no-such-file"):
            path = tmp_path / "model.onnx"
            onnx.save_model(_onnx_cases(tmp_path, location)[label], str(path))
            seen.add(_refused(client, handle_file(str(path)), api_name="/open_checkpoint"))
        assert len(seen) == 1 and "ONNX external data" in seen.pop(), label  # no existence oracle


def test_5_a_tiny_hugging_face_zip_cannot_exhaust_memory(server, client, tmp_path: Path) -> None:
    folder = hf_bomb(tmp_path / "bomb")
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    assert archive.stat().st_size < 1024
    unpacked = set((server["tmp"]).glob("resnet-explorer-hf-*"))
    with Peak(server["proc"].pid) as peak:
        assert "describes" in _refused(client, handle_file(str(archive)), api_name="/open_checkpoint")
        files = [handle_file(str(folder / n)) for n in ("config.json", "model.safetensors")]
        assert "describes" in _refused(client, files, api_name="/open_folder")
    assert peak.growth < 300 * MiB, peak.growth
    assert set(server["tmp"].glob("resnet-explorer-hf-*")) == unpacked  # the refused zip left nothing unpacked


def test_7_an_onnx_file_of_a_million_nodes_is_refused_cheaply(server, client, tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    n = 200_000
    graph = helper.make_graph([helper.make_node("Relu", [f"x{i}"], [f"x{i + 1}"]) for i in range(n)], "relus",
                              [helper.make_tensor_value_info("x0", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(f"x{n}", onnx.TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "relus.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    start = time.perf_counter()
    with Peak(server["proc"].pid) as peak:
        assert "has over 20,000 nodes" in _refused(client, handle_file(str(path)), api_name="/open_checkpoint")
    assert time.perf_counter() - start < 30 and peak.growth < 600 * MiB, peak.growth


# ---- 3, 4, 12, 13: uploaded runs ----------------------------------------------------------------------------------

def _run_zip(path: Path, summary: dict, channels: str | None = None, top: str | None = None,
             drop: str | None = None) -> Path:
    blocks = summary.get("blocks", ["layer1.0"])
    channels = channels if channels is not None else "block,channel,mean,std,max,active_fraction,dead\n" + "".join(
        f"{b},{c},0.5,0.1,1,0.5,False\n" for b in blocks for c in range(64))
    top = top if top is not None else "block,channel,rank,image,value,y,x\nlayer1.0,0,0,secret.png,1,0,0\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("summary.json", json.dumps(summary)), ("channels.csv", channels), ("top.csv", top)):
            if name != drop:
                z.writestr(f"run/{name}", data)
    return path


def _summary(root: str, **changes) -> dict:
    base = {"model": "resnet18", "weights": "random (seed 0)", "preprocessing": {"resize_size": 72, "crop_size": 64,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "top_k": 1, "batch_size": 16,
            "folder": "x", "root": root, "images": 1, "images_used": 1, "classes": [], "skipped": [],
            "blocks": [f"layer{s}.{i}" for s in range(1, 5) for i in range(2)], "weights_file": None}
    return {**base, **changes}


def test_3_an_uploaded_run_names_no_server_path(server, client, tmp_path: Path) -> None:
    """Its root and image names point at a server image (and at one that does not exist), its weights file at
    /etc/passwd: no tile is cut from either, both read alike, and the weights are not loaded."""
    secret = server["secret"]
    answers = []
    for image in (secret.name, "missing.png", f"../{secret.parent.name}/{secret.name}", str(secret)):
        for root in (str(secret.parent), "/"):
            top = f"block,channel,rank,image,value,y,x\nlayer1.0,0,0,{image},1,0,0\n"
            archive = _run_zip(tmp_path / "run.zip", _summary(root, weights_file="/etc/passwd"), top=top)
            summary, *_ = client.predict(None, handle_file(str(archive)), api_name="/dataset_open")
            assert "not in a folder this server offers" in summary
            plot, gallery, caption = client.predict("layer1.0", 0, api_name="/dataset_channel")
            assert not gallery and "not in a folder this server offers" in caption
            answers.append(caption.split(":")[0] + caption.split("or no longer there")[0][-40:])
    assert len(set(answers)) == 1  # the same answer whatever the names point at


@pytest.mark.parametrize("change, expected", [
    ({"preprocessing": {"resize_size": 45000, "crop_size": 224, "mean": [0.5] * 3, "std": [0.2] * 3}},
     "the resize must be at least half the crop"),
    ({"preprocessing": {"resize_size": 9000, "crop_size": 8192, "mean": [0.5] * 3, "std": [0.2] * 3}},
     "the crop must be 32 to 1024 px, got 8192"),
    ({"preprocessing": {"resize_size": 256, "crop_size": 224, "mean": [0.5] * 3, "std": [0, 0, 0]}},
     "the std above 0"),
    ({"model": "basic:2000-2000-2000-2000"}, "layer1 has 2000 blocks, over the limit of 200 per stage"),
    ({"top_k": "many"}, "needs 'top_k' as a whole number"),
    ({"blocks": "layer1.0"}, "needs 'blocks' as a list"),
    ({"skipped": [1, 2]}, "needs 'skipped' as a list"),
])
def test_4_an_uploaded_runs_settings_get_a_new_runs_checks(server, client, tmp_path: Path, change: dict,
                                                           expected: str) -> None:
    archive = _run_zip(tmp_path / "run.zip", _summary(str(server["datasets"] / "pictures"), **change))
    with Peak(server["proc"].pid) as peak:
        start = time.perf_counter()
        try:
            client.predict(None, handle_file(str(archive)), api_name="/dataset_open")
            message = _refused(client, "layer1.0", 0, api_name="/dataset_channel")
        except Exception as exc:  # noqa: BLE001 - refused when it is opened (the checks on the summary)
            message = str(exc)
    assert expected in message, message
    assert time.perf_counter() - start < 15 and peak.growth < 300 * MiB, peak.growth


def test_4_an_uploaded_runs_files_are_bounded(server, client, tmp_path: Path) -> None:
    summary = _summary(str(server["datasets"] / "pictures"))
    row = "layer1.0,0,0,000.png,1,0,0\n"
    big = _run_zip(tmp_path / "big.zip", summary, top="block,channel,rank,image,value,y,x\n" + row * 4_000_000)
    assert big.stat().st_size < 2 * MiB
    many = _run_zip(tmp_path / "many.zip", summary, top="block,channel,rank,image,value,y,x\n" + row * 600)
    with Peak(server["proc"].pid) as peak:
        assert "over the 64 MiB an uploaded run may hold" in _refused(client, None, handle_file(str(big)),
                                                                       api_name="/dataset_open")
        assert "has over 512 rows" in _refused(client, None, handle_file(str(many)), api_name="/dataset_open")
    assert peak.growth < 200 * MiB, peak.growth


@pytest.mark.parametrize("mangle, expected", [
    ({"drop": "summary.json"}, "the archive needs summary.json"),
    ({"channels": "block,channel\nlayer1.0,0\n"}, "needs the columns block, channel, mean"),
    ({"channels": "block,channel,mean,std,max,active_fraction,dead\nlayer1.0,x,0,0,0,0,False\n"},
     "row 1: channel is not a whole number"),
    ({"channels": "block,channel,mean,std,max,active_fraction,dead\nnot.a.block,0,0,0,0,0,False\n"},
     "row 1: its block is not one of the summary's"),
])
def test_12_a_broken_run_archive_gets_a_sentence(server, client, tmp_path: Path, mangle: dict, expected: str) -> None:
    archive = _run_zip(tmp_path / "run.zip", _summary(""), **mangle)
    assert expected in _refused(client, None, handle_file(str(archive)), api_name="/dataset_open")


def test_13_run_archives_put_no_live_markdown_on_the_page(server, client, tmp_path: Path) -> None:
    link = "![x](http://203.0.113.1/pixel.png)[click](http://203.0.113.1/)"
    archive = _run_zip(tmp_path / "run.zip", _summary("", weights=link, skipped=[{"file": link, "reason": link}]))
    summary, *_ = client.predict(None, handle_file(str(archive)), api_name="/dataset_open")
    assert f"`{link}`" in summary and summary.count(link) == 3  # as code: shown, never a link or an image


# ---- 6, 8, 9, 10, 11, 12: dataset runs --------------------------------------------------------------------------

def test_6_a_run_is_measured_at_its_crop_with_its_lesion_tape(server, client) -> None:
    with Peak(server["proc"].pid) as peak:
        start = time.perf_counter()
        message = _refused(client, "resnet50", None, "pictures", "random", None, 4, True, 0, 0, 1024,
                           api_name="/dataset_run")
    assert "for one 1024 px image with its lesion tape, over the 2 GiB limit" in message
    assert time.perf_counter() - start < 30 and peak.growth < 400 * MiB, peak.growth


def test_8_the_views_answer_while_two_runs_go(server, tmp_path: Path) -> None:
    runners = [_client(server) for _ in range(2)]
    jobs = [c.submit("resnet50", None, "many", "random", None, 2, True, 0, 72, 64, api_name="/dataset_run")
            for c in runners]  # (lesion studies of 160 images: minutes each here; cancelled at the end)
    try:
        time.sleep(3)
        with closing(_client(server)) as viewer:
            waits = []
            for spec in ("resnet34", "resnet101", "resnet18"):
                start = time.perf_counter()
                viewer.predict(spec, 224, 1, api_name="/summarize")
                waits.append(time.perf_counter() - start)
        assert not any(j.done() for j in jobs), "the runs ended before the views were asked for: make them longer"
        assert max(waits) < 5, waits
    finally:
        for j in jobs:
            j.cancel()
        for c in runners:
            c.close()


def test_8_a_run_stops_when_its_client_goes(server, tmp_path: Path) -> None:
    outputs = server["tmp"] / "resnet-explorer-outputs"
    before = {p.parent for p in outputs.glob("*/run")}
    script = textwrap.dedent(f"""
        from gradio_client import Client
        c = Client({server['url']!r}, verbose=False)
        job = c.submit("resnet50", None, "many", "random", None, 2, True, 0, 72, 64, api_name="/dataset_run")
        import time; time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline and not {p.parent for p in outputs.glob("*/run")} - before:
        time.sleep(0.5)
    started = {p.parent for p in outputs.glob("*/run")} - before
    assert started, "the run did not start"
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)  # (a lesion study of 160 images takes minutes here)
    proc.wait()
    deadline = time.time() + 90
    while time.time() < deadline and any(f.exists() for f in started):
        time.sleep(1)
    assert not any(f.exists() for f in started), "the run went on after its client went"
    assert not any((f / "run" / "summary.json").exists() for f in started)
    assert "a dataset run stopped: its client went away" in server["log"].read_text()


def test_9_runs_belong_to_their_session(server, tmp_path: Path) -> None:
    with closing(_client(server)) as a, closing(_client(server)) as b:
        image = tmp_path / "mine.png"
        Image.new("RGB", (64, 64), (1, 2, 3)).save(image)
        a.predict("resnet18", [handle_file(str(image))], None, "random", None, 1, False, 0, 72, 64,
                  api_name="/dataset_run")
        mine = [n for n in _listed(a) if n.startswith("upload-")]
        assert mine and not [n for n in _listed(b) if n in mine]
        assert "no dataset run named" in _refused(b, mine[0], None, api_name="/dataset_open")


def _listed(client: Client) -> list[str]:
    """What the run picker lists for this session: the private event called over HTTP by its index, in the
    client's session, as an attacker would (gradio_client does not call private events)."""
    import httpx

    index = next(d.get("id", i) for i, d in enumerate(client.config["dependencies"]) if d.get("api_name") == "dataset_runs")
    base = client.src.rstrip("/") + "/gradio_api"
    body = {"data": [], "fn_index": index, "session_hash": client.session_hash, "event_data": None, "trigger_id": None}
    assert httpx.post(f"{base}/queue/join", json=body, timeout=30).status_code == 200
    with httpx.stream("GET", f"{base}/queue/data", params={"session_hash": client.session_hash}, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    update = message["output"]["data"][0]
                    return [c[0] if isinstance(c, (list, tuple)) else c for c in update.get("choices", [])]
    raise AssertionError("no answer")


def test_10_uploads_are_measured_before_anything_is_copied(server, client, tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    with open(junk, "wb") as f:
        f.truncate(30 * MiB)
    outputs = server["tmp"] / "resnet-explorer-outputs"
    before = sum(f.stat().st_size for f in outputs.rglob("*") if f.is_file()) if outputs.exists() else 0
    message = _refused(client, "resnet18", [handle_file(str(junk))], None, "random", None, 1, api_name="/dataset_run")
    assert "junk.jpg is 30 MiB, over the 25 MiB limit for an image" in message
    after = sum(f.stat().st_size for f in outputs.rglob("*") if f.is_file()) if outputs.exists() else 0
    assert after - before < MiB


def test_12_no_usable_image_and_odd_archives_get_sentences(server, client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    message = _refused(client, "resnet18", [handle_file(str(bad))], None, "random", None, 1, api_name="/dataset_run")
    assert "none of the 1 images could be used (00000_bad.png: this file is not an image" in message
    archive = tmp_path / "clash.zip"
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(good, "PNG")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", good.getvalue())
        z.writestr("a.png/b.png", good.getvalue())
    summary, *_ = client.predict("resnet18", [handle_file(str(archive))], None, "random", None, 1, False, 0, 72, 64,
                                 api_name="/dataset_run")
    assert "over **2** images" in summary
    cut = tmp_path / "cut.jpg"
    full = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(full, "JPEG")
    cut.write_bytes(full.getvalue()[:300])
    message = _refused(client, "resnet18", handle_file(str(cut)), "cat", "random", None, "cpu", "", 16,
                       api_name="/features")
    assert "damaged or truncated" in message
