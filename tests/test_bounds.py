"""Bounded cost for every request (#22), against a real server process (``python app.py``) and the CLI: what a
careless user or an attacker tried, each shown to hold: a checkpoint that inflates, one with many keys,
concurrent ops-level graphs beside summaries of new specs, a flood of the off-queue redraw beside a queued
request, repeated runs and the disk they leave, files the CLI would overwrite, and values that are not numbers,
too long, or markup."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
import torch
from gradio_client import Client, handle_file

from benchmarks.load import _free_port, _rss, start_server

ROOT = Path(__file__).resolve().parent.parent
CACHE_MB = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bounded")
    (tmp / "gradio").mkdir()
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio"), "TMPDIR": str(tmp), "RESNET_EXPLORER_OUTPUT_CACHE_MB": str(CACHE_MB)}
    port = _free_port()
    proc = start_server(port, env)
    try:
        yield f"http://127.0.0.1:{port}/", proc, tmp
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture()
def client(server):
    c = Client(server[0], analytics_enabled=False, verbose=False)
    try:
        yield c
    finally:
        c.close()


def _alive(client: Client) -> None:
    totals, *_ = client.predict("resnet18", 224, 1, api_name="/summarize")
    assert totals.startswith("**resnet18**")


def _bomb(path: Path, megabytes: int) -> Path:
    """A torch zip whose data record is deflate-compressed: a few hundred KiB that inflate to ``megabytes``."""
    plain = path.with_suffix(".plain")
    torch.save({"conv1.weight": torch.zeros(megabytes * 2**18)}, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    plain.unlink()
    return path


def test_a_checkpoint_that_would_inflate_is_refused_before_it_does(server, client, tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "small.pth", 768)
    assert bomb.stat().st_size < 2 * 2**20
    proc = server[1]
    before = _rss(proc.pid)
    start = time.perf_counter()
    with pytest.raises(Exception, match="its tensors are compressed .* cannot be known before reading them"):
        client.predict(handle_file(str(bomb)), api_name="/open_checkpoint")
    assert time.perf_counter() - start < 10
    assert _rss(proc.pid) - before < 100 * 2**20  # it never inflated (768 MiB otherwise)
    _alive(client)


def test_a_file_of_many_keys_is_refused_in_well_under_a_second_of_server_time(server, client, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    many = tmp_path / "many.safetensors"
    save_file({f"k{i}": torch.zeros(1) for i in range(200_000)}, str(many))
    start = time.perf_counter()
    with pytest.raises(Exception, match="holds 200,000 tensors; a ResNet has under 2,000"):
        client.predict(handle_file(str(many)), api_name="/open_checkpoint")
    assert time.perf_counter() - start < 15  # the upload of 20 MB included; reading the header is ~0.3 s
    _alive(client)


def test_ops_graphs_beside_summaries_of_new_specs_break_nothing(server) -> None:
    """torchview patches torch for the whole process while it draws: forwards wait for it, it waits for them."""
    url = server[0]
    results: list[str] = []
    errors: list[str] = []

    def call(args: tuple, api: str) -> None:
        c = Client(url, analytics_enabled=False, verbose=False)
        try:
            out = c.predict(*args, api_name=api)
            results.append(api if out else "")
        except Exception as exc:  # noqa: BLE001 - every failure is the test's finding
            errors.append(f"{api}: {exc}")
        finally:
            c.close()

    jobs = [((f"bottleneck:{i}-2-2-1", 96, "ops", "TB", False), "/graph") for i in (1, 2)]
    jobs += [((f"basic:{i}-{j}-1-1", 96, 1), "/summarize") for i in (1, 3) for j in (1, 2)]
    jobs += [((f"bottleneck:1-{i}-1-2", 96, "blocks", "TB", False), "/graph") for i in (3, 4)]
    threads = [threading.Thread(target=call, args=job) for job in jobs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors and len(results) == 16, errors[:3]


def _views_fn(url: str) -> tuple[int, list, list]:
    """The off-queue redraw's function index, the page's default values of its inputs and their elem_ids, in the
    order the endpoint takes them."""
    config = httpx.get(f"{url}config", timeout=30).json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "views")
    props = {c["id"]: c.get("props", {}) for c in config["components"]}
    return dep["id"], [props[i].get("value") for i in dep["inputs"]], [props[i].get("elem_id") for i in dep["inputs"]]


def _raw_call(url: str, api: str, body: str) -> str:
    """A queued call with a JSON body as written (``NaN`` is valid to Python's JSON, not to a JSON client)."""
    r = httpx.post(f"{url}gradio_api/call/{api}", content=body, headers={"content-type": "application/json"},
                   timeout=60)
    return httpx.get(f"{url}gradio_api/call/{api}/{r.json()['event_id']}", timeout=120).text


def test_a_flood_of_the_off_queue_redraw_leaves_queued_requests_their_turn(server, client) -> None:
    url = server[0]
    fn_index, defaults, ids = _views_fn(url)
    answered: list[int] = []

    def post(i: int) -> None:
        data = [{"active-tab": "tables", "model": f"bottleneck:{1 + i % 5}-{1 + i // 5}-1-1"}.get(name, value)
                for name, value in zip(ids, defaults)]
        r = httpx.post(f"{url}gradio_api/run/predict", json={"data": data, "fn_index": fn_index,
                                                              "session_hash": f"flood{i}"}, timeout=120)
        answered.append(r.status_code)

    flood = [threading.Thread(target=post, args=(i,)) for i in range(24)]
    for t in flood:
        t.start()
    time.sleep(0.5)
    start = time.perf_counter()
    _alive(client)
    queued = time.perf_counter() - start
    for t in flood:
        t.join(timeout=300)
    assert len(answered) == 24 and all(code == 200 for code in answered)  # each answered: drawn, or "busy"
    assert queued < 15, queued  # two slots for the whole app: the flood waits its turn (or is told busy)


def _disk(tmp: Path) -> int:
    return sum(f.stat().st_size for root in (tmp / "gradio", tmp / "resnet-explorer-outputs")
               for f in (root.rglob("*") if root.exists() else ()) if f.is_file())


def test_repeated_runs_leave_bounded_files(server, client) -> None:
    tmp = server[2]
    for i in range(8):
        client.predict("resnet18", None, ["cat", "coffee"][i % 2], "random", None, "cpu", "", 16, None,
                       api_name="/features")
        for block in ("layer1.0", "layer2.0", "layer3.0"):
            client.predict(block, 16, -1, api_name="/block_view")
    assert _disk(tmp) <= (CACHE_MB + 2) * 2**20, _disk(tmp)  # the limit, and what the last seconds wrote


@pytest.mark.parametrize("api, body, message", [
    ("summarize", '["resnet50", NaN, 1]', "input size must be a whole number of pixels, got nan"),
    ("summarize", '["resnet50", 224, Infinity]', "Value inf is greater than maximum value"),  # Gradio's own bound
    ("export_png", '["resnet50", 224, "blocks", "TB", false, NaN, "graph", "light", "column"]',
     "DPI must be a whole number, got nan"),
    ("graph", '["resnet50", Infinity, "blocks", "TB", false, "graph", "light", "column"]',
     "Value inf is greater than maximum value 1024"),  # the slider's own bound
])
def test_numbers_that_are_not_numbers_get_one_clean_line(server, client, api, body, message) -> None:
    answer = _raw_call(server[0], api, '{"data": %s}' % body)
    assert "event: error" in answer and message in answer and "cannot convert" not in answer, answer[:300]
    _alive(client)


@pytest.mark.parametrize("args, api, message", [
    (("x" * 1_000_000, 224, 1), "/summarize", "characters is longer than any model spec"),
    (("timm:" + "r" * 300, 224, 1), "/summarize", "a model spec is at most 200 characters, got 305"),
    (("resnet50", 224, "layer9." + "9" * 300), "/select_block", "a block name is at most 200 characters, got 307"),
])
def test_values_too_long_get_one_short_line(client, args, api, message) -> None:
    with pytest.raises(Exception) as err:
        client.predict(*args, api_name=api)
    text = str(err.value)
    assert message in text and "cannot convert" not in text and len(text) < 600
    _alive(client)


def test_a_class_index_of_5000_digits_and_markup_in_file_names(client, tmp_path: Path) -> None:
    from resnet import build, parse_spec

    client.predict("resnet18", None, "cat", "random", None, "cpu", "", 16, None, api_name="/features")
    with pytest.raises(Exception, match="a class is a name or an index of at most 200 characters, got 5,000"):
        client.predict("", "9" * 5000, "gradcam", 0.5, None, api_name="/cam")
    marked = tmp_path / "<img src=x onerror=alert(1)>\u202egnp.pth"
    torch.save(build(parse_spec("resnet18:c10"), init_weights=False).state_dict(), marked)
    spec, model, weights = client.predict(handle_file(str(marked)), api_name="/open_checkpoint")
    notice, *_ = client.predict(spec, None, "cat", "file", handle_file(str(marked)), "cpu", "", 16, None,
                                api_name="/features")
    assert "<img" not in notice and "\u202e" not in notice and "img_src_x_onerror_alert_1" in notice


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_the_cli_never_replaces_a_file_unless_told_and_checks_before_making_folders(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n" * 1000)
    r = _cli("export", "resnet18", "-o", str(notes), cwd=tmp_path)
    assert r.returncode == 2 and "notes.md exists; pass --force to replace it" in r.stderr
    assert notes.read_text() == "my notes\n" * 1000
    r = _cli("export", "resnet18", "-o", str(notes), "--force", cwd=tmp_path)
    assert r.returncode == 0 and notes.read_text().startswith("```mermaid")
    cat = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"
    r = _cli("cam", "resnet18", str(cat), "--opacity", "5", "--out", str(tmp_path / "cams"), cwd=tmp_path)
    assert r.returncode == 2 and "--opacity must be from 0 to 1, got 5" in r.stderr and not (tmp_path / "cams").exists()
    out = tmp_path / "views"
    assert _cli("features", "resnet18", str(cat), "--out", str(out), cwd=tmp_path).returncode == 0
    again = _cli("features", "resnet18", str(cat), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 2 and "exists; pass --force to replace it" in again.stderr


@pytest.mark.parametrize("args, env, message", [
    (("summary", "missing.pth"), {}, "no such file: missing.pth"),
    (("summary", "folder.pth"), {}, "folder.pth is a folder"),
    (("weights", "download", "resnet18", "--timeout", "0"), {}, "the timeout must be a positive number of seconds"),
    (("features", "resnet18", "cat.jpg"), {"RESNET_EXPLORER_MAX_IMAGE_MP": "inf"},
     "RESNET_EXPLORER_MAX_IMAGE_MP must be a finite number, got inf"),
])
def test_cli_refusals_are_one_line_and_say_what_is_wrong(tmp_path: Path, args, env, message) -> None:
    (tmp_path / "folder.pth").mkdir()
    r = _cli(*args, cwd=tmp_path, env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("argv, env, message", [
    (["--port", "99999"], {}, "--port: must be a port number from 1 to 65535, got 99999"),
    ([], {"GRADIO_SERVER_PORT": "abc"}, "GRADIO_SERVER_PORT must be a port number from 1 to 65535, got 'abc'"),
    (["--max-upload-mb", "inf"], {}, "--max-upload-mb must be a finite number, got inf"),
    ([], {"RESNET_EXPLORER_MAX_CHECKPOINT_MB": "inf"}, "RESNET_EXPLORER_MAX_CHECKPOINT_MB must be a finite number"),
    (["--max-checkpoint-keys", "nan"], {}, "--max-checkpoint-keys must be a finite number, got nan"),
])
def test_app_flags_and_variables_out_of_range_exit_with_one_line(argv, env, message) -> None:
    r = subprocess.run([sys.executable, "app.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MALLOC_ARENA_MAX": "2", **env})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_limits_docs_list_every_limit() -> None:
    from dataclasses import fields

    from explorer.limits import Limits, env_name, flag_name

    readme = (ROOT / "docs" / "limits.md").read_text()  # the limits table
    for f in fields(Limits):
        assert f"`{env_name(f.name)}` / `{flag_name(f.name)}`" in readme, f.name
