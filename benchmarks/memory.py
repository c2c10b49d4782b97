"""Memory (#11): structure work on the meta device, side by side with the materialised trace it replaced.

- every preset: the old structure trace (a zero-weight CPU model, one real forward) against today's (the meta
  device, plus the two meta passes that measure memory); ratio new / old.
- the largest config the controls allow (bottleneck 64-64-64-64, 64 groups × 256 wide: 935 GiB of weights):
  every structure view from cold caches. Target <= 2 s.
- memory figures for ResNet-152 from an existing trace (dict, rows, figure at batch 32). Target <= 0.05 s.
- (#12) inferring the architecture of a ResNet-152 state dict, after the file is read. Target <= 0.2 s.
"""
from __future__ import annotations

from explorer.models import model_of_checkpoint
from explorer.structure.figures import memory_figure
from explorer.structure.memory import memory_dict, memory_rows
from explorer.structure.views import _structure_views, structure_views
from explorer.tracing import structure_trace, trace
from explorer.tracing.cache import _structure_trace
from resnet import PRESETS, build, get_preset, parse_spec

from .common import cold_median, median_times

LARGEST = "bottleneck:64-64-64-64:64x256d"


def _clear() -> None:
    _structure_views.cache_clear()
    _structure_trace.cache_clear()


def run(repeats: int = 5) -> list[dict]:
    structure_views(get_preset("resnet18"))  # first-call costs (meta kernels, plotly) out of the way
    rows = []
    for name, preset in PRESETS.items():
        times = median_times({
            "materialised": lambda: trace(build(preset.config, init_weights=False), input_size=224),
            "meta + memory": lambda: _structure_trace.__wrapped__(preset.config, 224),
        }, repeats=repeats)
        rows.append({"benchmark": "structure trace", "model": name,
                     "materialised, old (s)": round(times["materialised"], 4),
                     "meta + memory, new (s)": round(times["meta + memory"], 4),
                     "new / old": round(times["meta + memory"] / times["materialised"], 3)})
    config = parse_spec(LARGEST)
    largest = cold_median(lambda: structure_views(config), _clear, max(1, repeats // 2))
    rows.append({"benchmark": "structure views, largest slider config", "model": LARGEST,
                 "first time (s)": round(largest, 3), "target": "<= 2 s"})
    t = structure_trace(get_preset("resnet152"))
    figures = median_times({"estimates": lambda: (memory_dict(t, 32), memory_rows(t, 32), memory_figure(t, 32))},
                           repeats=repeats)
    rows.append({"benchmark": "memory figures from a trace", "model": "resnet152",
                 "dict + rows + figure (s)": round(figures["estimates"], 5), "target": "<= 0.05 s"})
    state = build(get_preset("resnet152"), init_weights=False).state_dict()
    infer = median_times({"infer": lambda: model_of_checkpoint(state)}, repeats=repeats)
    rows.append({"benchmark": "checkpoint architecture", "model": "resnet152 state dict",
                 "inferred (s)": round(infer["infer"], 5), "target": "<= 0.2 s"})
    return rows
