"""The dataset statistics' reductions (#23) against float64 numpy computed in the test: the CPU's compiled pass
on every memory layout and dtype a block's output comes in, torch's reductions (the GPU's path, run here on the
CPU), a channel whose mean is large against its spread (where E[x²] − E[x]² in float32 loses every digit), ties
and all-zero channels (the first position, as argmax), and partials merged in any split equal the whole."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from explorer.dataset.kernels import Pairs, cpu_pairs
from explorer.dataset.stats import channel_columns, combine, device_pairs, reduce_batch

K = 3


def _outputs(n: int = 5, c: int = 6, h: int = 7, w: int = 9) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    y = torch.relu(torch.randn(n, c, h, w, generator=g))
    y[:, 1] = 0  # dead
    y[:, 2] = 1000 + 0.01 * torch.rand(n, h, w, generator=g)  # a large mean, a tiny spread
    y[:, 3] = torch.randint(0, 3, (n, h, w), generator=g).float()  # ties at the maximum
    y[:, 4] -= 0.5  # negatives: positives are not the nonzero values
    return y


def _reference(y: np.ndarray) -> dict[str, np.ndarray]:
    a = y.astype(np.float64)
    n, c, h, w = a.shape
    flat = a.reshape(n, c, -1)
    return {"sum": flat.sum(2), "m2": ((flat - flat.mean(2, keepdims=True)) ** 2).sum(2), "max": flat.max(2),
            "argmax": flat.argmax(2), "positive": (flat > 0).sum(2)}


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided", "float64", "half", "nan",
                                    "nan_channels_last"])
@pytest.mark.parametrize("path", ["cpu", "device"])
def test_pairs_equal_numpy_in_float64(layout: str, path: str) -> None:
    y = _outputs()
    if layout == "channels_last":
        y = y.contiguous(memory_format=torch.channels_last)
    elif layout == "strided":
        y = torch.cat([y, y], dim=3)[..., ::2]
        assert not y.is_contiguous() and not y.is_contiguous(memory_format=torch.channels_last)
    elif layout == "float64":
        y = y.double()
    elif layout == "half":
        y = y.to(torch.bfloat16)
    elif layout.startswith("nan"):  # (a broken checkpoint's outputs): NaN wherever numpy's float64 makes it
        if layout.endswith("channels_last"):
            y = y.contiguous(memory_format=torch.channels_last)
        y[0, 0, 3, 4] = y[0, 0, 5, 1] = y[1, 5, 0, 0] = y[2, 3, 6, 8] = float("nan")
    ref = _reference(y.float().numpy() if layout == "half" else y.numpy())
    got = cpu_pairs(y, threads=2) if path == "cpu" else device_pairs(y)
    assert np.allclose(got.sum, ref["sum"], rtol=1e-6, atol=1e-6, equal_nan=True)
    assert np.allclose(got.m2, ref["m2"], rtol=1e-6, atol=1e-9, equal_nan=True)
    assert np.allclose(got.m2[:, 2], ref["m2"][:, 2], rtol=1e-6)  # (all 1000 in bfloat16: 0)
    assert np.array_equal(got.max, ref["max"].astype(got.max.dtype), equal_nan=True)
    assert np.array_equal(got.argmax, ref["argmax"]) and np.array_equal(got.positive, ref["positive"])


@pytest.fixture(params=["numba", "numpy"])
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The compiled kernels, or numpy's and torch's (what a machine without Numba runs)."""
    from explorer.dataset import kernels as k

    if request.param == "numpy":
        monkeypatch.setattr(k, "_KERNELS", k.Kernels(None, None, k.combine_numpy, k.merge_top_numpy))
    return request.param


def test_partials_merged_in_any_split_equal_the_whole(kernels: str) -> None:
    y = _outputs(n=7)
    a = y.numpy().astype(np.float64)
    images = list(range(10, 17))
    whole = reduce_batch(y, K, images)
    for cuts in ([3], [1, 4], [2, 3, 6]):
        edges = [0, *cuts, 7]
        parts = [reduce_batch(y[lo:hi], K, images[lo:hi], threads=2) for lo, hi in zip(edges, edges[1:])]
        merged = functools.reduce(lambda a, b: a.merge(b, K), parts)
        assert np.allclose(merged.sum, whole.sum) and np.allclose(merged.m2, whole.m2, rtol=1e-9)
        for f in ("count", "max", "positive", "top_value", "top_image", "top_y", "top_x"):
            assert np.array_equal(getattr(merged, f), getattr(whole, f)), f
    cols = channel_columns("b", whole)
    per_channel = a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)
    assert np.allclose(cols["mean"], per_channel.mean(1), rtol=1e-9)
    assert np.allclose(cols["std"], per_channel.std(1, ddof=1), rtol=1e-6)
    assert list(cols["dead"]) == list(per_channel.max(1) <= 0)
    peaks = a.reshape(7, a.shape[1], -1).max(2)
    for c in range(a.shape[1]):
        order = np.argsort(-peaks[:, c], kind="stable")[:K]
        assert list(whole.top_image[c]) == [images[i] for i in order]
        assert [divmod(int(a[i, c].argmax()), a.shape[3]) for i in order] == list(zip(whole.top_y[c], whole.top_x[c]))


