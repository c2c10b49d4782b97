"""The load benchmark at a small size: a real server process, concurrent gradio_client users, all served."""
from __future__ import annotations

from benchmarks import load


def test_concurrent_users_all_served() -> None:
    (row,) = load.run(users=3, rounds=2)
    assert row["failed"] == 0, row.get("failures")
    assert row["requests"] == 3 * 2 * 5 and "graph (ops) p50/p95 (s)" in row and "cam p50/p95 (s)" in row
    assert row["p95 (s)"] < 60
    assert len(row["RSS by round (MiB)"]) == 2 and row["peak RSS (MiB)"] > 0
