"""Redraw after a preset switch, measured in the browser (#15): Chromium on a real server process, the time
from the click on a preset in the picker to the next frame after the open tab shows the new model: the Graph
tab's blocks graph, or the Tables tab's block table. Every preset is visited once first (warmed), as a user
switching back and forth would have. Target: <= 0.15 s each; a bare server round trip (the model-source notice,
the lightest event the switch fires) is measured alongside as the floor.
"""
from __future__ import annotations

import shutil
import statistics

from explorer.structure.tables import block_rows, readable, stage_rows
from explorer.tracing.cache import structure_trace
from resnet import PRESETS, get_preset

from .load import _free_port, start_server

CYCLE = ["resnet50", "resnet18", "wide_resnet50_2", "resnet101", "resnet34", "resnet152"]

WATCH = """([kind, want]) => {
  window.__t0 = null; window.__ms = null;
  const resolve = (ms) => { window.__ms = ms; };
  const done = () => {
    if (kind === "graph") {
      const t = document.querySelector("#graph svg g.graph > title");
      return t && t.textContent === want;
    }
    const rows = document.querySelectorAll("#stage-table [role=row].virtual-row, #block-table [role=row].virtual-row");
    return Array.from(rows).map((r) => Array.from(r.querySelectorAll("[role=gridcell]"))
      .map((c) => c.textContent.trim()).join("|")).join("\\n").startsWith(want);
  };
  const obs = new MutationObserver(() => {
    if (window.__t0 === null || !done()) return;
    obs.disconnect();
    requestAnimationFrame(() => resolve(performance.now() - window.__t0));
  });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true});
  document.addEventListener("mousedown", (e) => {
    if (e.target.closest("ul.options, [role=listbox]")) window.__t0 = performance.now();
  }, {capture: true, once: true});
  setTimeout(() => { if (window.__ms === null) resolve(-1); }, 30000);
}"""


def _first_rows(spec: str) -> str:
    """The stage table's rows and the block table's first row, as the page shows them."""
    t = structure_trace(get_preset(spec))
    rows = [*readable(stage_rows(t)), readable(block_rows(t, 1))[0]]
    return "\n".join("|".join(str(c) for c in row) for row in rows)


def run(repeats: int = 3) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = start_server(port)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#totals >> text=16 blocks", timeout=60_000)
            for tab, kind in (("Graph", "graph"), ("Tables", "table")):
                page.get_by_role("tab", name=tab).click()
                samples: dict[str, list[float]] = {}
                for round_ in range(1 + max(1, repeats)):  # the first round warms every preset
                    for spec in CYCLE:
                        want = f"{spec}: blocks" if kind == "graph" else _first_rows(spec)
                        page.locator("#preset input").click()
                        page.evaluate(WATCH, [kind, want])
                        page.get_by_role("option", name=PRESETS[spec].title, exact=True).click()
                        ms = page.wait_for_function("window.__ms !== null", timeout=40_000).json_value()
                        ms = page.evaluate("window.__ms")
                        if round_ and ms >= 0:
                            samples.setdefault(spec, []).append(ms / 1000)
                med = {k: statistics.median(v) for k, v in samples.items()}
                rows.append({"benchmark": f"preset switch -> {kind} redrawn (browser)",
                             **{f"{k} (s)": round(v, 3) for k, v in med.items()},
                             "median (s)": round(statistics.median(med.values()), 3),
                             "worst (s)": round(max(med.values()), 3), "target": "<= 0.15 s"})
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows
