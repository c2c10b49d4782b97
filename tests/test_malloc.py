"""explorer.malloc: after tune(), large activations come from the reusable heap, not fresh mappings (glibc)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = r"""
import json, sys
sys.path.insert(0, ".")
from explorer import malloc
tuned = malloc.tune() if sys.argv[1] == "tune" else None
import torch

def in_heap(address):
    for line in open("/proc/self/maps"):
        span, *rest = line.split()
        lo, hi = (int(a, 16) for a in span.split("-"))
        if lo <= address < hi:
            return rest[-1] == "[heap]"
    return False

big = torch.ones(10 * 2**20)  # 40 MiB: a large activation (e.g. a ResNet stem output at 1024 px)
print(json.dumps({"tuned": tuned, "in_heap": in_heap(big.data_ptr())}))
"""


def probe(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tune_keeps_large_activations_in_the_heap() -> None:
    # By default glibc gives each allocation over 32 MiB its own mapping, unmapped again on free, so every
    # forward pass faults its pages in afresh; tuned, they come from the heap, whose freed pages are reused.
    assert probe("plain") == {"tuned": None, "in_heap": False}
    assert probe("tune") == {"tuned": True, "in_heap": True}
