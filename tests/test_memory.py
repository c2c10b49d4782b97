"""Memory (#11): structure work on the meta device, memory estimates against real runs, and the largest config
the controls allow through the library, the CLI and every app endpoint without exhausting memory."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from memory_probe import inference_peak, saved_for_backward

from explorer.features.store import FeatureStore
from explorer.limits import Limits, ModelTooLarge
from explorer.structure.memory import memory_dict, memory_rows
from explorer.tracing import structure_trace, trace
from resnet import IMAGENET_PRESETS, build, get_preset, parse_spec

ROOT = Path(__file__).resolve().parent.parent
LARGEST = "bottleneck:64-64-64-64:64x256d"  # every slider at its maximum: ~250 G parameters, 935 GiB of weights
EXAMPLE = ROOT / "resnet_explorer" / "assets" / "examples" / "cat.jpg"
MiB = 2 ** 20


@pytest.mark.parametrize("spec", [*IMAGENET_PRESETS, "basic:1-2-3-1", "bottleneck:2-1-2-1:32x4d:v1:dil011:c10"])
def test_meta_trace_equals_a_materialised_trace(spec: str) -> None:
    """Shapes, parameters and MACs from the meta device are exactly those of a real forward pass."""
    config = parse_spec(spec)
    for size in (224, 97):
        meta = structure_trace(config, size)
        real = trace(build(config, init_weights=False), input_size=size)
        assert meta.device == "meta" and real.device == "cpu" and real.memory is None
        assert replace(meta, device="cpu", memory=None) == real


@pytest.mark.parametrize("name", list(IMAGENET_PRESETS))
def test_memory_estimates_match_real_runs(name: str) -> None:
    config = get_preset(name)
    estimate = structure_trace(config, 224).memory
    model = build(config, init_weights=False)
    x = torch.zeros(1, 3, 224, 224)
    assert saved_for_backward(model, x) == pytest.approx(estimate.training_activations_bytes(), rel=0.02)
    assert inference_peak(model, x) == pytest.approx(estimate.inference_peak_bytes(), rel=0.05)
    state = model.state_dict()
    assert estimate.weights_bytes() == sum(t.numel() * t.element_size() for t in state.values())
    assert estimate.weights_bytes("fp16") == sum(t.numel() * (2 if t.is_floating_point() else t.element_size())
                                                 for t in state.values())


@pytest.mark.parametrize("spec, size, batch", [("resnet18", 160, 3), ("bottleneck:1-2-1-1:v1:dil011", 128, 2)])
def test_memory_scales_with_batch_and_input_size(spec: str, size: int, batch: int) -> None:
    estimate = structure_trace(parse_spec(spec), size).memory
    model = build(parse_spec(spec), init_weights=False)
    x = torch.zeros(batch, 3, size, size)
    assert saved_for_backward(model, x) == pytest.approx(estimate.training_activations_bytes(batch), rel=0.02)
    assert inference_peak(model, x) == pytest.approx(estimate.inference_peak_bytes(batch), rel=0.05)


def test_a_block_s_training_activations_are_what_its_layers_save() -> None:
    """layer1.1 of ResNet-50 (identity shortcut, 56×56, width 64, 256 out): each BN saves its conv's output,
    each ReLU its BN's output (in place), the last ReLU the block output; plus each BN's two batch statistics."""
    part = structure_trace(get_preset("resnet50"), 224).memory.part("layer1.1")
    assert part.saved == (64 + 64 + 64 + 64 + 256 + 256) * 56 * 56 * 4
    assert part.saved_fixed == 2 * (64 + 64 + 256) * 4
    assert part.training(8) == 8 * part.saved + part.saved_fixed


def test_memory_views_add_up() -> None:
    t = structure_trace(get_preset("resnet50"), 224)
    d = memory_dict(t, 4)
    assert d["batch_size"] == 4 and len(d["parts"]) == len(t.blocks) + 2
    assert sum(s["weights_bytes"] for s in d["stages"]) == d["weights_bytes"] == t.memory.weights_bytes()
    assert sum(p["training_activations_bytes"] for p in d["parts"]) == d["training_activations_bytes"]
    assert max(s["inference_peak_bytes"] for s in d["stages"]) == d["inference_peak_bytes"] == 4 * 11841536
    rows = memory_rows(t, 4)
    assert [r[0] for r in rows] == ["stem", "layer1", "layer2", "layer3", "layer4", "head", "total"]
    with pytest.raises(ValueError, match="batch size must be a whole number from 1 to 65536, got 0"):
        memory_dict(t, 0)


def test_feature_run_above_the_model_limit_is_refused_before_building(monkeypatch) -> None:
    import explorer.features.store as store

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(store, "real_model", no_build)
    with pytest.raises(ModelTooLarge, match=r"^this model needs 97.7 MiB of weights; the limit is 50 MiB \(raise it "
                                            r"with RESNET_EXPLORER_MAX_MODEL_MB, or --max-model-mb for app.py\)$"):
        FeatureStore(Limits(max_model_mb=50)).run_image(get_preset("resnet50"), EXAMPLE)
    with pytest.raises(ModelTooLarge, match=r"needs 109 MiB at 224 px \(97.7 MiB of weights \+ 11.3 MiB of "
                                            r"activations\); the limit is 100 MiB"):
        FeatureStore(Limits(max_model_mb=100)).run_image(get_preset("resnet50"), EXAMPLE)


PEAK_SCRIPT = textwrap.dedent("""
    import json, sys
    from resnet import parse_spec
    from explorer.tracing import structure_trace
    from explorer.structure.views import structure_views, compare_views
    from explorer.structure.figures import memory_figure
    from explorer.graph.export import export_bytes

    def status(key):
        return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) * 1024

    structure_views(parse_spec("resnet18"))  # imports and first-call costs out of the way
    export_bytes(parse_spec("resnet18"), "dot")
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak
    before = status("VmRSS:")
    config = parse_spec(sys.argv[1])
    structure_views(config); memory_figure(structure_trace(config), 64); compare_views(config, parse_spec("resnet50"))
    sizes = {fmt: len(export_bytes(config, fmt, level=level))
             for fmt, level in (("json", "blocks"), ("csv", "blocks"), ("dot", "layers"), ("dot", "ops"))}
    print(json.dumps({"growth": status("VmHWM:") - before, "params": structure_trace(config).total_params}))