@pytest.mark.parametrize("n", [9, 40])  # (≤ 32 images ranked by counting, more by insertion)
def test_a_batch_combined_keeps_its_best_images_as_a_stable_argsort(n: int, kernels: str) -> None:
    rng = np.random.default_rng(n)
    c, h, w, k = 6, 3, 5, 7
    peak = rng.standard_normal((n, c)).astype(np.float32)
    peak[:, 1] = 2.0  # all tied
    peak[::3, 2] = np.nan  # NaN goes last, as numpy sorts it
    peak[rng.random((n, c)) < 0.3] = 0.5  # ties among others
    pairs = Pairs(rng.standard_normal((n, c)) * 10, rng.random((n, c)), peak, rng.integers(0, h * w, (n, c)),
                  rng.integers(0, h * w, (n, c)))
    images = list(range(100, 100 + n))
    got = combine(pairs, k, images, h, w)
    order = np.argsort(-peak, axis=0, kind="stable")[:k].T  # C×k
    assert np.array_equal(got.top_image, np.asarray(images)[order])
    assert np.array_equal(got.top_value, np.take_along_axis(peak.T, order, axis=1), equal_nan=True)
    where = np.take_along_axis(pairs.argmax.T, order, axis=1)
    assert np.array_equal(got.top_y, where // w) and np.array_equal(got.top_x, where % w)
    assert np.allclose(got.sum, pairs.sum.sum(0)) and np.array_equal(got.positive, pairs.positive.sum(0))
    assert np.array_equal(got.max, peak.max(0), equal_nan=True)
    # m2 of the batch: each image's own, and its mean's spread about the batch's mean
    means = pairs.sum / (h * w)
    spread = ((means - pairs.sum.sum(0) / (n * h * w)) ** 2).sum(0) * h * w
    assert np.allclose(got.m2, pairs.m2.sum(0) + spread, rtol=1e-12)
    # and merged with another batch, the best of both (a stable argsort of the two lists, this one first)
    other = combine(pairs, k, [i + n for i in images], h, w)
    merged = got.merge(other, k)
    both = np.concatenate([got.top_value, other.top_value], axis=1)
    pick = np.argsort(-both, axis=1, kind="stable")[:, :k]
    assert np.array_equal(merged.top_image, np.take_along_axis(np.concatenate([got.top_image, other.top_image], 1), pick, 1))
    assert np.array_equal(merged.top_value, np.take_along_axis(both, pick, 1), equal_nan=True)


HIDE_NUMBA = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'numba':
            raise ModuleNotFoundError("No module named 'numba' (hidden by the test)")
sys.meta_path.insert(0, Hide())
"""


def test_a_run_without_numba_writes_the_same_tables(tmp_path) -> None:
    """Numba is optional: a dataset run on a machine without it (hidden here) writes the same top images and
    the same statistics to float rounding."""
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "images" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / cls / f"{i}.png")
    outs = {}
    for name, prelude in (("numba", ""), ("numpy", HIDE_NUMBA)):
        outs[name] = tmp_path / name
        script = prelude + (f"from explorer.cli import main; from explorer.dataset import kernels\n"
                            f"code = main(['dataset', 'basic:1-1-1-1', {str(tmp_path / 'images')!r}, '--out', "
                            f"{str(outs[name])!r}, '--crop', '32', '--batch-size', '4', '--workers', '0', '--top-k', '3'])\n"
                            f"print('compiled' if kernels.load().positions_last else 'numpy'); sys.exit(code)")
        r = subprocess.run([sys.executable, "-c", "import sys\n" + script], cwd=Path(__file__).resolve().parent.parent,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.strip().splitlines()[-1] == ("compiled" if name == "numba" else "numpy")
    top = [pd.read_csv(outs[n] / "top.csv") for n in ("numba", "numpy")]
    assert top[0][["block", "channel", "rank", "image", "y", "x"]].equals(top[1][["block", "channel", "rank", "image", "y", "x"]])
    assert np.allclose(top[0]["value"], top[1]["value"], rtol=1e-6)
    channels = [pd.read_csv(outs[n] / "channels.csv") for n in ("numba", "numpy")]
    for column in ("mean", "std", "max", "active_fraction"):
        assert np.allclose(channels[0][column], channels[1][column], rtol=1e-6, atol=1e-9), column
    assert channels[0]["dead"].equals(channels[1]["dead"])
