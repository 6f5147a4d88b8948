// The playground: controls from the model's capabilities, a quote before each generation, the images after.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("gen-form");
  const fields = { model: $("f-model"), size: $("f-size"), n: $("f-n"), quality: $("f-quality"), style: $("f-style"), format: $("f-format"), compression: $("f-compression"), prompt: $("f-prompt") };
  const quoteBox = $("quote");
  const errorBox = $("error");
  const results = $("results");
  const button = $("generate");
  const elapsed = $("elapsed");
  let models = [];
  let quoteToken = 0;

  const fill = (select, values, chosen, emptyLabel) => {
    const previous = chosen !== undefined ? chosen : select.value;
    select.textContent = "";
    if (!values.length) {
      const option = new Option(emptyLabel, "");
      select.append(option);
      select.disabled = true;
      return;
    }
    select.disabled = false;
    for (const value of values) select.append(new Option(value, value));
    select.value = values.includes(previous) ? previous : values[0];
  };

  const current = () => models.find((m) => m.id === fields.model.value);

  const applyCapabilities = (defaults = {}) => {
    const model = current();
    if (!model) return;
    const caps = model.imagegate.capabilities;
    fill(fields.size, caps.sizes, defaults.size || (caps.sizes.includes(fields.size.value) ? fields.size.value : caps.sizes.includes("1024x1024") ? "1024x1024" : caps.sizes[0]));
    fill(fields.n, Array.from({ length: caps.max_n }, (_, i) => String(i + 1)), defaults.n);
    fill(fields.quality, caps.qualities, defaults.quality || (caps.qualities.includes("medium") ? "medium" : undefined), "not supported");
    fill(fields.style, caps.styles, defaults.style, "not supported");
    fill(fields.format, caps.output_formats, defaults.format);
    toggleCompression();
  };

  const toggleCompression = () => {
    const compressible = fields.format.value === "webp" || fields.format.value === "jpeg";
    fields.compression.disabled = !compressible;
  };

  const body = () => {
    const request = { model: fields.model.value, prompt: fields.prompt.value, size: fields.size.value, n: Number(fields.n.value), output_format: fields.format.value, response_format: "url" };
    if (!fields.quality.disabled) request.quality = fields.quality.value;
    if (!fields.style.disabled) request.style = fields.style.value;
    if (!fields.compression.disabled) request.output_compression = Number(fields.compression.value);
    return request;
  };

  const refreshQuote = async () => {
    const token = ++quoteToken;
    if (!imagegateKey.get()) { quoteBox.textContent = "Enter a key to see the price."; return null; }
    if (!fields.prompt.value.trim()) { quoteBox.textContent = "Write a prompt to see the price."; return null; }
    quoteBox.textContent = "Pricing…";
    try {
      const { data } = await imagegateApi("/v1/images/quote", { method: "POST", body: JSON.stringify(body()) });
      if (token !== quoteToken) return null;
      const free = data.amount_micros === 0 ? " (free)" : "";
      quoteBox.textContent = `Quote: ${imagegateUsd(data.amount_micros)} for ${data.n} × ${data.size}${free} — held now, charged per delivered image`;
      quoteBox.dataset.amountMicros = String(data.amount_micros);
      return data;
    } catch (error) {
      if (token !== quoteToken) return null;
      quoteBox.textContent = `No quote: ${error.message} (${error.code})`;
      return null;
    }
  };

  let timer = null;
  const scheduleQuote = () => {
    quoteToken += 1;  // an answer for the old body is never shown
    quoteBox.textContent = "Pricing…";
    clearTimeout(timer);
    timer = setTimeout(refreshQuote, 250);
  };

  const show = (data, request, seconds) => {
    results.textContent = "";
    const unit = data.billing ? data.billing.unit_price_micros : 0;
    data.data.forEach((item, index) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = item.url;
      img.alt = `Image ${index + 1} for: ${request.prompt}`;
      img.loading = "eager";
      const caption = document.createElement("figcaption");
      const revised = document.createElement("p");
      revised.className = "revised";
      revised.textContent = `Revised prompt: ${item.revised_prompt || request.prompt}`;
      const facts = document.createElement("p");
      facts.className = "facts";
      facts.textContent = `${request.model} · ${request.size} · ${imagegateUsd(unit)} · ${seconds.toFixed(1)} s`;
      const link = document.createElement("a");
      link.href = item.url;
      link.download = "";
      link.textContent = "Download";
      caption.append(revised, facts, link);
      figure.append(img, caption);
      results.append(figure);
    });
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    if (!imagegateKey.get()) { imagegateShowError(errorBox, { message: "Enter an API key first.", code: "missing_api_key" }); $("api-key").focus(); return; }
    const request = body();
    button.disabled = true;
    const started = performance.now();
    elapsed.hidden = false;
    elapsed.textContent = "0.0 s";
    const tick = setInterval(() => { elapsed.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`; }, 100);
    results.setAttribute("aria-busy", "true");
    try {
      await refreshQuote();
      const { data } = await imagegateApi("/v1/images/generations", { method: "POST", body: JSON.stringify(request) });
      show(data, request, (performance.now() - started) / 1000);
    } catch (error) {
      imagegateShowError(errorBox, error);
    } finally {
      clearInterval(tick);
      elapsed.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
      button.disabled = false;
      results.removeAttribute("aria-busy");
    }
  });

  fields.model.addEventListener("change", () => { applyCapabilities(); scheduleQuote(); });
  fields.format.addEventListener("change", toggleCompression);
  for (const field of Object.values(fields)) {
    field.addEventListener("change", scheduleQuote);
    field.addEventListener("input", scheduleQuote);
  }
  imagegateKey.onChange(scheduleQuote);

  imagegateApi("/v1/models").then(({ data }) => {
    models = data.data;
    const params = new URLSearchParams(location.search);
    fill(fields.model, models.map((m) => m.id), params.get("model") || "gpt-image-2");
    applyCapabilities();
    form.dataset.ready = "true";
    scheduleQuote();
  }, (error) => imagegateShowError(errorBox, error));
})();
