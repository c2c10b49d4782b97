// Wheel to zoom (around the pointer), drag to pan, double-click or "fit" to reset.
// Runs once per graph component; the SVG inside is replaced on every update, the state is kept here.
const st = { s: 1, x: 0, y: 0, drag: null };
const view = () => element.querySelector(".rx-viewport");
const apply = () => { const v = view(); if (v) v.style.transform = `translate(${st.x}px, ${st.y}px) scale(${st.s})`; };
const fit = () => {
  const v = view(), box = element.querySelector(".rx-stage"), svg = v && v.querySelector("svg");
  if (!svg || !box) return;
  const w = svg.width.baseVal.value || svg.getBBox().width, h = svg.height.baseVal.value || svg.getBBox().height;
  st.s = Math.min(1, box.clientWidth / w);  // fit the width; tall graphs pan vertically
  st.x = Math.max(0, (box.clientWidth - w * st.s) / 2); st.y = 0; apply();
};
const zoomAt = (k, mx, my) => {
  const ns = Math.min(16, Math.max(0.02, st.s * k));
  st.x = mx - (mx - st.x) * ns / st.s; st.y = my - (my - st.y) * ns / st.s; st.s = ns; apply();
};
element.addEventListener("wheel", (e) => {
  if (!view()) return;
  e.preventDefault();
  const r = element.querySelector(".rx-stage").getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
}, { passive: false });
element.addEventListener("mousedown", (e) => {
  if (e.target.closest(".rx-toolbar")) return;
  st.drag = [e.clientX - st.x, e.clientY - st.y]; e.preventDefault();
});
window.addEventListener("mousemove", (e) => { if (st.drag) { st.x = e.clientX - st.drag[0]; st.y = e.clientY - st.drag[1]; apply(); } });
window.addEventListener("mouseup", () => { st.drag = null; });
element.addEventListener("dblclick", fit);
element.addEventListener("click", (e) => {
  const b = e.target.closest("[data-zoom]");
  if (!b) return;
  const box = element.querySelector(".rx-stage");
  if (b.dataset.zoom === "fit") fit(); else zoomAt(b.dataset.zoom === "in" ? 1.25 : 0.8, box.clientWidth / 2, box.clientHeight / 2);
});
new MutationObserver(() => { const v = view(); if (v && v.dataset.fitted !== "1") { v.dataset.fitted = "1"; fit(); } })
  .observe(element, { childList: true, subtree: true });
fit();
