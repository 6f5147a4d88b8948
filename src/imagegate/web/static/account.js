// The account page: balance, 30 days of spend and images, recent requests, images with valid URLs.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const errorBox = $("error");

  const cell = (row, text, code, label) => {
    const td = document.createElement("td");
    if (label) td.dataset.label = label;
    if (code) { const c = document.createElement("code"); c.textContent = text; td.append(c); } else td.textContent = text;
    row.append(td);
  };

  const showImages = (images) => {
    const box = $("my-images");
    box.textContent = "";
    if (!images.length) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "Nothing yet: no images with a valid URL. Generate some in the playground.";
      box.append(empty);
      return;
    }
    for (const image of images) {
      const figure = document.createElement("figure");
      const zoom = document.createElement("a");
      zoom.className = "zoom";
      zoom.href = image.url;
      zoom.dataset.zoom = "";
      const img = document.createElement("img");
      img.src = image.url;
      img.alt = `${image.model} image ${image.id}`;
      img.loading = "lazy";
      zoom.append(img);
      const caption = document.createElement("figcaption");
      const link = document.createElement("a");
      link.href = image.url;
      link.download = "";
      link.textContent = "Download";
      const expires = new Date(image.expires * 1000).toISOString().slice(0, 16).replace("T", " ");
      caption.append(`${image.model} · ${image.size} · URL valid until ${expires} UTC `, link);
      figure.append(zoom, caption);
      box.append(figure);
    }
  };

  const load = async () => {
    errorBox.hidden = true;
    if (!imagegateKey.get()) return;
    try {
      const [{ data: account }, { data: activity }] = await Promise.all([imagegateApi("/v1/account"), imagegateApi("/v1/account/activity")]);
      $("balance-value").textContent = imagegateUsd(account.balance_micros);
      $("held-value").textContent = imagegateUsd(account.held_micros);
      $("key-value").textContent = `${account.key.mode} key ${account.key.id}`;
      imagegateChart($("spend-chart"), activity.days);
      imagegateChart($("images-chart"), activity.days);
      showImages(activity.images);
      const body = $("recent").querySelector("tbody");
      body.textContent = "";
      for (const r of activity.recent) {
        const row = document.createElement("tr");
        cell(row, r.time.slice(0, 19).replace("T", " "), false, "Time");
        cell(row, r.error_code ? `${r.status} ${r.error_code}` : String(r.status), false, "Status");
        cell(row, r.model || "—", Boolean(r.model), "Model");
        cell(row, r.size || "—", false, "Size");
        cell(row, `${r.delivered}/${r.n ?? "—"}`, false, "Images");
        cell(row, imagegateUsd(r.cost_micros), false, "Cost");
        cell(row, r.block_category || "—", false, "Block");
        body.append(row);
      }
      if (!activity.recent.length) {
        const row = document.createElement("tr");
        const td = document.createElement("td");
        td.colSpan = 7;
        td.className = "empty";
        td.textContent = "Nothing yet: no requests in the last 30 days.";
        row.append(td);
        body.append(row);
      }
    } catch (error) {
      imagegateShowError(errorBox, error);
    }
  };
  imagegateKey.onChange(() => { errorBox.hidden = true; load(); });
  load();
})();
