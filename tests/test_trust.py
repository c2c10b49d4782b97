"""Model files as data (#33): no layout of a ``.pt2`` runs code, no ONNX tensor reads a server file, no config
allocates what it describes before it is measured. The files are built here, in the layouts the loaders accept;
each case is given to the library and to the CLI."""
from __future__ import annotations

import io
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

from badfiles import Exploit
from explorer.limits import Limits
from explorer.sources import SourceError, open_model_file
from explorer.trust import FORCE, weights_only_loads

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 512 * 2**20


def _small() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()


def _pt(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_module=pickle)
    return buffer.getvalue()


def legacy_pt2(path: Path, evil_member: str | None, marker: Path) -> Path:
    """A program in torch.export's top-level layout (2.7 and before), one pickled member replaced by ``Exploit``."""
    from torch._export.serde.schema import SCHEMA_VERSION
    from torch._export.serde.serialize import serialize

    art = serialize(torch.export.export(_small(), (torch.randn(1, 3, 8, 8),)))
    members = {"serialized_state_dict.pt": art.state_dict, "serialized_constants.pt": art.constants,
               "serialized_example_inputs.pt": art.example_inputs}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("version", ".".join(map(str, SCHEMA_VERSION)))
        z.writestr("serialized_exported_program.json", art.exported_program)
        for name, data in members.items():
            z.writestr(name, _pt({"x": Exploit(marker)}) if name == evil_member else data)
    return path


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


LEGACY = ("serialized_state_dict.pt", "serialized_constants.pt", "serialized_example_inputs.pt")


@pytest.mark.parametrize("member", LEGACY)
def test_a_legacy_pt2_runs_no_code_in_the_library_or_the_cli(tmp_path: Path, member: str) -> None:
    marker = tmp_path / "MARKER"
    path = legacy_pt2(tmp_path / "evil.pt2", member, marker)
    with pytest.raises(SourceError, match=f"holds pickled objects \\({member}\\) that are not plain tensors"):
        open_model_file(path, LIMIT)
    r = _cli("summary", str(path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "could run code" in r.stderr, r.stderr[-800:]
    assert not marker.exists(), "the pickle ran"
    # The unvetted loader itself, under the guard: torch's fallback to weights_only=False reads weights only too.
    with weights_only_loads(), pytest.raises(Exception):
        torch.export.load(str(path))
    assert not marker.exists() and os.environ.get(FORCE) is None  # (the guard lifted after the block)


def test_a_clean_legacy_pt2_still_opens(tmp_path: Path) -> None:
    path = legacy_pt2(tmp_path / "ok.pt2", None, tmp_path / "MARKER")
    model = open_model_file(path, LIMIT)
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(model.build()(x), _small()(x))


def test_compiled_code_and_custom_objects_in_a_pt2_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.pt2"
    torch.export.save(torch.export.export(_small(), (torch.randn(1, 3, 8, 8),)), str(good))
    for extra, message in (("data/aotinductor/model/model.so", "compiled code, other runtimes"),
                           ("data/constants/custom_obj_0", "holds a custom object"),
                           ("data/constants/opaque_obj_0", "holds a custom object")):
        bad = tmp_path / f"{Path(extra).name}.pt2"
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
            top = src.namelist()[0].split("/", 1)[0]
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            dst.writestr(f"{top}/{extra}", b"\x7fELF" + b"\0" * 64)
        with pytest.raises(SourceError, match=message):
            open_model_file(bad, LIMIT)


def test_the_app_and_cli_processes_are_guarded() -> None:
    """Any torch.load in the CLI's process reads weights only, even one that asks for more."""
    code = ("import os, explorer.cli as c; c.guard_process(); import torch, io, pickle, sys; sys.path.insert(0, 'tests');"
            "from badfiles import Exploit; b = io.BytesIO(); torch.save(Exploit(__import__('pathlib').Path("
            f"'{tempfile.gettempdir()}/rx-guard-marker')), b, pickle_module=pickle); b.seek(0)\n"
            "try:\n torch.load(b, weights_only=False)\nexcept Exception as e: print('refused', type(e).__name__)")
    marker = Path(tempfile.gettempdir()) / "rx-guard-marker"
    marker.unlink(missing_ok=True)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "refused UnpicklingError" in r.stdout, r.stderr[-800:]
    assert not marker.exists()


# ---- ONNX ------------------------------------------------------------------------------------------------------

def _onnx_model(tmp_path: Path):
    import onnx

    path = tmp_path / "small.onnx"
    torch.onnx.export(_small(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, opset_version=17)
    return onnx.load(str(path))


def _external(name: str, location: str):
    import onnx

    t = onnx.TensorProto(name=name, data_type=onnx.TensorProto.UINT8, dims=[1])
    t.data_location = onnx.TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", location
    return t


def _with_constant(model, tensor):
    import onnx

    model.graph.node.insert(0, onnx.helper.make_node("Constant", [], ["c_out"], value=tensor))
    return model


def _onnx_cases(tmp_path: Path, location: str) -> dict:
    import onnx

    _external_at = lambda name: _external(name, location)  # noqa: E731
    cases = {}
    cases["a Constant node's value"] = _with_constant(_onnx_model(tmp_path), _external_at("c"))
    m = _onnx_model(tmp_path)
    sparse = onnx.SparseTensorProto(values=_external_at("sv"), indices=onnx.helper.make_tensor("si", onnx.TensorProto.INT64,
                                                                                            [1], [0]), dims=[4])
    m.graph.sparse_initializer.append(sparse)
    cases["a sparse initialiser"] = m
    m = _onnx_model(tmp_path)
    then = onnx.helper.make_graph([onnx.helper.make_node("Constant", [], ["t"], value=_external_at("t"))], "then", [],
                                  [onnx.helper.make_tensor_value_info("t", onnx.TensorProto.UINT8, [1])])
    other = onnx.helper.make_graph([onnx.helper.make_node("Constant", [], ["e"], value=onnx.helper.make_tensor(
        "e", onnx.TensorProto.UINT8, [1], [0]))], "else", [], [onnx.helper.make_tensor_value_info(
            "e", onnx.TensorProto.UINT8, [1])])
    m.graph.node.append(onnx.helper.make_node("Constant", [], ["cond"], value=onnx.helper.make_tensor(
        "cond", onnx.TensorProto.BOOL, [], [True])))
    m.graph.node.append(onnx.helper.make_node("If", ["cond"], ["if_out"], then_branch=then, else_branch=other))
    cases["a subgraph"] = m
    m = _onnx_model(tmp_path)
    m.graph.initializer[0].CopyFrom(_external_at(m.graph.initializer[0].name))
    cases["an initialiser"] = m
    return cases


def test_no_onnx_tensor_reads_a_server_file(tmp_path: Path) -> None:
    """Every place an ONNX model holds a tensor, marked as external data naming a file that exists (app.py) and
    one that does not: the same refusal, so nothing about the server's files can be learnt."""
    import onnx

    for label in _onnx_cases(tmp_path, "app.py"):
        messages = set()
        for location in ("app.py", "no-such-file.bin"):
            model = _onnx_cases(tmp_path, location)[label]
            path = tmp_path / f"{label.replace(' ', '_').replace(chr(39), '')}.onnx"
            onnx.save_model(model, str(path))
            with pytest.raises(SourceError) as info:
                open_model_file(path, LIMIT)
            messages.add(str(info.value).replace(path.name, "FILE"))
        assert len(messages) == 1 and "separate files (ONNX external data)" in messages.pop(), label
    r = _cli("summary", str(path))
    assert r.returncode == 2 and "ONNX external data" in r.stderr and r.stderr.count("\n") == 1


def test_an_onnx_graph_of_too_many_nodes_is_refused_before_it_is_converted(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    n = 100_000
    nodes = [helper.make_node("Relu", [f"x{i}"], [f"x{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(nodes, "relus", [helper.make_tensor_value_info("x0", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(f"x{n}", onnx.TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "relus.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SourceError, match="has over 20,000 nodes"):
        open_model_file(path, LIMIT)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 400 * 1024  # KiB: no conversion ran
    with pytest.raises(SourceError, match="has over 50 nodes"):
        open_model_file(tmp_path / "relus.onnx", LIMIT, limits=Limits(max_graph_nodes=50))
    r = _cli("summary", str(path), env={"RESNET_EXPLORER_MAX_GRAPH_NODES": "1000"})
    assert r.returncode == 2 and "has over 1,000 nodes" in r.stderr


# ---- Hugging Face ------------------------------------------------------------------------------------------------

def hf_bomb(folder: Path) -> Path:
    """A 449-byte-class Hugging Face folder: a config that describes a huge ResNet, an empty safetensors file."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "resnet", "hidden_sizes": [8192] * 4,
                                                    "depths": [3, 4, 6, 3], "embedding_size": 64}))
    save_file({}, str(folder / "model.safetensors"))
    return folder


def test_a_config_is_measured_before_the_model_it_describes_is_built(tmp_path: Path) -> None:
    folder = hf_bomb(tmp_path / "bomb")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SourceError, match="config.json describes .* GiB of weights, over the 1 GiB limit"):
        open_model_file(folder, 2**30)
    with pytest.raises(SourceError, match="but model.safetensors holds .*: they do not belong together"):
        open_model_file(folder, 2**30, limits=Limits(max_checkpoint_mb=100_000))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500 * 1024  # KiB: nothing allocated
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    unpacked = set(Path(tempfile.gettempdir()).glob("resnet-explorer-hf-*"))
    with pytest.raises(SourceError, match="config.json describes"):
        open_model_file(archive, 2**30)
    assert set(Path(tempfile.gettempdir()).glob("resnet-explorer-hf-*")) == unpacked  # the refused zip left nothing
    r = _cli("summary", str(folder))
    assert r.returncode == 2 and "config.json describes" in r.stderr and r.stderr.count("\n") == 1


def test_a_dataset_run_takes_a_batch_its_memory_allows(tmp_path: Path) -> None:
    """A run whose batch would pass --max-model-mb at its crop takes the largest batch that fits (the numbers
    are the same: shards merge exactly), and says so; one image over the limit is refused before anything runs."""
    import numpy as np
    from PIL import Image

    from explorer.dataset import DatasetJob, run_dataset
    from explorer.dataset.folder import preprocessing
    from explorer.dataset.run import run_memory
    from explorer.limits import ModelTooLarge
    from resnet import parse_spec

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(6):
        Image.fromarray((rng.random((80, 80, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    model, pre = parse_spec("resnet18"), preprocessing(96, 96)
    weights, two = run_memory(model, 96, 2, False)
    limit = Limits(max_model_mb=(weights + two + 1) / 2**20)  # two images fit, four do not
    assert sum(run_memory(model, 96, 4, False)) > limit.model_bytes
    small = run_dataset(DatasetJob(model, tmp_path / "images", tmp_path / "small", preprocess=pre, batch_size=16,
                                   workers=0, limits=limit))
    assert small["batch_size"] == 2 and small["batch_lowered_from"] == 16
    whole = run_dataset(DatasetJob(model, tmp_path / "images", tmp_path / "whole", preprocess=pre, batch_size=16,
                                   workers=0))
    assert whole["batch_size"] == 16 and "batch_lowered_from" not in whole
    import pandas as pd

    a, b = (pd.read_csv(tmp_path / run / "channels.csv") for run in ("small", "whole"))
    assert (a[["block", "channel", "dead"]] == b[["block", "channel", "dead"]]).all().all()
    assert np.allclose(a[["mean", "std", "max", "active_fraction"]], b[["mean", "std", "max", "active_fraction"]],
                       rtol=1e-5, atol=1e-6)
    with pytest.raises(ModelTooLarge, match="this run needs .* for one 96 px image, over the"):
        run_dataset(DatasetJob(model, tmp_path / "images", tmp_path / "none", preprocess=pre, workers=0,
                               limits=Limits(max_model_mb=(weights + two / 4) / 2**20)))
    assert not (tmp_path / "none").exists()
