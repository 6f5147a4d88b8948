// Filter the catalog cards by vendor, image-to-image support and largest size.
"use strict";
(() => {
  const vendor = document.getElementById("filter-vendor");
  const img2img = document.getElementById("filter-img2img");
  const size = document.getElementById("filter-size");
  const count = document.getElementById("filter-count");
  const cards = Array.from(document.querySelectorAll("#model-cards .card"));
  const pixels = (text) => text.split("x").reduce((a, b) => a * Number(b), 1);
  const apply = () => {
    let shown = 0;
    for (const card of cards) {
      const visible = (!vendor.value || card.dataset.vendor === vendor.value)
        && (!img2img.value || card.dataset.img2img === img2img.value)
        && pixels(card.dataset.maxSize) >= Number(size.value);
      card.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent = `${shown} of ${cards.length} models`;
  };
  for (const control of [vendor, img2img, size]) control.addEventListener("change", apply);
  document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  apply();
})();
