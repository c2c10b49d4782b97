// One selected block across every view. This component shows the selection (its value carries the block and
// the model's block names); clicks and keys anywhere on the page that name a block send it to the server, which
// answers with the inspector, the pickers and the plots. The graph and the tables are highlighted here.
const state = () => {
  const el = element.querySelector("[data-block]");
  return { block: el ? el.dataset.block : "", blocks: el ? el.dataset.blocks.split(" ") : [] };
};
const select = (name) => { if (name && name !== state().block) trigger("block_select", { block: name }); };

// "layer2.0", "layer2.0:add", "layer2.0.conv1", "cluster_layer2.0", "layer2.1-layer2.3" -> the block
const blockOf = (text) => {
  const t = (text || "").trim().replace(/^cluster_/, "");
  let best = "";
  for (const b of state().blocks) {
    if ((t === b || (t.startsWith(b) && /[.:\- ]/.test(t[b.length] || ""))) && b.length > best.length) best = b;
  }
  return best;
};
const titleOf = (el) => {
  for (let n = el; n && n !== document.body; n = n.parentElement) {
    const t = Array.from(n.children || []).find((c) => c.tagName && c.tagName.toLowerCase() === "title");
    if (t && blockOf(t.textContent)) return blockOf(t.textContent);
    if (n.id === "graph") break;
  }
  return "";
};
const rowBlock = (row) => blockOf(((row.querySelector("[role=gridcell], td") || {}).textContent || "").trim().split(" ")[0]);

const paint = () => {
  const { block } = state();
  document.querySelectorAll("#graph svg title").forEach((t) => {
    const g = t.parentElement, name = blockOf(t.textContent);
    if (!name || !g || g.tagName.toLowerCase() === "svg" || g.classList.contains("edge")) return;
    const on = name === block;
    g.classList.toggle("rx-selected", on);
    if (!g.hasAttribute("tabindex") && g.classList.contains("node")) {  // named by its <title>: the block
      g.setAttribute("tabindex", "0"); g.setAttribute("role", "button");
    }
  });
  document.querySelectorAll("#block-table [role=row], #analytics-table [role=row]").forEach((row) => {
    row.classList.toggle("rx-selected-row", !!block && rowBlock(row) === block);
  });
  // projection shortcuts are orange in every view: the block table's downsample column too
  document.querySelectorAll('#block-table [role=gridcell][data-col="5"]').forEach((cell) => {
    cell.classList.toggle("rx-projection", !/^\s*identity\s*$/.test(cell.textContent));
  });
  document.querySelectorAll("[data-select]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.select === block)));
};

const bindPlots = () => {
  document.querySelectorAll("#channel-plot .js-plotly-plot, #fm-network .js-plotly-plot").forEach((div) => {
    if (div.dataset.rxBound || typeof div.on !== "function") return;
    div.dataset.rxBound = "1";
    div.on("plotly_click", (d) => { const p = d && d.points && d.points[0]; if (p) select(blockOf(String(p.x))); });
  });
};

if (!window.rxSelectionBound) {  // one set of page-wide listeners, however often the component mounts
  window.rxSelectionBound = true;
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("[data-select]");
    if (button) { select(button.dataset.select); return; }
    if (e.target.closest && e.target.closest("#graph .rx-stage")) { const b = titleOf(e.target); if (b) select(b); }
  }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") document.body.classList.remove("rx-inspector-open");  // the inspector's panel closes
    if ((e.key === "Enter" || e.key === " ") && e.target.closest && e.target.closest("#graph svg")) {
      const b = titleOf(e.target); if (b) { e.preventDefault(); select(b); }
    }
  });
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; paint(); bindPlots(); });
  }).observe(document.body, { childList: true, subtree: true });
}
watch("value", paint);
paint();
