"""Models from files (#21): an ONNX ResNet-50 (exported here from torchvision, not timed) from its file to the
first table (read, converted by onnx2torch, traced on the meta device, the stage and block rows), from cold
caches each time (target <= 2 s); a torch.export program the same way; against a bare forward pass of the
converted model on the CPU."""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import torch

from explorer import sources
from explorer.models import parse_model
from explorer.structure.tables import block_rows, readable, stage_rows
from explorer.tracing import cache, structure_trace

from .common import median_times


def _export(folder: Path) -> tuple[Path, Path]:
    import torchvision

    model = torchvision.models.resnet50().eval()
    x = torch.randn(1, 3, 224, 224)
    onnx_path, pt2_path = folder / "resnet50.onnx", folder / "resnet50.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(onnx_path), dynamo=False, opset_version=17)
    torch.export.save(torch.export.export(model, (x,)), str(pt2_path))
    return onnx_path, pt2_path


def _first_table(path: Path) -> None:
    sources._LOADED.clear()
    cache._structure_trace.cache_clear()
    model = sources.open_model_file(path, 1 << 30)
    t = structure_trace(parse_model(model.spec), 224)
    readable(stage_rows(t)), readable(block_rows(t, 1))


def run(repeats: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, pt2_path = _export(Path(tmp))
        converted = sources.open_model_file(onnx_path, 1 << 30).build()
        x = torch.randn(1, 3, 224, 224)

        def bare() -> None:
            with torch.no_grad():
                converted(x)

        times = median_times({"bare forward (converted)": bare, "ONNX file -> first table": lambda: _first_table(onnx_path),
                              ".pt2 file -> first table": lambda: _first_table(pt2_path)}, repeats=max(3, repeats // 2))
    return [{"benchmark": "model files", "model": "resnet50", **{f"{k} (s)": round(v, 3) for k, v in times.items()},
             "target": "ONNX -> first table <= 2 s"}]
