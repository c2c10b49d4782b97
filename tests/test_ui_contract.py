"""The UI's public contract stays as it was recorded before app.py became the ``ui`` package (#20): the same
named endpoints with the same parameters in the same order, and every ``elem_id`` the browser tests and
``assets/selection.js`` hold on to (tests/data/ui_contract.json)."""
from __future__ import annotations

import json
from pathlib import Path

CONTRACT = json.loads((Path(__file__).parent / "data" / "ui_contract.json").read_text())


def test_named_endpoints_and_their_parameters_are_unchanged(client) -> None:
    info = client.view_api(print_info=False, return_format="dict")
    got = {name: [p["parameter_name"] for p in e["parameters"]] for name, e in info["named_endpoints"].items()}
    assert len(got) == 22
    assert got == CONTRACT["endpoints"]


def test_every_elem_id_is_still_on_the_page(client) -> None:
    ids = {c.get("props", {}).get("elem_id") for c in client.config["components"]}
    missing = sorted(set(CONTRACT["elem_ids"]) - ids)
    assert not missing, f"elem_ids gone from the page: {missing}"
