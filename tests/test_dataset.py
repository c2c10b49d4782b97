"""Dataset runs (#23): per-channel statistics and top images over a generated labelled folder with bad files,
against a direct computation in the test (its own hooks, numpy); an interrupted run resumes to the same files;
the Ray engine on a real two-node cluster (``ray.cluster_utils.Cluster``) writes the same files as the local one,
also when one of its workers is killed mid-run; the CLI's files read back with pandas."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.dataset import DatasetError, DatasetJob, run_dataset
from explorer.dataset.tally import ShardResult, Tally
from explorer.dataset.stats import reduce_batch
from explorer.lesion.study import Study
from resnet import Preprocess, build, parse_spec

ROOT = Path(__file__).resolve().parent.parent
PRE = Preprocess(64, 64)
K = 3
BAD = {"cats/empty.jpg": "the file is empty", "dogs/notes.png": "not an image we can read",
       "dogs/cut.jpg": "damaged or truncated"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir()
        for i in range(6):
            a = (rng.random((50 + 9 * i, 70 + 5 * i, 3)) * 255).astype(np.uint8)
            Image.fromarray(a).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    Image.fromarray((rng.random((40, 60)) * 255).astype(np.uint8), "L").save(root / "dogs" / "gray.png")
    (root / "cats" / "empty.jpg").write_bytes(b"")
    (root / "dogs" / "notes.png").write_text("not an image")
    (root / "dogs" / "cut.jpg").write_bytes((root / "dogs" / "0.jpg").read_bytes()[:300])
    return root


def _job(folder: Path, out: Path, **kw) -> DatasetJob:
    return DatasetJob(parse_spec("resnet18"), folder, out, preprocess=PRE, top_k=K, batch_size=4, workers=0, **kw)


def _direct(folder: Path) -> tuple[dict, list[str]]:
    """Every block's output for every readable image, one image at a time, from the test's own hooks."""
    torch.manual_seed(0)  # the run's random weights: seed 0, as the feature maps take them
    model = build(parse_spec("resnet18")).eval()
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    outputs: dict[str, list[np.ndarray]] = {}
    used = []
    blocks = {f"layer{s}.{i}": getattr(model, f"layer{s}")[i] for s in range(1, 5) for i in range(2)}
    hooks = [m.register_forward_hook(lambda _m, _i, o, n=n: outputs.setdefault(n, []).append(o[0].numpy().copy()))
             for n, m in blocks.items()]
    try:
        for f in files:
            if f in BAD:
                continue
            x = PRE(Image.open(folder / f))
            with torch.no_grad():
                model(x)
            used.append(f)
    finally:
        for h in hooks:
            h.remove()
    return outputs, used


def test_statistics_and_top_images_equal_a_direct_computation(folder: Path, tmp_path: Path) -> None:
    import pandas as pd

    summary = run_dataset(_job(folder, tmp_path / "run"))
    outputs, used = _direct(folder)
    assert summary["images"] == 16 and summary["images_used"] == len(used) == 13
    assert summary["classes"] == ["cats", "dogs"]
    skipped = {s["file"]: s["reason"] for s in summary["skipped"]}
    assert skipped.keys() == BAD.keys() and all(BAD[f] in r for f, r in skipped.items())
    channels = pd.read_csv(tmp_path / "run" / "channels.csv")
    top = pd.read_csv(tmp_path / "run" / "top.csv")
    for block, maps in outputs.items():
        a = np.stack(maps)  # N×C×H×W
        got = channels[channels.block == block].sort_values("channel")
        assert np.allclose(got["mean"], a.mean(axis=(0, 2, 3)), rtol=1e-4, atol=1e-6)
        assert np.allclose(got["std"], a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1).std(axis=1, ddof=1),
                           rtol=1e-3, atol=1e-6)
        assert np.allclose(got["max"], a.max(axis=(0, 2, 3)), rtol=1e-4, atol=1e-5)
        assert np.allclose(got["active_fraction"], (a > 0).mean(axis=(0, 2, 3)), atol=1e-6)
        assert list(got["dead"]) == list(a.max(axis=(0, 2, 3)) <= 0)
        peaks = a.reshape(*a.shape[:2], -1).max(axis=2)  # N×C: each image's spatial maximum per channel
        for c in (0, 5, a.shape[1] - 1):
            order = np.argsort(-peaks[:, c], kind="stable")[:K]
            rows = top[(top.block == block) & (top.channel == c)].sort_values("rank")
            assert list(rows["image"]) == [used[i] for i in order]
            assert np.allclose(rows["value"], peaks[order, c], rtol=1e-4, atol=1e-5)
            for (_, row), i in zip(rows.iterrows(), order):
                flat = a[i, c].argmax()
                assert (row["y"], row["x"]) == divmod(int(flat), a.shape[3])


def test_an_interrupted_run_resumes_to_the_same_files(folder: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    run_dataset(_job(folder, whole))

    def stop_after_two(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt

    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        run_dataset(_job(folder, part), stop_after_two)
    assert not (part / "channels.csv").exists()
    assert sorted(f.name for f in (part / "partials").iterdir()) == ["tally.npz"]  # one merged file, not one per shard
    assert Tally(part, K).next == 2
    seen = []
    run_dataset(_job(folder, part), lambda done, total: seen.append(done))
    assert seen[0] == 8  # it started where it stopped
    for name in ("channels.csv", "top.csv", "channels.parquet", "top.parquet"):
        assert (part / name).read_bytes() == (whole / name).read_bytes()
    with pytest.raises(DatasetError, match="holds a run with another model"):
        run_dataset(DatasetJob(parse_spec("resnet34"), folder, part, preprocess=PRE, top_k=K, batch_size=4, workers=0))
    with pytest.raises(DatasetError, match="holds a run with another preprocessing"):
        run_dataset(DatasetJob(parse_spec("resnet18"), folder, part, preprocess=Preprocess(72, 64), top_k=K,
                               batch_size=4, workers=0))


def test_shards_done_out_of_order_wait_and_merge_in_order(tmp_path: Path) -> None:
    """As the Ray engine's shards come: one after a gap waits (saved as its own file while it waits), the tally
    read back continues, and the end is the in-order merge."""
    y = torch.relu(torch.randn(12, 5, 4, 6, generator=torch.Generator().manual_seed(1)))
    results = [ShardResult.of(["b"], {"b": reduce_batch(y[i:i + 4], K, list(range(i, i + 4)))}, 4, [(99, "why")])
               for i in (0, 4, 8)]
    tally = Tally(tmp_path, K, every=1e9)
    tally.add(2, results[2])
    tally.add(0, results[0])
    assert tally.next == 1 and tally.done(2) and not tally.done(1)
    tally.save()
    assert sorted(f.name for f in (tmp_path / "partials").iterdir()) == ["shard_000002.npz", "tally.npz"]
    again = Tally(tmp_path, K, every=1e9)
    assert again.next == 1 and sorted(again.waiting) == [2]
    again.add(0, results[0])  # given twice: once
    again.add(1, results[1])
    again.save()
    assert again.next == 3 and sorted(f.name for f in (tmp_path / "partials").iterdir()) == ["tally.npz"]
    whole = reduce_batch(y, K, list(range(12)))
    merged = Tally(tmp_path, K).merged
    assert merged.used == 12 and merged.skipped == [(99, "why")] * 3 and merged.channels == [5]
    assert np.allclose(merged.part.sum, whole.sum) and np.allclose(merged.part.m2, whole.m2, rtol=1e-9)
    for f in ("count", "max", "positive", "top_value", "top_image", "top_y", "top_x"):
        assert np.array_equal(getattr(merged.part, f), getattr(whole, f)), f


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A real Ray cluster of two nodes on this machine, one CPU each."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    pids = tmp_path_factory.mktemp("ray") / "actors.txt"
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "RESNET_EXPLORER_RAY_PIDS": str(pids)}})
    try:
        yield c, pids
    finally:
        ray.shutdown()
        c.shutdown()


def test_the_ray_engine_on_a_two_node_cluster_writes_the_local_engines_files(folder: Path, tmp_path: Path,
                                                                             cluster) -> None:
    import ray

    c, _ = cluster
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    study = Study(remove_k=2, repeats=1)  # and a lesion study (#24): the same numbers from the actors' replays
    run_dataset(_job(folder, tmp_path / "local", threads=1, lesion=study))
    summary = run_dataset(_job(folder, tmp_path / "ray", engine="ray", ray_address=c.address, threads=1, lesion=study))
    assert summary["engine"] == "ray" and summary["images_used"] == 13
    assert summary["accuracy"] is None and summary["labels"].startswith("no labels: 2 class folders for 1000")
    for name in ("channels.csv", "top.csv", "channels.parquet", "top.parquet", "lesion.csv", "lesion_k.csv"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    # --device cuda: the driver plans on its CPU (a cluster's head often has no GPU); a cluster without GPUs refuses
    with pytest.raises(DatasetError, match="--device cuda: this Ray cluster has no GPU"):
        run_dataset(_job(folder, tmp_path / "gpu", engine="ray", ray_address=c.address, device="cuda"))
    with pytest.raises(DatasetError, match="--engine ray runs on CPUs and CUDA GPUs"):
        run_dataset(_job(folder, tmp_path / "mps", engine="ray", ray_address=c.address, device="mps"))


def test_a_worker_killed_mid_run_still_ends_with_the_same_files(folder: Path, tmp_path: Path, cluster) -> None:
    c, pids = cluster
    run_dataset(_job(folder, tmp_path / "local", threads=1))
    pids.write_text("")
    killed: list[int] = []

    def kill_an_actor() -> None:
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            found = [int(p) for p in pids.read_text().split()] if pids.exists() else []
            if found:
                time.sleep(2)  # while it works
                try:
                    os.kill(found[0], signal.SIGKILL)
                    killed.append(found[0])
                except ProcessLookupError:
                    pass
            time.sleep(0.2)

    t = threading.Thread(target=kill_an_actor)
    t.start()
    job = _job(folder, tmp_path / "ray", engine="ray", ray_address=c.address, threads=1)
    try:
        run_dataset(job)
    except Exception:  # noqa: BLE001 - Ray gave up on the lost work: the same command continues it
        run_dataset(job)
    t.join()
    assert killed
    for name in ("channels.csv", "top.csv", "channels.parquet", "top.parquet"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_the_cli_writes_files_pandas_reads(folder: Path, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "explorer", "dataset", "resnet18", str(folder), "--out", str(out),
                        "--resize", "64", "--crop", "64", "--top-k", "2", "--batch-size", "8", "--workers", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "images/s" in r.stderr and "over 13 images" in r.stdout and "skipped 3" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["preprocessing"]["crop_size"] == 64 and summary["engine"] == "local"
    channels = pd.read_csv(out / "channels.csv")
    assert list(channels.columns) == ["block", "channel", "mean", "std", "max", "active_fraction", "dead"]
    assert channels.dtypes["dead"] == np.dtype(bool) and len(channels) == 2 * (64 + 128 + 256 + 512)
    top = pd.read_csv(out / "top.csv")
    assert list(top.columns) == ["block", "channel", "rank", "image", "value", "y", "x"]
    assert set(top["rank"]) == {1, 2} and not set(top["image"]) & {s["file"] for s in summary["skipped"]}
    for name, table in (("channels", channels), ("top", top)):  # the same tables as Parquet (pyarrow: installed)
        assert f"wrote {out / (name + '.parquet')}" in r.stdout and f"{name}.parquet" in summary["files"]
        typed = pd.read_parquet(out / f"{name}.parquet")
        assert list(typed.columns) == list(table.columns) and len(typed) == len(table)
        for column in table.columns:
            if table[column].dtype.kind == "f":  # (the CSV's nine digits; Parquet keeps the float32 value)
                assert np.allclose(typed[column], table[column], rtol=1e-8, atol=0, equal_nan=True), column
            else:
                assert list(typed[column]) == list(table[column]), column
    assert typed.dtypes["y"] == np.int32 and pd.read_parquet(out / "channels.parquet").dtypes["dead"] == np.dtype(bool)
    csv = (out / "top.csv").read_bytes()
    blocked = ("import runpy, sys; sys.modules['pyarrow'] = None; sys.argv = ['explorer', *sys.argv[1:]]; "
               "runpy.run_module('explorer', run_name='__main__')")  # (without pyarrow: as an app install)
    again = subprocess.run([sys.executable, "-c", blocked, *r.args[3:]], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "parquet" not in again.stdout and not list(out.glob("*.parquet"))  # (none stale beside the CSVs)
    assert (out / "top.csv").read_bytes() == csv
    assert json.loads((out / "summary.json").read_text())["files"] == ["summary.json", "channels.csv", "top.csv"]
    bad = subprocess.run([sys.executable, "-m", "explorer", "dataset", "resnet18", str(folder), "--out", str(out),
                          "--top-k", "0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--top-k must be a whole number of at least 1, got 0" in bad.stderr
    big = subprocess.run([sys.executable, "-m", "explorer", "dataset", "resnet18", str(folder), "--out", str(out),
                          "--crop", "5000"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert big.returncode == 2 and "the crop must be 32 to 1024 px, got 5000" in big.stderr
    assert "Traceback" not in big.stderr and len(big.stderr.strip().splitlines()) == 1
