"""The CUDA checks, for a machine with a GPU: ``python scripts/gpu_check.py [OUT.json]``. Needs torch, numpy
and pillow only (so it runs on a bare CUDA image).

- trace and capture on CUDA agree with the CPU and give the model back where it was;
- the memory estimates (meta device) against what CUDA's allocator saw: the inference peak against
  ``torch.cuda.max_memory_allocated`` during a no_grad forward (minus the weights, plus the input, as the
  estimate counts it), and the training activations against a saved-tensors hook count on CUDA tensors.
  cuDNN's convolution workspaces go through the same allocator, so the CUDA peak is an upper bound: the
  ratio is reported, not asserted, beyond a sanity range.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from memory_probe import saved_for_backward  # noqa: E402

from explorer.capture import capture  # noqa: E402
from explorer.tracing import structure_trace, trace  # noqa: E402
from resnet import PRESETS, build, get_preset  # noqa: E402


def check_trace_and_capture() -> dict:
    model = build(get_preset("resnet50"))
    t = trace(model, input_size=224, device="cuda")
    assert t.device.startswith("cuda") and next(model.parameters()).device.type == "cpu"
    assert t.blocks == structure_trace(get_preset("resnet50")).blocks
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    cpu, gpu = capture(model.eval(), x), capture(model, x, device="cuda")
    assert gpu.device.startswith("cuda") and next(model.parameters()).device.type == "cpu"
    worst = max(abs(b.residual_ratio - a.residual_ratio) / a.residual_ratio for a, b in zip(cpu.blocks, gpu.blocks))
    assert worst < 1e-2, worst
    return {"trace_on_cuda": "ok", "capture_on_cuda_worst_relative_difference": worst}


def check_cam_and_other_models() -> dict:
    """Class maps on CUDA equal the CPU's; timm's and torchvision's models trace on CUDA as on the meta device."""
    from explorer.features.cam import cam_run
    from explorer.models import parse_model

    torch.manual_seed(0)
    model = build(get_preset("resnet50")).eval()
    x = torch.randn(1, 3, 224, 224)
    out = {}
    for tf32 in (True, False):  # Hopper's TF32 convolutions (PyTorch's default for cuDNN) round to 10 bits
        torch.backends.cudnn.allow_tf32 = tf32
        cpu, gpu = cam_run(model, x, target=3), cam_run(model, x, target=3, device="cuda")
        for method in ("gradcam", "gradcam++", "layercam", "eigencam"):
            worst = max(float(abs(cpu.cam(b, method) - gpu.cam(b, method)).max()
                              / max(abs(cpu.cam(b, method)).max(), 1e-12)) for b in cpu.blocks)
            out[f"cam {method} cuda vs cpu, worst relative difference{' (tf32)' if tf32 else ''}"] = worst
    torch.backends.cudnn.allow_tf32 = True
    assert next(model.parameters()).device.type == "cpu" and gpu.device.startswith("cuda")
    try:
        import timm

        for name in ("resnet50d", "seresnext26d_32x4d"):
            t = trace(timm.create_model(name).eval(), input_size=224, device="cuda")
            assert t.blocks == structure_trace(parse_model(f"timm:{name}")).blocks, name
        out["timm_trace_on_cuda"] = "ok"
    except ImportError:
        out["timm_trace_on_cuda"] = "timm not installed"
    return out


def cuda_inference_peak(model: torch.nn.Module, x: torch.Tensor) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()  # weights and the input
    with torch.no_grad():
        model(x)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base + x.numel() * x.element_size()


def check_memory(batches: tuple[int, ...] = (1, 8, 32)) -> list[dict]:
    rows = []
    for name, preset in PRESETS.items():
        estimate = structure_trace(preset.config, 224).memory
        model = build(preset.config, device="cuda", init_weights=False).eval()
        for batch in batches:
            x = torch.zeros(batch, 3, 224, 224, device="cuda")
            cuda_inference_peak(model, x)  # cuDNN picks its algorithms on the first call
            peak = cuda_inference_peak(model, x)
            saved = saved_for_backward(model, x)
            rows.append({
                "model": name, "batch": batch,
                "inference peak, estimate": estimate.inference_peak_bytes(batch), "cuda max allocated": peak,
                "cuda / estimate": round(peak / estimate.inference_peak_bytes(batch), 4),
                "training activations, estimate": estimate.training_activations_bytes(batch),
                "saved on cuda": saved, "saved / estimate": round(saved / estimate.training_activations_bytes(batch), 4),
            })
            print(json.dumps(rows[-1]), flush=True)
        del model
        torch.cuda.empty_cache()
    return rows


def check_other_libraries() -> list[dict]:
    """torchvision's and timm's ResNet-50 (when installed) against the estimate of ours: the same layers."""
    rows = []
    estimate = structure_trace(get_preset("resnet50"), 224).memory
    makers = []
    try:
        import torchvision
        makers.append(("torchvision resnet50", lambda: torchvision.models.resnet50()))
    except ImportError:
        pass
    try:
        import timm
        makers.append(("timm resnet50", lambda: timm.create_model("resnet50")))
    except ImportError:
        pass
    for name, make in makers:
        model = make().cuda().eval()
        x = torch.zeros(8, 3, 224, 224, device="cuda")
        saved = saved_for_backward(model, x)
        cuda_inference_peak(model, x)
        rows.append({"model": name, "batch": 8, "saved / estimate": round(saved / estimate.training_activations_bytes(8), 4),
                     "cuda peak / estimate": round(cuda_inference_peak(model, x) / estimate.inference_peak_bytes(8), 4)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA GPU"
    start = time.perf_counter()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, **check_trace_and_capture()}
    report.update(check_cam_and_other_models())
    report["memory"] = check_memory()
    report["other libraries"] = check_other_libraries()
    report["seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(report, indent=1)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    print(text[:2000])


if __name__ == "__main__":
    main()
