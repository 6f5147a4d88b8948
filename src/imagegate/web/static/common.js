// On every page: copy buttons, tab lists, the section menu's current entry, and the lightbox.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.textContent).then(done, () => selectText(source));
  } else {
    selectText(source);
    button.textContent = "Selected: press Ctrl+C";
  }
});

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

for (const list of document.querySelectorAll("[role=tablist]")) {
  const tabs = Array.from(list.querySelectorAll("[role=tab]"));
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    tab.focus();
  };
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    if (event.key === "ArrowRight") select(tabs[(index + 1) % tabs.length]);
    else if (event.key === "ArrowLeft") select(tabs[(index - 1 + tabs.length) % tabs.length]);
    else return;
    event.preventDefault();
  });
}

// The section menu marks the section being read (aria-current), as the reader scrolls.
(() => {
  const links = Array.from(document.querySelectorAll("nav.toc a[href^='#']"));
  if (!links.length || !("IntersectionObserver" in window)) return;
  const byId = new Map(links.map((a) => [a.getAttribute("href").slice(1), a]));
  const visible = new Set();
  const mark = () => {
    const first = Array.from(byId.keys()).find((id) => visible.has(id));
    for (const [id, a] of byId) {
      if (id === first) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
    }
  };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) visible.add(entry.target.id); else visible.delete(entry.target.id);
    }
    mark();
  }, { rootMargin: "-10% 0px -55% 0px" });
  for (const id of byId.keys()) {
    const section = document.getElementById(id);
    if (section) observer.observe(section);
  }
})();

// A thumbnail link (a[data-zoom]) opens its image full size in the lightbox; without script it
// opens the file itself.
function imagegateZoom(href, alt) {
  const dialog = document.getElementById("lightbox");
  if (!dialog || typeof dialog.showModal !== "function") { window.open(href, "_blank", "noopener"); return; }
  const image = document.getElementById("lightbox-image");
  image.src = href;
  image.alt = alt || "";
  document.getElementById("lightbox-open").href = href;
  dialog.showModal();
  document.getElementById("lightbox-close").focus();
}
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-zoom]");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    const img = link.querySelector("img");
    imagegateZoom(link.href, img ? img.alt : "");
    return;
  }
  const dialog = document.getElementById("lightbox");
  if (dialog && dialog.open && (event.target === dialog || event.target.id === "lightbox-close")) dialog.close();
});