""")


def test_largest_config_structure_work_allocates_nothing_of_the_model() -> None:
    """Tables, views, compare and every graph source of the largest config: peak RSS growth under 200 MB."""
    r = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, LARGEST], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["params"] == 250_876_086_056
    assert out["growth"] < 200 * MiB, f"peak RSS grew by {out['growth'] / MiB:.0f} MiB"


def _cli(*args: str, limit_gb: int = 8) -> subprocess.CompletedProcess[str]:
    """The CLI under an address-space cap, so an attempt to allocate the model fails instead of swapping."""
    cap = f"ulimit -v {limit_gb * 2**20}; exec {sys.executable} -m explorer " + " ".join(args)
    return subprocess.run(["bash", "-c", cap], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_largest_config() -> None:
    r = _cli("summary", LARGEST, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["total_params"] == 250_876_086_056
    assert d["memory"]["weights_bytes"] > 900 * 2**30 and len(d["memory"]["parts"]) == 258
    for args in (("summary", LARGEST, "--device", "cpu"), ("features", LARGEST, str(EXAMPLE))):
        r = _cli(*args)
        assert r.returncode == 2
        assert r.stderr.startswith("error: this model needs 935 GiB of weights; the limit is 2 GiB (raise it with "
                                   "RESNET_EXPLORER_MAX_MODEL_MB"), r.stderr
        assert len(r.stderr.splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int, key: str) -> int:
    return int(next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if ln.startswith(key)).split()[1]) * 1024


def test_app_largest_config_every_endpoint(tmp_path: Path) -> None:
    """A separate server (so its memory is its own): every endpoint answers the largest config, or refuses it
    with the specific message; never an allocator error; the server stays up; its peak RSS stays bounded."""
    from gradio_client import Client

    port = _free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp_path / "server.log"
    server = subprocess.Popen(["bash", "-c", f"ulimit -v {16 * 2**20}; exec {sys.executable} app.py --port {port}"],
                              cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        client = None
        for _ in range(120):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
                break
            except Exception:  # noqa: BLE001 - not up yet, whatever the client says
                assert server.poll() is None, log.read_text()[-2000:]
                time.sleep(0.5)
        assert client is not None
        client.predict("resnet18", 224, 1, api_name="/summarize")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        before = _status(server.pid, "VmRSS:")
        totals, stages, blocks, memory = client.predict(LARGEST, 224, 8, api_name="/summarize")
        assert "250,876,086,056" in totals and "935 GiB fp32" in totals
        assert len(blocks["data"]) == 256 and memory["data"][-1][0] == "total"
        assert len(client.predict(LARGEST, 224, 1, api_name="/structure")) == 6
        client.predict(LARGEST, 224, "resnet50", api_name="/compare")
        for level in ("stages", "blocks", "layers", "ops"):
            assert "<svg" in client.predict(LARGEST, 224, level, "TB", False, api_name="/graph")
        for fmt in ("svg", "pdf", "dot", "json", "csv"):
            assert Path(client.predict(LARGEST, 224, "blocks", "TB", False, 96, api_name=f"/export_{fmt}")).stat().st_size
        try:  # a PNG of 256 blocks may be over the pixel limit: then the refusal says so
            assert Path(client.predict(LARGEST, 224, "blocks", "TB", False, 96, api_name="/export_png")).stat().st_size
        except Exception as exc:  # noqa: BLE001 - the refusal, as gradio_client raises it
            assert "a PNG at 96 dpi would be" in str(exc)
        with pytest.raises(Exception, match=r"this model needs 935 GiB of weights; the limit is 2 GiB"):
            client.predict(LARGEST, None, "cat", "random", None, "cpu", "", 16, api_name="/features")
        growth = _status(server.pid, "VmHWM:") - before
        assert server.poll() is None
        totals, *_ = client.predict("resnet50", 224, 1, api_name="/summarize")  # still serving
        assert "25,557,032" in totals
        assert growth < 400 * MiB, f"the server's peak RSS grew by {growth / MiB:.0f} MiB"
        assert "alloc" not in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
