// The account page's image library: GET /v1/images with the tab's key, searched by the words of the
// prompt, a page at a time; a lightbox with the prompt and facts, Delete, and "Open in playground"
// (which hands the request to the playground through this tab's session storage, never in a URL).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 24;
  const PREFILL = "imagegate.prefill";  // read once by playground.js
  const grid = $("library-grid");
  const status = $("library-status");
  const more = $("library-more");
  const dialog = $("library-lightbox");
  const confirmBox = $("library-confirm");
  let search = { query: "", model: "" };
  let after = null;
  let token = 0;  // answers to an older search are dropped
  let shown = null;  // the image in the lightbox

  const when = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "—");

  const figureOf = (image) => {
    const figure = document.createElement("figure");
    figure.dataset.id = image.id;
    const open = document.createElement("a");
    open.className = "library-open";
    open.href = image.url;
    const img = document.createElement("img");
    img.src = image.thumbnail_url || image.url;
    img.alt = image.prompt || `${image.model || "Image"} ${image.id}`;
    img.loading = "lazy";
    open.append(img);
    open.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      show(image);
    });
    const caption = document.createElement("figcaption");
    const prompt = document.createElement("p");
    prompt.className = "library-caption";
    prompt.textContent = image.prompt || "(prompt not kept)";
    const facts = document.createElement("p");
    facts.className = "meta";
    facts.textContent = `${image.model || "—"} · ${image.size || "—"} · ${imagegateUsd(image.cost_micros || 0)}`;
    caption.append(prompt, facts);
    figure.append(open, caption);
    return figure;
  };

  const fact = (list, label, value) => {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    div.append(dt, dd);
    list.append(div);
  };

  const show = (image) => {
    shown = image;
    confirmBox.hidden = true;
    $("library-image").src = image.url;
    $("library-image").alt = image.prompt || "";
    $("library-file").href = image.url;
    $("library-download").href = image.url;
    $("library-prompt").textContent = image.prompt || "(prompt not kept)";
    const revised = $("library-revised");
    revised.hidden = !image.revised_prompt || image.revised_prompt === image.prompt;
    revised.textContent = `Revised by the model: ${image.revised_prompt || ""}`;
    const facts = $("library-facts");
    facts.textContent = "";
    fact(facts, "Model", image.model || "—");
    fact(facts, "Size", image.size || "—");
    fact(facts, "Quality", image.quality || "—");
    fact(facts, "Format", image.output_format);
    fact(facts, "Cost", imagegateUsd(image.cost_micros || 0));
    fact(facts, "Created", when(image.created));
    fact(facts, "URL valid until", when(image.expires));
    $("library-play").disabled = !image.prompt;
    if (typeof dialog.showModal === "function") dialog.showModal(); else window.open(image.url, "_blank", "noopener");
    $("library-close").focus();
  };

  const close = () => { if (dialog.open) dialog.close(); };

  const load = async (fresh) => {
    const mine = ++token;
    if (fresh) { after = null; grid.textContent = ""; more.hidden = true; }
    if (!imagegateKey.get()) { status.textContent = "Enter a key to see your images."; grid.textContent = ""; more.hidden = true; return; }
    status.textContent = "Loading…";
    grid.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (search.query) params.set("query", search.query);
    if (search.model) params.set("model", search.model);
    if (after) params.set("after", after);
    try {
      const { data } = await imagegateApi(`/v1/images?${params}`);
      if (mine !== token) return;
      for (const image of data.data) grid.append(figureOf(image));
      after = data.last_id;
      more.hidden = !data.has_more;
      const count = grid.children.length;
      status.textContent = count
        ? `${count} image${count === 1 ? "" : "s"}${search.query ? ` whose prompt has “${search.query}”` : ""}${data.has_more ? ", more below" : ""}.`
        : search.query || search.model
          ? "No image matches: every word must begin a word of the prompt."
          : "Nothing yet: images you generate as URLs appear here until their URL expires.";
    } catch (error) {
      if (mine !== token) return;
      status.textContent = `The library could not be read: ${error.message} (${error.code}).`;
    } finally {
      if (mine === token) grid.removeAttribute("aria-busy");
    }
  };

  $("library-search").addEventListener("submit", (event) => {
    event.preventDefault();
    search = { query: $("library-query").value.trim(), model: $("library-model").value };
    load(true);
  });
  more.addEventListener("click", () => load(false));
  $("library-close").addEventListener("click", close);
  dialog.addEventListener("click", (event) => { if (event.target === dialog) close(); });

  $("library-play").addEventListener("click", () => {
    if (!shown) return;
    const { model, prompt, size, quality, output_format } = shown;
    sessionStorage.setItem(PREFILL, JSON.stringify({ model, prompt, size, quality, output_format }));
    location.assign("/playground");
  });
  $("library-delete").addEventListener("click", () => { confirmBox.hidden = false; $("library-delete-no").focus(); });
  $("library-delete-no").addEventListener("click", () => { confirmBox.hidden = true; $("library-delete").focus(); });
  $("library-delete-yes").addEventListener("click", async () => {
    if (!shown) return;
    const image = shown;
    try {
      await imagegateApi(`/v1/images/${encodeURIComponent(image.id)}`, { method: "DELETE" });
    } catch (error) {
      confirmBox.hidden = true;
      status.textContent = `Not deleted: ${error.message} (${error.code}).`;
      return;
    }
    close();
    const figure = grid.querySelector(`figure[data-id="${image.id}"]`);
    if (figure) figure.remove();
    status.textContent = "Deleted: the image and its URL are gone.";
  });

  imagegateApi("/v1/models").then(({ data }) => {
    const select = $("library-model");
    for (const model of data.data) select.append(new Option(model.id, model.id));
  }, () => {});  // without the list, "All models" still works
  imagegateKey.onChange(() => load(true));
  load(true);
})();
