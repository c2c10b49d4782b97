() => {
  // Accessibility fixes for Gradio's own widgets, applied as they mount (axe-core checks the page in the tests):
  // - an upload area's aria-label ("Click to upload or drop files") leaves out its visible text: name it by it;
  // - an empty output's placeholder <div aria-label="Empty value"> needs a role for its label: an image;
  // - an image output's enlarge button has no name: name it after the component's label.
  const fix = () => {
    document.querySelectorAll("button.upload-container[aria-label]").forEach((b) => {
      const text = b.innerText.replace(/\s+/g, " ").trim();
      if (text && b.getAttribute("aria-label") !== text) b.setAttribute("aria-label", text);
    });
    document.querySelectorAll("div.empty[aria-label]:not([role])").forEach((d) => d.setAttribute("role", "img"));
    document.querySelectorAll(".image-container button:not([aria-label])").forEach((b) => {
      const block = b.closest(".block");
      const label = block && block.querySelector("[data-testid=block-label]");
      b.setAttribute("aria-label", `enlarge: ${label ? label.innerText.trim() : "image"}`);
    });
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fix(); });
  }).observe(document.body, { childList: true, subtree: true });
  fix();
}
